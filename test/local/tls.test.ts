// Local TLS material: created once in the state dir (keys 0600), reused, renewed before expiry.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureLocalTls } from '../../src/local/tls.ts';

const DAY = 24 * 60 * 60 * 1000;
const START = Date.UTC(2026, 0, 1);

describe('ensureLocalTls', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-tls-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('creates a CA and a server certificate for localhost, 127.0.0.1 and ::1, keys readable by the owner only', async () => {
    const tls = await ensureLocalTls(join(dir, 'a'), { now: () => START });
    const ca = new X509Certificate(tls.caPem);
    const server = new X509Certificate(tls.certPem);
    assert.ok(ca.ca);
    assert.ok(server.checkIssued(ca));
    assert.ok(server.verify(ca.publicKey));
    assert.equal(server.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    assert.equal(statSync(tls.files.key).mode & 0o777, 0o600);
    assert.equal(statSync(tls.files.caKey).mode & 0o777, 0o600);
  });

  const later = [
    { name: 'reuses both certificates on a later start', days: 30, sameCa: true, sameServer: true },
    { name: 'replaces the server certificate, keeping the CA, when it is two weeks from expiry', days: 390, sameCa: true, sameServer: false },
    { name: 'replaces both when the CA itself is near its end', days: 3640, sameCa: false, sameServer: false },
  ];
  for (const tc of later) {
    test(tc.name, async () => {
      const stateDir = join(dir, `later-${tc.days}`);
      const first = await ensureLocalTls(stateDir, { now: () => START });
      const second = await ensureLocalTls(stateDir, { now: () => START + tc.days * DAY });
      assert.equal(second.caPem === first.caPem, tc.sameCa);
      assert.equal(second.certPem === first.certPem, tc.sameServer);
      assert.ok(new X509Certificate(second.certPem).checkIssued(new X509Certificate(second.caPem)));
    });
  }
});
