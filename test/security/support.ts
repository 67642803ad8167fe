/**
 * The adversarial suites' fixture: the kube-apiserver stand-in (which records every request
 * it receives, raw headers and body included, and answers in JSON, YAML, protobuf, CBOR,
 * Tables, lists, watches and WebSocket as asked) seeded with Secrets in every place one can
 * hide, and a real Gatehouse (Node HTTPS runtime) in front of it with the policy below.
 *
 * `send` speaks raw HTTP/1.1 to Gatehouse (every byte as written, so a test can send what no
 * well-behaved client would); `upstreamSince` is what the stand-in received after a mark;
 * `recordsOf` reads back the session records of one call.
 */
import { join } from 'node:path';
import { createS3Records } from '../../src/adapters/s3-records.ts';
import { LOCAL_RECORDS_BUCKET, localRecordsDirectory, startLocalS3 } from '../../src/local/s3.ts';
import type { SessionRecord } from '../../src/records/schema.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { rawRequest, type RawOptions, type RawReply } from '../support/raw-https.ts';
import type { ReceivedRequest } from '../stand-in/apiserver.ts';

export const POLICY = `apiVersion: gatehouse/v1
rules:
  - name: no-system-secrets
    effect: deny
    resources: ["secrets"]
    namespaces: ["kube-*"]
    reason: kube-* namespaces hold the cluster's own credentials
  - name: no-prod-deletes
    effect: deny
    verbs: ["delete", "deletecollection"]
    resources: ["*"]
    namespaces: ["prod"]
    reason: production is changed through change management
  - name: discovery
    effect: allow
    verbs: ["get", "head"]
    nonResourceURLs: ["/api", "/api/*", "/apis", "/apis/*", "/openapi/*", "/version"]
  - name: developers
    effect: allow
    groups: [developers]
    verbs: ["*"]
    resources: ["*"]
`;

export const USER = 'mallory@example.com';
export const GROUPS = ['developers'];

/** Secret values seeded in the stand-in; none may leave Gatehouse in any form. */
export const SECRET_VALUES = ['hunter2-default-db-password', 'kube-system-signing-key-9f8e', 'embedded-in-a-configmap-7c1d', 'prod-api-token-55aa'];

/** The forms a value can take on the wire: raw bytes (protobuf, CBOR), base64 (JSON, YAML), base64url. */
export function leakedForms(bytes: Buffer): string[] {
  const found: string[] = [];
  for (const value of SECRET_VALUES) {
    for (const form of [value, Buffer.from(value).toString('base64'), Buffer.from(value).toString('base64url')]) {
      if (bytes.includes(Buffer.from(form))) found.push(form);
    }
  }
  return found;
}

const b64 = (value: string): string => Buffer.from(value).toString('base64');

export interface SecurityFixture {
  h: Harness;
  token: string;
  /** Sends a request: `lines[0]` is the request line; Host, Authorization and (unless `keepAlive`) Connection: close are added. */
  send(lines: string[], body?: Buffer | string, options?: RawOptions & { keepAlive?: boolean; bearer?: string }): Promise<RawReply>;
  /** The session records of one call (by the Audit-Id it was answered with), read back through the S3 adapter. */
  recordsOf(auditId: string | undefined): Promise<SessionRecord[]>;
  mark(): number;
  upstreamSince(from: number): ReceivedRequest[];
  close(): Promise<void>;
}

export async function startSecurityFixture(): Promise<SecurityFixture> {
  const h = await startHarness({ policy: POLICY, user: USER, groups: GROUPS });
  const store = h.api.store;
  for (const ns of ['prod', 'kube-system']) store.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  store.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'default' }, type: 'Opaque', data: { password: b64(SECRET_VALUES[0] as string) } });
  store.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'signing', namespace: 'kube-system' }, type: 'Opaque', data: { key: b64(SECRET_VALUES[1] as string) } });
  store.put({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'bundle', namespace: 'default' },
    data: { note: 'a ConfigMap that carries a Secret manifest (as a custom resource might)' },
    template: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'inner' }, data: { token: b64(SECRET_VALUES[2] as string) } },
  });
  store.put({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'api',
      namespace: 'prod',
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'api', namespace: 'prod' }, stringData: { token: SECRET_VALUES[3] } }) },
    },
    type: 'Opaque',
    data: { token: b64(SECRET_VALUES[3] as string) },
  });
  // An object nested deeper than Gatehouse reads, with a Secret manifest the scanner must walk to.
  store.put(
    JSON.parse(
      `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep","namespace":"prod"},"template":{"kind":"Secret","data":{"k":"${b64(SECRET_VALUES[3] as string)}"}},"x":${'['.repeat(1500)}${']'.repeat(1500)}}`,
    ) as never,
  );
  store.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default' }, spec: { containers: [{ name: 'app', image: 'nginx' }] } });
  const token = await h.gatehouse.devIssuer.mint(USER, GROUPS);
  return {
    h,
    token,
    send(lines, body = '', options = {}) {
      const [requestLine = '', ...rest] = lines;
      const all = [requestLine, 'Host: gatehouse.test', `Authorization: Bearer ${options.bearer ?? token}`, ...(options.keepAlive === true ? [] : ['Connection: close']), ...rest];
      return rawRequest(h.gatehouse.url, h.gatehouse.caPem, all, body, options);
    },
    async recordsOf(auditId) {
      await h.gatehouse.records?.flush();
      const s3 = await startLocalS3({ directory: localRecordsDirectory(join(h.dir, 'state')) });
      try {
        const out: SessionRecord[] = [];
        for await (const r of createS3Records({ bucket: LOCAL_RECORDS_BUCKET, clientConfig: s3.clientConfig }).read({})) if (r.request_id === auditId) out.push(r);
        return out;
      } finally {
        await s3.close();
      }
    },
    mark: () => h.mark(),
    upstreamSince: (from) => h.receivedSince(from),
    close: () => h.close(),
  };
}

/** Header names Gatehouse itself sets on an upstream request. */
const GATEHOUSE_SET = new Set(['host', 'authorization', 'impersonate-user', 'impersonate-group', 'impersonate-uid', 'audit-id', 'content-length', 'connection']);
/** Client header names that may be copied upstream (upstream-headers.ts's allowlist, restated independently). */
const CLIENT_ALLOWED = new Set([
  'accept',
  'accept-encoding',
  'if-none-match',
  'user-agent',
  'kubectl-command',
  'kubectl-session',
  'content-type',
  'upgrade',
  'origin',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'x-stream-protocol-version',
]);

/**
 * Problems with one request the upstream received, as sentences (empty: it is exactly the
 * impersonated call): Gatehouse's own token, the caller as Impersonate-User/Group (once each),
 * Audit-ID = the id Gatehouse answered the client with, and no header outside the allowlist.
 */
export function impersonationProblems(received: ReceivedRequest, token: string, auditId: string | undefined): string[] {
  const problems: string[] = [];
  const raw = received.rawHeaders;
  const values = (name: string): string[] => raw.flatMap((n, i) => (i % 2 === 0 && n.toLowerCase() === name ? [raw[i + 1] as string] : []));
  if (JSON.stringify(values('authorization')) !== JSON.stringify([`Bearer ${token}`])) problems.push(`authorization ${JSON.stringify(values('authorization'))} is not Gatehouse's token alone`);
  if (JSON.stringify(values('impersonate-user')) !== JSON.stringify([USER])) problems.push(`impersonate-user ${JSON.stringify(values('impersonate-user'))}`);
  if (JSON.stringify(values('impersonate-group')) !== JSON.stringify(GROUPS)) problems.push(`impersonate-group ${JSON.stringify(values('impersonate-group'))}`);
  // The uid is the token's subject (the dev issuer's is the user name), never a client's value.
  const uid = values('impersonate-uid');
  if (uid.length > 1 || uid.some((v) => v !== USER)) problems.push(`impersonate-uid ${JSON.stringify(uid)}`);
  if (raw.some((n, i) => i % 2 === 0 && n.toLowerCase().startsWith('impersonate-extra-'))) problems.push('impersonate-extra-* sent');
  const audit = values('audit-id');
  if (audit.length !== 1 || (auditId !== undefined && audit[0] !== auditId)) problems.push(`audit-id ${JSON.stringify(audit)} is not the id Gatehouse answered with (${String(auditId)})`);
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (!GATEHOUSE_SET.has(name) && !CLIENT_ALLOWED.has(name)) problems.push(`header ${raw[i]} is not on the allowlist`);
  }
  return problems;
}

/** The Status in a reply body: code, reason and message. */
export function statusIn(reply: RawReply): { code: number; reason: string; message: string } {
  const text = reply.body.toString('utf8');
  const status = JSON.parse(text) as { kind?: string; code?: number; reason?: string; message?: string };
  if (status.kind !== 'Status') throw new Error(`not a Status: ${text.slice(0, 200)}`);
  return { code: status.code ?? 0, reason: status.reason ?? '', message: status.message ?? '' };
}
