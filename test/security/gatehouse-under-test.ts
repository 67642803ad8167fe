/**
 * The adversarial suites' fixture (tokens, claims, approval links): the real app (createApp)
 * served by the real Node runtime over HTTPS, authenticating with the real OIDC authenticator
 * against an identity provider that serves its JWKS over HTTP (the wire, not a stub), the real
 * policy engine, and as upstream a recording HTTP server standing in for the API server — so
 * every case can say exactly what the cluster received: nothing, or the impersonated call.
 * With `cluster`, the upstream is a real kube-apiserver instead (its audit log says what it received).
 *
 *   const g = await startGatehouseUnderTest({ oidc: { groupsPrefix: 'idp:' } });
 *   const answer = await g.send('GET', '/api/v1/namespaces/default/pods', { authorization: `Bearer ${await g.idp.sign({})}` });
 *   g.upstream.calls   // what reached the "cluster", with the identity it was impersonating
 *   await g.close();
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Hono } from 'hono';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { CryptoKey, JWK, JWTPayload } from 'jose';
import { createApp } from '../../src/app.ts';
import type { GatehouseDeps } from '../../src/app.ts';
import { createOidcAuthenticator } from '../../src/auth/oidc.ts';
import { parseConfig, type OidcConfig } from '../../src/config.ts';
import { closeUpstreamAgents } from '../../src/pipeline/forward.ts';
import { loadPolicyFile } from '../../src/policy/policy-file.ts';
import { startNodeServer, type NodeServer } from '../../src/runtime/node-server.ts';
import type { Clock } from '../../src/types.ts';
import type { RealCluster } from '../kube/cluster.ts';
import { createTestCertificates } from '../stand-in/tls.ts';
import { request, type Answer } from '../support/https-client.ts';

export const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
export const NOW_S = NOW / 1000;

/** The policy the suites run under: dev reads pods in default, deletes in prod are reviewed, the rest denied. */
export const SECURITY_POLICY = `apiVersion: gatehouse/v1
rules:
  - name: dev-reads-pods
    effect: allow
    groups: ["dev", "idp:dev"]
    verbs: ["get", "list", "watch"]
    resources: ["pods"]
    namespaces: ["default"]
  - name: prod-deletes-need-approval
    effect: review
    groups: ["dev"]
    verbs: ["delete"]
    resources: ["configmaps"]
    namespaces: ["prod"]
    reason: "deleting in prod needs a second person"
    review:
      approvers: ["bob@example.com", "alice@example.com"]
      grant: once
`;

export interface SigningKey {
  alg: string;
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function signingKey(alg: string, kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg } };
}

/** An identity provider as Gatehouse sees it: a JWKS over HTTP, and the keys to sign tokens. */
export interface TestIdp {
  issuer: string;
  jwksUri: string;
  rsa: SigningKey;
  ec: SigningKey;
  /** A key the JWKS does not publish. */
  stray: SigningKey;
  /** Whether the JWKS endpoint answers (false: 503). */
  up: boolean;
  baseClaims(): JWTPayload;
  /** A token with the base claims changed by `changes` (undefined removes a claim), signed by `key` (default ec). */
  sign(changes?: Record<string, unknown>, key?: SigningKey, header?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

export async function startTestIdp(): Promise<TestIdp> {
  const [rsa, ec, stray] = await Promise.all([signingKey('RS256', 'rsa-1'), signingKey('ES256', 'ec-1'), signingKey('ES256', 'stray-1')]);
  const server = createServer((req, res) => {
    if (req.url === '/jwks' && idp.up) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [rsa.publicJwk, ec.publicJwk] }));
      return;
    }
    res.writeHead(503, { 'content-type': 'application/json' });
    res.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const idp: TestIdp = {
    issuer: base,
    jwksUri: `${base}/jwks`,
    rsa,
    ec,
    stray,
    up: true,
    baseClaims: () => ({ iss: base, aud: 'gatehouse', sub: 'u-alice', email: 'alice@example.com', groups: ['dev'], iat: NOW_S, exp: NOW_S + 600 }),
    async sign(changes = {}, key = ec, header = {}) {
      const claims = Object.fromEntries(Object.entries({ ...idp.baseClaims(), ...changes }).filter(([, v]) => v !== undefined));
      return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, ...header }).sign(key.privateKey);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  return idp;
}

/** One request as the "cluster" received it. */
export interface UpstreamCall {
  method: string;
  /** Path and query exactly as received. */
  url: string;
  /** Header names (lower case) → every value in order. */
  headers: Record<string, string[]>;
  body: string;
  /** Impersonate-User, or "" without one. */
  user: string;
  groups: string[];
}

/**
 * The API server's place: keeps every request it got and answers 200 with a small object —
 * or as `answer` says (a test's hook for streams and failures). HTTPS when given TLS material.
 */
export class RecordingUpstream {
  calls: UpstreamCall[] = [];
  url = '';
  answer: ((call: UpstreamCall, res: ServerResponse) => boolean) | undefined;
  private server: Server;

  constructor(tls?: { cert: string; key: string }) {
    const handler = (req: IncomingMessage, res: ServerResponse): void => void this.handle(req, res);
    this.server = tls === undefined ? createServer(handler) : createHttpsServer({ cert: tls.cert, key: tls.key }, handler);
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const scheme = this.server instanceof HttpsServer ? 'https' : 'http';
    this.url = `${scheme}://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers: Record<string, string[]> = {};
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) (headers[(req.rawHeaders[i] ?? '').toLowerCase()] ??= []).push(req.rawHeaders[i + 1] ?? '');
    const call: UpstreamCall = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers,
      body: Buffer.concat(chunks).toString('utf8'),
      user: headers['impersonate-user']?.[0] ?? '',
      groups: headers['impersonate-group'] ?? [],
    };
    this.calls.push(call);
    if (this.answer?.(call, res) === true) return;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: {}, items: [] }));
  }
}

export interface GatehouseUnderTest {
  url: string;
  /** The app itself, for requests a Lambda event would make (`app.request(url, init, env)`). */
  app: Hono;
  idp: TestIdp;
  upstream: RecordingUpstream;
  /** Sends one HTTPS request to Gatehouse; header values given as arrays go out as repeated lines. */
  send(method: string, path: string, headers?: Record<string, string | string[]>, body?: string): Promise<Answer>;
  close(): Promise<void>;
}

export interface GatehouseUnderTestOptions {
  oidc?: Partial<OidcConfig>;
  /** The recording upstream to use, left open at close (default: a plain HTTP one made and closed here). */
  upstream?: RecordingUpstream;
  /** Forward to this real kube-apiserver (test/kube/cluster.ts) as Gatehouse's own identity instead; `upstream` then records nothing. */
  cluster?: Pick<RealCluster, 'url' | 'caPem' | 'gatehouseToken'>;
  clock?: Clock;
  /** Replaces parts of the app (approvals for the link suites). */
  deps?: Partial<GatehouseDeps>;
}

export async function startGatehouseUnderTest(options: GatehouseUnderTestOptions = {}): Promise<GatehouseUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-security-'));
  const policyFile = join(dir, 'policy.yaml');
  writeFileSync(policyFile, SECURITY_POLICY);
  const idp = await startTestIdp();
  const ownsUpstream = options.upstream === undefined;
  const upstream = options.upstream ?? new RecordingUpstream();
  if (upstream.url === '') await upstream.listen();
  const clock = options.clock ?? { now: () => NOW };
  // The oidc section goes through the real config schema: defaults and start-up checks apply.
  const config = parseConfig(
    { oidc: { issuer: idp.issuer, audience: 'gatehouse', jwksUri: idp.jwksUri, ...options.oidc }, upstream: { kind: 'kubeconfig' }, policy: { file: policyFile } },
    'security suite',
  );
  const app = createApp({
    authenticator: createOidcAuthenticator(config.oidc, { clock, log: () => undefined }),
    policy: loadPolicyFile(policyFile),
    upstream: {
      connection: async () =>
        options.cluster === undefined
          ? { server: new URL(upstream.url) }
          : { server: new URL(options.cluster.url), ca: options.cluster.caPem, token: options.cluster.gatehouseToken },
    },
    runtime: 'node',
    upstreamTimeoutSeconds: 10,
    clock,
    ...options.deps,
  });
  const tls = await createTestCertificates('127.0.0.1');
  let server: NodeServer;
  try {
    server = await startNodeServer({ app, host: '127.0.0.1', port: 0, tls: { cert: tls.certPem, key: tls.keyPem } });
  } catch (error) {
    await Promise.all([idp.close(), ownsUpstream ? upstream.close() : undefined]);
    throw error;
  }
  return {
    url: server.url,
    app,
    idp,
    upstream,
    // The TLS name stays 127.0.0.1 whatever Host header a case sends (Node would take it from Host).
    send: (method, path, headers = {}, body) =>
      request(`${server.url}${path}`, { ca: tls.caPem, method, headers, servername: 'localhost', ...(body === undefined ? {} : { body }) }),
    async close() {
      await server.close();
      await Promise.all([idp.close(), ownsUpstream ? upstream.close() : undefined]);
      closeUpstreamAgents();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The Status a refusal carries, read strictly. */
export function refusalOf(answer: Answer): { code: number; reason: string; message: string } {
  const status = answer.json<{ kind: string; code: number; reason: string; message: string }>();
  if (status.kind !== 'Status') throw new Error(`not a Status: ${answer.text.slice(0, 200)}`);
  return { code: status.code, reason: status.reason, message: status.message };
}
