/**
 * The adversarial suites' fixture, on one of two targets — the same cases run on both:
 *
 * - the kube-apiserver stand-in, which records every request it receives (raw headers and
 *   body) and answers in JSON, YAML, protobuf, CBOR, Tables, lists, watches and WebSocket as
 *   asked — or, told to misbehave, in a media type nobody asked for;
 * - a REAL kube-apiserver (test/kube/cluster.ts), whose audit log says what it received: each
 *   call's Audit-ID, the identity it authenticated (Gatehouse's own), whom it impersonated,
 *   verb and URI. It serves Secrets in JSON, YAML, protobuf, CBOR (the alpha gate is on) and
 *   watches over WebSocket; custom resources stand in where the stand-in keeps extra fields of a
 *   ConfigMap (the real server prunes them).
 *
 * Both are seeded with Secrets in every place one can hide, and a real Gatehouse (Node HTTPS
 * runtime) runs in front with the policy below. `send` speaks raw HTTP/1.1 to Gatehouse (every
 * byte as written, so a test can send what no well-behaved client would); `seenSince` is what
 * the cluster received after a mark; `direct` asks the cluster itself, as someone allowed to
 * read everything the caller may; `recordsOf` reads back the session records of one call.
 */
import { join } from 'node:path';
import { createS3Records } from '../../src/adapters/s3-records.ts';
import { LOCAL_RECORDS_BUCKET, localRecordsDirectory, startLocalS3 } from '../../src/local/s3.ts';
import type { SessionRecord } from '../../src/records/schema.ts';
import { startGatehouseFront, startHarness, type GatehouseFront, type Harness } from '../support/harness.ts';
import { request } from '../support/https-client.ts';
import { rawRequest, type RawOptions, type RawReply } from '../support/raw-https.ts';
import type { ReceivedRequest } from '../stand-in/apiserver.ts';
import { startRealCluster, type AuditEvent, type RealCluster } from '../kube/cluster.ts';

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
const BASE = '/api/v1/namespaces/default';

/** Where a case finds an object, and how Gatehouse names it in a message. */
export interface Place {
  path: string;
  subject: string;
  /** The list the object is in. */
  list: string;
  listSubject: string;
}

export interface SecurityTarget {
  /** In test names: "the stand-in" or "a real kube-apiserver". */
  name: string;
  real: boolean;
  /**
   * An object that embeds a Secret manifest: a ConfigMap with an extra field on the stand-in
   * (which keeps any field), a custom resource on the real server (which prunes unknown fields
   * of built-in kinds, and keeps them where a CRD says so — as operators' resources do).
   */
  embedded: Place;
}

const BUNDLES = '/apis/gatehouse.test/v1/namespaces';
export const STAND_IN: SecurityTarget = {
  name: 'the stand-in',
  real: false,
  embedded: { path: `${BASE}/configmaps/bundle`, subject: 'configmaps "bundle" in namespace "default"', list: `${BASE}/configmaps`, listSubject: 'configmaps in namespace "default"' },
};
export const REAL: SecurityTarget = {
  name: 'a real kube-apiserver',
  real: true,
  embedded: { path: `${BUNDLES}/default/bundles/bundle`, subject: 'bundles.gatehouse.test "bundle" in namespace "default"', list: `${BUNDLES}/default/bundles`, listSubject: 'bundles.gatehouse.test in namespace "default"' },
};
export const TARGETS = [STAND_IN, REAL];

/** A CRD whose objects keep any field (x-kubernetes-preserve-unknown-fields), so one can carry a Secret manifest. */
const BUNDLE_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'bundles.gatehouse.test' },
  spec: {
    group: 'gatehouse.test',
    scope: 'Namespaced',
    names: { plural: 'bundles', singular: 'bundle', kind: 'Bundle', listKind: 'BundleList' },
    versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
  },
};
/** Lets its holders read and write Bundles (bound to the caller's group in default and prod). */
const BUNDLE_ROLE = {
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'ClusterRole',
  metadata: { name: 'gatehouse-test-bundles' },
  rules: [{ apiGroups: ['gatehouse.test'], resources: ['bundles'], verbs: ['*'] }],
};

type KubeObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; annotations?: Record<string, string> } } & Record<string, unknown>;

const innerSecret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'inner' }, data: { token: b64(SECRET_VALUES[2] as string) } };
/** The objects every target holds; the holders of embedded and deep manifests depend on the target. */
function seedObjects(t: SecurityTarget): KubeObject[] {
  const holder = (name: string, namespace: string): Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'> =>
    t.real ? { apiVersion: 'gatehouse.test/v1', kind: 'Bundle', metadata: { name, namespace } } : { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace } };
  return [
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'default' }, type: 'Opaque', data: { password: b64(SECRET_VALUES[0] as string) } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'signing', namespace: 'kube-system' }, type: 'Opaque', data: { key: b64(SECRET_VALUES[1] as string) } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'bundle', namespace: 'default' }, data: { note: 'a ConfigMap that callers read and write' } },
    { ...holder('bundle', 'default'), data: { note: 'an object that carries a Secret manifest (as a custom resource might)' }, template: innerSecret },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 'api',
        namespace: 'prod',
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'api', namespace: 'prod' }, stringData: { token: SECRET_VALUES[3] } }) },
      },
      type: 'Opaque',
      data: { token: b64(SECRET_VALUES[3] as string) },
    },
    // Nested deeper than Gatehouse reads, with a Secret manifest the scanner must walk to. Only on
    // the stand-in: with CBOR on, the real server refuses to store anything nested deeper than 64.
    ...(t.real
      ? []
      : [{ ...holder('deep', 'prod'), template: { kind: 'Secret', data: { k: b64(SECRET_VALUES[3] as string) } }, x: JSON.parse(`${'['.repeat(1500)}${']'.repeat(1500)}`) as unknown }]),
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default' }, spec: { containers: [{ name: 'app', image: 'nginx' }] } },
  ];
}

/** The collection an object is created in. */
function collectionOf(object: KubeObject): string {
  const [group, version] = object.apiVersion.includes('/') ? object.apiVersion.split('/') : [undefined, object.apiVersion];
  const plural = `${object.kind.toLowerCase()}s`;
  return `${group === undefined ? `/api/${version}` : `/apis/${group}/${version}`}/namespaces/${object.metadata.namespace ?? 'default'}/${plural}`;
}

/** What the cluster received of one call. */
export interface SeenCall {
  /**
   * The HTTP method: as received by the stand-in; read from the audit verb on the real server
   * (get, list and watch read as GET — a HEAD is a get there too).
   */
  method: string;
  path: string;
  /** The query string, without "?". */
  query: string;
  /** The stand-in's raw record of the request (headers, body). */
  received?: ReceivedRequest;
  /** The real server's audit event. */
  event?: AuditEvent;
}

export interface SecurityFixture {
  target: SecurityTarget;
  front: GatehouseFront;
  token: string;
  /** Sends a request: `lines[0]` is the request line; Host, Authorization and (unless `keepAlive`) Connection: close are added. */
  send(lines: string[], body?: Buffer | string, options?: RawOptions & { keepAlive?: boolean; bearer?: string }): Promise<RawReply>;
  /** The same request sent to the cluster directly, as the caller (impersonated by an identity that may), without Gatehouse. */
  direct(lines: string[], options?: RawOptions): Promise<RawReply>;
  /** The session records of one call (by the Audit-Id it was answered with), read back through the S3 adapter. */
  recordsOf(auditId: string | undefined): Promise<SessionRecord[]>;
  mark(): number;
  /** What the cluster received since `mark()` returned `from` (on the real server, once its audit log has caught up). */
  seenSince(from: number): Promise<SeenCall[]>;
  /** Problems with one call the cluster received, as sentences (empty: it is exactly the impersonated call answered with `auditId`). */
  impersonationProblems(call: SeenCall, auditId: string | undefined): string[];
  /** The stand-in only: answer as if `accept` were asked, whatever was (undefined: behave). */
  misbehave(accept: string | undefined): void;
  close(): Promise<void>;
}

export async function startSecurityFixture(target: SecurityTarget): Promise<SecurityFixture> {
  return target.real ? startOnRealServer(target) : startOnStandIn(target);
}

async function fixture(
  target: SecurityTarget,
  front: GatehouseFront,
  rest: Pick<SecurityFixture, 'direct' | 'mark' | 'seenSince' | 'impersonationProblems' | 'misbehave' | 'close'>,
): Promise<SecurityFixture> {
  const token = await front.gatehouse.devIssuer.mint(USER, GROUPS);
  return {
    target,
    front,
    token,
    send(lines, body = '', options = {}) {
      const [requestLine = '', ...others] = lines;
      const all = [requestLine, 'Host: gatehouse.test', `Authorization: Bearer ${options.bearer ?? token}`, ...(options.keepAlive === true ? [] : ['Connection: close']), ...others];
      return rawRequest(front.gatehouse.url, front.gatehouse.caPem, all, body, options);
    },
    async recordsOf(auditId) {
      await front.gatehouse.records?.flush();
      const s3 = await startLocalS3({ directory: localRecordsDirectory(join(front.dir, 'state')) });
      try {
        const out: SessionRecord[] = [];
        for await (const r of createS3Records({ bucket: LOCAL_RECORDS_BUCKET, clientConfig: s3.clientConfig }).read({})) if (r.request_id === auditId) out.push(r);
        return out;
      } finally {
        await s3.close();
      }
    },
    ...rest,
  };
}

/** The caller, as an identity allowed to impersonate says it. */
const AS_CALLER = [`Impersonate-User: ${USER}`, ...GROUPS.map((g) => `Impersonate-Group: ${g}`)];
const directLines = (lines: string[], host: string, token: string): string[] => {
  const [requestLine = '', ...others] = lines;
  const connection = others.some((line) => /^connection:/i.test(line)) ? [] : ['Connection: close'];
  return [requestLine, `Host: ${host}`, `Authorization: Bearer ${token}`, ...connection, ...AS_CALLER, ...others];
};

async function startOnStandIn(target: SecurityTarget): Promise<SecurityFixture> {
  const h: Harness = await startHarness({ policy: POLICY, user: USER, groups: GROUPS });
  for (const ns of ['prod', 'kube-system']) h.api.store.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  // The ConfigMap "bundle" is both the plain one and the embedding one here: the stand-in keeps any field.
  for (const object of seedObjects(target).filter((o) => !(o.kind === 'ConfigMap' && o.metadata.name === 'bundle' && o['template'] === undefined))) h.api.store.put(object as never);
  return fixture(target, h, {
    direct: (lines, options) => rawRequest(h.api.url, h.api.caPem, directLines(lines, new URL(h.api.url).host, h.api.token), '', options),
    mark: () => h.mark(),
    seenSince: async (from) => h.receivedSince(from).map((received) => ({ method: received.method, path: received.path, query: received.query, received })),
    impersonationProblems: (call, auditId) => (call.received === undefined ? ['not a stand-in call'] : impersonationProblems(call.received, h.api.token, auditId)),
    misbehave(accept) {
      if (accept === undefined) delete h.api.misbehave.accept;
      else h.api.misbehave.accept = accept;
    },
    close: () => h.close(),
  });
}

const METHOD_OF_VERB: Record<string, string> = { create: 'POST', update: 'PUT', patch: 'PATCH', delete: 'DELETE', deletecollection: 'DELETE' };

async function startOnRealServer(target: SecurityTarget): Promise<SecurityFixture> {
  const cluster = await startRealCluster({
    namespaces: ['prod'],
    bindings: ['default', 'prod'].flatMap((namespace) => [
      { namespace, role: 'edit', group: GROUPS[0] as string },
      { namespace, role: BUNDLE_ROLE.metadata.name, group: GROUPS[0] as string },
    ]),
    audit: true,
    featureGates: { CBORServingAndStorage: true },
  });
  let front: GatehouseFront | undefined;
  try {
    await cluster.admin('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', BUNDLE_CRD);
    await cluster.admin('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', BUNDLE_ROLE);
    await waitForCollection(cluster, `${BUNDLES}/default/bundles`);
    for (const object of seedObjects(target)) await cluster.admin('POST', collectionOf(object), object);
    front = await startGatehouseFront(cluster.gatehouseKubeconfigPath, { policy: POLICY, user: USER, groups: GROUPS });
  } catch (error) {
    await cluster.close();
    throw error;
  }
  const host = new URL(cluster.url).host;
  let barriers = 0;
  const gatehouseCalls = (from: number): AuditEvent[] => cluster.auditEvents().slice(from);
  const started = front;
  return fixture(target, front, {
    direct: (lines, options) => rawRequest(cluster.url, cluster.caPem, directLines(lines, host, cluster.adminToken), '', options),
    mark: () => cluster.auditEvents().length,
    async seenSince(from) {
      // The audit log is written as each call completes: a call of the admin's, sent now, is in it once everything before it is.
      const barrier = `barrier-${++barriers}-${Date.now()}`;
      await request(`${cluster.url}/version`, { ca: cluster.caPem, headers: { authorization: `Bearer ${cluster.adminToken}`, 'audit-id': barrier } });
      for (let waited = 0; !cluster.auditEvents().some((e) => e.auditID === barrier); waited += 20) {
        if (waited > 10_000) throw new Error(`the real kube-apiserver's audit log did not record call ${barrier} within 10 s`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return gatehouseCalls(from)
        .filter((event) => event.user.username === 'gatehouse')
        .map((event) => {
          const [path = '', query = ''] = event.requestURI.split('?', 2);
          return { method: METHOD_OF_VERB[event.verb] ?? 'GET', path, query, event };
        });
    },
    impersonationProblems: (call, auditId) => (call.event === undefined ? ['not a real-server call'] : auditedImpersonationProblems(call.event, auditId)),
    misbehave(accept) {
      if (accept !== undefined) throw new Error('a real kube-apiserver cannot be told to misbehave; the case belongs to the stand-in');
    },
    async close() {
      await started.close();
      await cluster.close();
    },
  });
}

/** Waits until the API server serves a new custom resource's collection (the CRD is established). */
async function waitForCollection(cluster: RealCluster, path: string): Promise<void> {
  for (let waited = 0; ; waited += 100) {
    const answer = await request(`${cluster.url}${path}`, { ca: cluster.caPem, headers: { authorization: `Bearer ${cluster.adminToken}` } });
    if (answer.status === 200) return;
    if (waited > 30_000) throw new Error(`${path} not served 30 s after its CRD was created: ${answer.status} ${answer.text.slice(0, 200)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The real server's view of one call Gatehouse made, judged like the stand-in's raw record:
 * authenticated as Gatehouse's own identity, impersonating exactly the caller (user, groups,
 * uid; the server adds system:authenticated), and audited under the id Gatehouse answered the
 * client with (the API server adopts a request's Audit-ID).
 */
function auditedImpersonationProblems(event: AuditEvent, auditId: string | undefined): string[] {
  const problems: string[] = [];
  if (event.user.username !== 'gatehouse') problems.push(`authenticated as ${JSON.stringify(event.user.username)}, not Gatehouse's own identity`);
  const as = event.impersonatedUser;
  if (as?.username !== USER) problems.push(`impersonated user ${JSON.stringify(as?.username)}`);
  const groups = (as?.groups ?? []).filter((g) => g !== 'system:authenticated');
  if (JSON.stringify(groups) !== JSON.stringify(GROUPS)) problems.push(`impersonated groups ${JSON.stringify(as?.groups)}`);
  if (as?.uid !== undefined && as.uid !== USER) problems.push(`impersonated uid ${JSON.stringify(as.uid)}`);
  if (auditId === undefined || event.auditID !== auditId) problems.push(`audit id ${JSON.stringify(event.auditID)} is not the id Gatehouse answered with (${String(auditId)})`);
  return problems;
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
