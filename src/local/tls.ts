/**
 * TLS for the local runtime. kubectl sends tokens only over HTTPS, so a local Gatehouse
 * needs a certificate kubectl can verify: on first start this creates, in the state dir, a
 * small local CA and a server certificate (signed by it) for localhost, 127.0.0.1 and ::1.
 * Later starts reuse them; a certificate close to expiry (or a missing file) is replaced.
 * Private keys are written mode 0600. The CA goes into the users' kubeconfig.
 */
import { X509Certificate, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import type { Clock } from '../types.ts';
import { systemClock } from '../types.ts';

export interface LocalTls {
  caPem: string;
  certPem: string;
  keyPem: string;
  /** Paths of the files, for the start-up banner and docs. */
  files: { ca: string; caKey: string; cert: string; key: string };
}

const DAY_MS = 24 * 60 * 60 * 1000;
const CA_DAYS = 3650;
const SERVER_DAYS = 397;
/** Replace a certificate this close to its end, so a running session does not see it expire. */
const RENEW_BEFORE_MS = 14 * DAY_MS;

export async function ensureLocalTls(stateDir: string, clock: Clock = systemClock): Promise<LocalTls> {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const files = {
    ca: join(stateDir, 'ca.crt'),
    caKey: join(stateDir, 'ca.key'),
    cert: join(stateDir, 'tls.crt'),
    key: join(stateDir, 'tls.key'),
  };
  const now = clock.now();

  let ca = readPair(files.ca, files.caKey, now);
  let server = ca === undefined ? undefined : readPair(files.cert, files.key, now);
  if (server !== undefined && ca !== undefined && !new X509Certificate(server.cert).checkIssued(new X509Certificate(ca.cert))) {
    server = undefined;
  }

  if (ca === undefined) {
    // A unique name per CA, so verifiers never confuse two installations' CAs.
    const name = `Gatehouse local CA ${randomBytes(4).toString('hex')}`;
    const created = await generate([{ name: 'commonName', value: name }], {
      keyType: 'ec',
      algorithm: 'sha256',
      notBeforeDate: new Date(now - 60_000),
      notAfterDate: new Date(now + CA_DAYS * DAY_MS),
      extensions: [
        { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
      ],
    });
    ca = { cert: created.cert, key: created.private };
    writePair(files.ca, files.caKey, ca);
  }
  if (server === undefined) {
    const created = await generate([{ name: 'commonName', value: 'localhost' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      notBeforeDate: new Date(now - 60_000),
      notAfterDate: new Date(now + SERVER_DAYS * DAY_MS),
      ca: { cert: ca.cert, key: ca.key },
      extensions: [
        { name: 'basicConstraints', cA: false, critical: true },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: [
            { type: 2, value: 'localhost' },
            { type: 7, ip: '127.0.0.1' },
            { type: 7, ip: '::1' },
          ],
        },
      ],
    });
    server = { cert: created.cert, key: created.private };
    writePair(files.cert, files.key, server);
  }
  return { caPem: ca.cert, certPem: server.cert, keyPem: server.key, files };
}

interface Pair {
  cert: string;
  key: string;
}

/** A stored certificate and key, or undefined when missing, unreadable or near expiry. */
function readPair(certPath: string, keyPath: string, now: number): Pair | undefined {
  if (!existsSync(certPath) || !existsSync(keyPath)) return undefined;
  try {
    const cert = readFileSync(certPath, 'utf8');
    const key = readFileSync(keyPath, 'utf8');
    const x509 = new X509Certificate(cert);
    if (Date.parse(x509.validTo) - RENEW_BEFORE_MS < now || Date.parse(x509.validFrom) > now + 60_000) return undefined;
    return { cert, key };
  } catch {
    return undefined;
  }
}

function writePair(certPath: string, keyPath: string, pair: Pair): void {
  writeFileSync(keyPath, pair.key, { mode: 0o600 });
  chmodSync(keyPath, 0o600);
  writeFileSync(certPath, pair.cert, { mode: 0o644 });
}
