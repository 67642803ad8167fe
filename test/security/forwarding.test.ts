// Adversarial cases for the protocol edge (issue 12, "Forwarding is an allowlist"): headers,
// upgrades, methods, paths, bodies and media types, sent as raw bytes to a real Gatehouse in
// front of the kube-apiserver stand-in. Each case asserts the exact status (and for a refusal
// its reason and message) AND what the upstream received: nothing, or exactly the
// impersonated call — Gatehouse's token, the caller as Impersonate-User/Group, Audit-ID equal
// to the id the client got back, and no header off the allowlist. No Secret value leaves in
// any form, in any case.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { realClusterSkip, type AuditEvent } from '../kube/cluster.ts';
import type { ReceivedRequest } from '../stand-in/apiserver.ts';
import { placeholderBase64, placeholderText } from '../../src/masking/placeholder.ts';
import { websocketMessages, type RawReply } from '../support/raw-https.ts';
import { GROUPS, leakedForms, SECRET_VALUES, startSecurityFixture, statusIn, TARGETS, USER, type SecurityFixture, type SecurityTarget, type SeenCall } from './support.ts';

interface Case {
  name: string;
  /** Request line, then headers (Host, Authorization and Connection: close are added). */
  lines: string[];
  body?: string | Buffer;
  status: number;
  /** For a refusal: the Status reason and message (exact, or a pattern for messages naming generated ids). */
  reason?: string;
  message?: string | RegExp;
  /**
   * What the cluster received: nothing, or exactly this one call, impersonated. `check` reads
   * the stand-in's raw record of it (headers, body); `audited` the real server's audit event
   * (which has neither, but the User-Agent).
   */
  upstream: 'nothing' | { method: string; path: string; check?: (received: ReceivedRequest) => void; audited?: (event: AuditEvent) => void };
  /** More about the answer. */
  reply?: (reply: RawReply) => void;
  /** A forced media type the stand-in answers in, whatever was asked. */
  misbehave?: string;
  options?: { until?: (bytes: Buffer) => boolean; keepAlive?: boolean; bearer?: string };
  /**
   * Headers (and `body`, if any) only: the rest of the body the request announces never comes,
   * and the client asks for keep-alive and never closes. The answer must arrive while the
   * socket is open, and Gatehouse must close the connection after it (`Connection: close`).
   */
  withholdBody?: true;
  /** The call's one session record: an outcome with this status and error code (and request_body_bytes, when given). */
  recorded?: { error: string; message?: string; bodyBytes?: number; bodyNote?: string };
  /** Why the case runs against the stand-in only (listed in docs/testing.md). */
  standInOnly?: string;
  /** What the real kube-apiserver answers differently from the stand-in (the upstream's own answer). */
  real?: Partial<Pick<Case, 'status' | 'reason' | 'message' | 'reply'>>;
}

const BASE = '/api/v1/namespaces/default';
const header = (received: ReceivedRequest, name: string): string[] =>
  received.rawHeaders.flatMap((n, i) => (i % 2 === 0 && n.toLowerCase() === name ? [received.rawHeaders[i + 1] as string] : []));
const bodyText = (reply: RawReply): string => reply.body.toString('utf8');

async function run(f: SecurityFixture, c: Case): Promise<void> {
  f.misbehave(c.misbehave);
  const from = f.mark();
  let reply: RawReply;
  try {
    reply = await f.send(c.lines, c.body ?? '', { timeoutMs: 30_000, ...(c.withholdBody === true ? { keepAlive: true } : {}), ...c.options });
  } finally {
    f.misbehave(undefined);
  }
  const seen = await f.seenSince(from);
  assert.equal(reply.status, c.status, `status; body: ${bodyText(reply).slice(0, 300)}`);
  if (c.reason !== undefined) {
    const status = statusIn(reply);
    assert.equal(status.code, c.status);
    assert.equal(status.reason, c.reason);
    if (typeof c.message === 'string') assert.equal(status.message, c.message);
    else if (c.message !== undefined) assert.match(status.message, c.message);
  }
  assert.deepEqual(leakedForms(reply.raw), [], 'a Secret value left Gatehouse');
  if (c.upstream === 'nothing') {
    assert.deepEqual(seen.map((r) => `${r.method} ${r.path}`), [], 'the cluster received a request');
  } else {
    // The real server's audit log records verbs: a HEAD is a get there.
    const method = f.target.real && c.upstream.method === 'HEAD' ? 'GET' : c.upstream.method;
    assert.deepEqual(seen.map((r) => `${r.method} ${r.path}`), [`${method} ${c.upstream.path}`]);
    const call = seen[0];
    assert.ok(call !== undefined);
    assert.deepEqual(f.impersonationProblems(call, reply.headers['audit-id']), []);
    if (call.received !== undefined) c.upstream.check?.(call.received);
    if (call.event !== undefined) c.upstream.audited?.(call.event);
  }
  if (c.withholdBody === true) {
    assert.equal(reply.ended, 'closed', 'Gatehouse did not answer and close the connection while the body was withheld');
    assert.equal(reply.headers['connection'], 'close');
  }
  if (c.recorded !== undefined) {
    const records = await f.recordsOf(reply.headers['audit-id']);
    assert.deepEqual(
      records.map((r) => [r.phase, r.status_code, r.error_code]),
      [['outcome', c.status, c.recorded.error]],
    );
    if (c.recorded.bodyBytes !== undefined) assert.equal(Number(records[0]?.request_body_bytes), c.recorded.bodyBytes);
    if (c.recorded.bodyNote !== undefined) assert.equal(records[0]?.request_body, c.recorded.bodyNote);
    if (c.recorded.message !== undefined) assert.equal(records[0]?.error_message, c.recorded.message);
  }
  c.reply?.(reply);
}

/** The tables, registered below once per target; a table that names target-specific objects is a function of the target. */
const TABLES: { title: string; cases: (t: SecurityTarget) => Case[] }[] = [];
function table(title: string, cases: Case[] | ((t: SecurityTarget) => Case[])): void {
  TABLES.push({ title, cases: typeof cases === 'function' ? cases : () => cases });
}

// ─── headers ────────────────────────────────────────────────────────────────

const DROPPED: [string, string][] = [
  ['X-Remote-User', 'system:admin'],
  ['X-Remote-Group', 'system:masters'],
  ['X-Remote-Extra-Scopes', 'cluster-admin'],
  ['X-Remote-Uid', '0'],
  ['X-Forwarded-For', '10.0.0.1'],
  ['X-Forwarded-Host', 'evil.example'],
  ['X-Forwarded-Proto', 'http'],
  ['X-Forwarded-User', 'admin'],
  ['X-Forwarded-Groups', 'system:masters'],
  ['X-Real-Ip', '10.0.0.2'],
  ['Forwarded', 'for=10.0.0.3;host=evil.example'],
  ['Audit-Id', 'client-chosen-audit-id'],
  ['Cookie', 'session=stolen'],
  ['Proxy-Authorization', 'Basic YWRtaW46YWRtaW4='],
  ['Via', '1.1 attacker'],
  ['X-Request-Id', 'client-request-id'],
  ['X-Http-Method-Override', 'DELETE'],
  ['X-Original-Url', '/api/v1/namespaces/kube-system/secrets'],
  ['X-Rewrite-Url', '/api/v1/namespaces/kube-system/secrets'],
  ['X-Client-Cert', 'MIIB…'],
  ['Ssl-Client-Cert', 'MIIB…'],
  ['X-Amz-Security-Token', 'FQoGZX…'],
  ['Origin', 'https://evil.example'],
  ['Sec-WebSocket-Protocol', 'base64.binary.k8s.io'],
  ['X-Stream-Protocol-Version', 'v4.channel.k8s.io'],
  ['Content-Type', 'application/json'],
  ['Cache-Control', 'no-cache'],
  ['Te', 'trailers'],
  ['Referer', 'https://evil.example/'],
  ['X-Kubernetes-Pf-Name', 'x'],
];

const KEPT: [string, string, string][] = [
  ['User-Agent', 'kubectl/v1.33.0 (linux/amd64) kubernetes/abcdef', `${BASE}/configmaps/bundle`],
  ['Kubectl-Command', 'kubectl get', `${BASE}/configmaps/bundle`],
  ['Kubectl-Session', '0f8fad5b-d9cb-469f-a165-70867728950e', `${BASE}/configmaps/bundle`],
  ['Accept-Encoding', 'gzip', '/version'],
  ['If-None-Match', '"abc123"', '/openapi/v2'],
  ['Accept', 'application/json, */*', '/version'],
];

table('request headers: only the allowlist reaches the upstream', [
  ...DROPPED.map(([name, value]): Case => ({
    name: `drops a client ${name} header`,
    lines: [`GET ${BASE}/configmaps/bundle HTTP/1.1`, `${name}: ${value}`],
    status: 200,
    upstream: {
      method: 'GET',
      path: `${BASE}/configmaps/bundle`,
      check: (r) => assert.deepEqual(name.toLowerCase() === 'audit-id' ? header(r, 'audit-id').filter((v) => v === value) : header(r, name.toLowerCase()), []),
    },
  })),
  ...KEPT.map(([name, value, path]): Case => ({
    name: `forwards a client ${name} header as sent`,
    lines: [`GET ${path} HTTP/1.1`, `${name}: ${value}`],
    status: path === '/openapi/v2' ? 200 : 200,
    upstream: {
      method: 'GET',
      path,
      check: (r) => assert.deepEqual(header(r, name.toLowerCase()), [value]),
      ...(name === 'User-Agent' ? { audited: (e: AuditEvent) => assert.equal(e.userAgent, value) } : {}),
    },
  })),
  {
    name: 'sends Gatehouse’s own request id upstream as Audit-ID and answers the client with the same id',
    lines: [`GET ${BASE}/configmaps/bundle HTTP/1.1`, 'Audit-ID: 11111111-2222-3333-4444-555555555555'],
    status: 200,
    upstream: { method: 'GET', path: `${BASE}/configmaps/bundle`, check: (r) => assert.notEqual(header(r, 'audit-id')[0], '11111111-2222-3333-4444-555555555555') },
    reply: (reply) => assert.match(reply.headers['audit-id'] ?? '', /^[0-9a-f-]{36}$/),
  },
  {
    name: 'drops headers that a Connection header names, and Connection itself',
    lines: [`GET ${BASE}/configmaps/bundle HTTP/1.1`, 'X-Hop: 1', 'Connection: close, X-Hop'],
    status: 200,
    // Node's keep-alive agent says `Connection: keep-alive` of its own; nothing of the client's passes.
    upstream: { method: 'GET', path: `${BASE}/configmaps/bundle`, check: (r) => assert.deepEqual([...header(r, 'x-hop'), ...header(r, 'connection')], ['keep-alive']) },
  },
  // kubectl --as is decided by policy (verb impersonate, named explicitly); this policy's
  // `verbs: ["*"]` rule does not grant it, so every client Impersonate-* header is refused.
  ...(
    [
      ['Impersonate-User: system:admin', 'impersonate users "system:admin": no rule allows it (default deny)'],
      ['Impersonate-Group: system:masters', 'impersonate: Impersonate-Group and Impersonate-Uid need an Impersonate-User'],
      ['Impersonate-Uid: 0', 'impersonate: Impersonate-Group and Impersonate-Uid need an Impersonate-User'],
      ['Impersonate-Extra-Scopes: all', 'impersonate: Gatehouse does not pass impersonated extra fields (Impersonate-Extra-Scopes)'],
      ['IMPERSONATE-USER: admin', 'impersonate users "admin": no rule allows it (default deny)'],
      ['impersonate-group: system:masters', 'impersonate: Impersonate-Group and Impersonate-Uid need an Impersonate-User'],
    ] as const
  ).map(
    ([line, refused]): Case => ({
      name: `refuses a client ${line.split(':')[0]} header with 403`,
      lines: [`GET ${BASE}/configmaps/bundle HTTP/1.1`, line],
      status: 403,
      reason: 'Forbidden',
      message: `user "${USER}" (groups: developers) may not ${refused}`,
      upstream: 'nothing',
    }),
  ),
]);

// ─── upgrades ───────────────────────────────────────────────────────────────

const WEBSOCKET = ['Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='];
const refusedUpgrade = (path: string, to = 'websocket'): string =>
  `user "${USER}" asked for an HTTP Upgrade to "${to}" for ${path}; Gatehouse upgrades only pods/exec, pods/attach and pods/portforward, to websocket or SPDY/3.1 (a watch is served over plain HTTP streaming, where every object is masked)`;
const refusedUpgradeCase = (name: string, target: string, extra: string[], to = 'websocket', method = 'GET'): Case => ({
  name,
  lines: [`${method} ${target} HTTP/1.1`, ...extra],
  status: 400,
  reason: 'BadRequest',
  message: refusedUpgrade(target.split('?')[0] as string, to),
  upstream: 'nothing',
});
/** Why a working exec is the stand-in's alone (the refusals run on both). */
const NO_KUBELET = 'a bare kube-apiserver runs no kubelet: pods stay Pending, so an exec ends in the API server\'s own 400 (the upgrade cases below, where the upstream refuses, run on both)';
const switched = (bytes: Buffer): boolean => bytes.includes('\r\n\r\n') && bytes.subarray(bytes.indexOf('\r\n\r\n')).includes(Buffer.from([0x88]));

table('upgrades: only pods/exec, attach and portforward, never a watch', [
  refusedUpgradeCase('refuses a WebSocket watch of Secrets (base64.binary.k8s.io)', `${BASE}/secrets?watch=true`, [...WEBSOCKET, 'Sec-WebSocket-Protocol: base64.binary.k8s.io', 'Origin: https://x']),
  refusedUpgradeCase('refuses a WebSocket watch of Secrets (binary.k8s.io)', `${BASE}/secrets?watch=true`, [...WEBSOCKET, 'Sec-WebSocket-Protocol: binary.k8s.io', 'Origin: https://x']),
  refusedUpgradeCase('refuses a WebSocket watch of Secrets without a subprotocol', `${BASE}/secrets?watch=1`, [...WEBSOCKET, 'Origin: https://x']),
  refusedUpgradeCase('refuses a WebSocket watch through the legacy /watch/ path', '/api/v1/watch/namespaces/default/secrets', [...WEBSOCKET, 'Origin: https://x']),
  refusedUpgradeCase('refuses a WebSocket watch of Secrets in every namespace', '/api/v1/secrets?watch=true', [...WEBSOCKET, 'Origin: https://x']),
  refusedUpgradeCase('refuses a WebSocket watch of ConfigMaps (which can embed Secret manifests)', `${BASE}/configmaps?watch=true`, [...WEBSOCKET, 'Origin: https://x']),
  refusedUpgradeCase('refuses a WebSocket watch of Pods', `${BASE}/pods?watch=true`, WEBSOCKET),
  refusedUpgradeCase('refuses a WebSocket get of one Secret', `${BASE}/secrets/db`, WEBSOCKET),
  refusedUpgradeCase('refuses a WebSocket list of Secrets', `${BASE}/secrets`, WEBSOCKET),
  refusedUpgradeCase('refuses an upgrade of pod logs', `${BASE}/pods/web/log?follow=true`, WEBSOCKET),
  refusedUpgradeCase('refuses an upgrade through a service proxy', `${BASE}/services/web/proxy/ws`, WEBSOCKET),
  refusedUpgradeCase('refuses an upgrade of a discovery path', '/api', WEBSOCKET),
  refusedUpgradeCase('refuses an upgrade of /version', '/version', WEBSOCKET),
  refusedUpgradeCase('refuses an upgrade on a create', `${BASE}/configmaps`, WEBSOCKET, 'websocket', 'POST'),
  refusedUpgradeCase('refuses an h2c upgrade of a list', `${BASE}/pods`, ['Connection: Upgrade, HTTP2-Settings', 'Upgrade: h2c', 'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA'], 'h2c'),
  refusedUpgradeCase('refuses an h2c upgrade of pods/exec', `${BASE}/pods/web/exec?command=echo`, ['Connection: Upgrade', 'Upgrade: h2c'], 'h2c'),
  refusedUpgradeCase('refuses an upgrade of pods/exec to another protocol', `${BASE}/pods/web/exec?command=echo`, ['Connection: Upgrade', 'Upgrade: TLS/1.2'], 'TLS/1.2'),
  refusedUpgradeCase('refuses an Upgrade header without Connection: upgrade on a watch', `${BASE}/secrets?watch=true`, ['Upgrade: websocket']),
  {
    name: 'refuses Connection: upgrade without an Upgrade header',
    lines: [`GET ${BASE}/secrets?watch=true HTTP/1.1`, 'Connection: upgrade'],
    status: 400,
    reason: 'BadRequest',
    message: `user "${USER}" asked for an HTTP Upgrade (Connection: upgrade) for ${BASE}/secrets; Gatehouse upgrades only pods/exec, pods/attach and pods/portforward, to websocket or SPDY/3.1 (a watch is served over plain HTTP streaming, where every object is masked)`,
    upstream: 'nothing',
  },
  {
    name: 'carries a WebSocket exec: 101, and the upstream gets exactly the impersonated upgrade',
    lines: [`GET ${BASE}/pods/web/exec?command=echo&command=hi HTTP/1.1`, ...WEBSOCKET, 'Sec-WebSocket-Protocol: v5.channel.k8s.io', 'X-Remote-User: system:admin'],
    status: 101,
    upstream: {
      method: 'GET',
      path: `${BASE}/pods/web/exec`,
      check: (r) => {
        assert.deepEqual(header(r, 'upgrade'), ['websocket']);
        assert.deepEqual(header(r, 'sec-websocket-protocol'), ['v5.channel.k8s.io']);
        assert.deepEqual(header(r, 'x-remote-user'), []);
      },
    },
    reply: (reply) => assert.ok(reply.bytes.includes('hi\n'), 'the command output came back'),
    options: { until: switched },
    standInOnly: NO_KUBELET,
  },
  {
    name: 'streams an upstream’s refusal of an exec upgrade (SPDY) as an ordinary answer',
    lines: [`POST ${BASE}/pods/nope/exec?command=echo HTTP/1.1`, 'Connection: Upgrade', 'Upgrade: SPDY/3.1', 'X-Stream-Protocol-Version: v4.channel.k8s.io', 'X-Stream-Protocol-Version: v9.channel.k8s.io'],
    status: 404,
    reason: 'NotFound',
    message: 'pods "nope" not found',
    // Only the stream protocols Gatehouse reads are offered upstream.
    upstream: { method: 'POST', path: `${BASE}/pods/nope/exec`, check: (r) => assert.deepEqual(header(r, 'x-stream-protocol-version'), ['v4.channel.k8s.io']) },
  },
  {
    name: 'streams an upstream’s refusal of an attach upgrade as an ordinary answer',
    lines: [`GET ${BASE}/pods/nope/attach?stdout=true HTTP/1.1`, ...WEBSOCKET, 'Sec-WebSocket-Protocol: v5.channel.k8s.io, base64.channel.k8s.io'],
    status: 404,
    reason: 'NotFound',
    message: 'pods "nope" not found',
    upstream: { method: 'GET', path: `${BASE}/pods/nope/attach`, check: (r) => assert.deepEqual(header(r, 'sec-websocket-protocol'), ['v5.channel.k8s.io']) },
  },
  {
    name: 'refuses an exec offering no stream protocol Gatehouse reads, before the cluster is asked',
    lines: [`POST ${BASE}/pods/web/exec?command=echo HTTP/1.1`, 'Connection: Upgrade', 'Upgrade: SPDY/3.1', 'X-Stream-Protocol-Version: v9.channel.k8s.io'],
    status: 400,
    reason: 'BadRequest',
    message: `user "${USER}" offered the stream protocols v9.channel.k8s.io for SPDY/3.1 exec; Gatehouse reads only v4.channel.k8s.io, v3.channel.k8s.io, v2.channel.k8s.io, channel.k8s.io`,
    upstream: 'nothing',
  },
  {
    name: 'refuses a WebSocket port-forward before the cluster is asked (kubectl falls back to SPDY/3.1)',
    lines: [`GET ${BASE}/pods/web/portforward?ports=80 HTTP/1.1`, ...WEBSOCKET, 'Sec-WebSocket-Protocol: v4.channel.k8s.io'],
    status: 400,
    reason: 'BadRequest',
    message: `user "${USER}" asked for a port-forward over WebSocket; Gatehouse reads port-forward streams over SPDY/3.1 only (kubectl falls back to it by itself)`,
    upstream: 'nothing',
  },
]);

// ─── methods ────────────────────────────────────────────────────────────────

table('methods: only those the API server serves', [
  ...['OPTIONS', 'TRACE', 'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'PURGE', 'LINK', 'UNLINK', 'REPORT', 'SEARCH'].map(
    (method): Case => ({
      name: `refuses ${method} with 405`,
      lines: [`${method} ${BASE}/secrets HTTP/1.1`],
      status: 405,
      reason: 'MethodNotAllowed',
      message: `method "${method}" is not one Gatehouse forwards (GET, HEAD, POST, PUT, PATCH, DELETE)`,
      upstream: 'nothing',
    }),
  ),
  ...[`${BASE}/secrets/db`, `${BASE}/secrets`, `${BASE}/pods/web/log`, '/api', '/api/v1', '/apis/apps/v1', '/version'].map((path): Case => {
    const what = path.startsWith('/api/v1/') ? 'a resource' : 'this discovery document';
    return {
      name: `refuses HEAD ${path} with 405 before policy, as the API server routes no HEAD to ${what}`,
      lines: [`HEAD ${path} HTTP/1.1`],
      status: 405,
      upstream: 'nothing',
      reply: (reply) => assert.equal(reply.bytes.length, 0, 'a HEAD answer has no body'),
      recorded: { error: 'ERR_METHOD_NOT_ALLOWED', message: `HEAD ${path} is not served: the API server routes no HEAD to ${what} (it answers 405); use GET` },
    };
  }),
  {
    name: 'forwards HEAD /apis under the policy (the API server serves the group list to any method)',
    lines: ['HEAD /apis HTTP/1.1'],
    status: 200,
    upstream: { method: 'HEAD', path: '/apis' },
    reply: (reply) => assert.equal(reply.bytes.length, 0),
    // The cluster's RBAC authorizes a non-resource HEAD as verb "head", which system:discovery does not grant (it grants get): its own 403.
    real: { status: 403 },
  },
  ...['CONNECT', 'get', 'FOO'].map(
    (method): Case => ({
      name: `refuses ${method}, which Node's HTTP parser stops before the pipeline, with the same 405 Status naming it`,
      lines: [`${method} ${BASE}/secrets HTTP/1.1`],
      status: 405,
      reason: 'MethodNotAllowed',
      message: `method "${method}" is not one Gatehouse forwards (GET, HEAD, POST, PUT, PATCH, DELETE)`,
      upstream: 'nothing',
      reply: (reply) => assert.equal(reply.headers['connection'], 'close'),
    }),
  ),
]);

// ─── paths ──────────────────────────────────────────────────────────────────

const denied = (verb: string, what: string): RegExp => new RegExp(`^user "${USER.replace('.', '\\.')}" \\(groups: ${GROUPS.join(', ')}\\) may not ${verb} ${what}.*rule "no-system-secrets"`);

table('paths: read as the API server reads them, refused where it could read them differently', (t) => [
  {
    name: 'refuses a ".." segment',
    lines: [`GET ${BASE}/secrets/../../kube-system/secrets HTTP/1.1`],
    status: 400,
    reason: 'BadRequest',
    message: `request path "${BASE}/secrets/../../kube-system/secrets" has a ".." segment; refused because the API server could read it differently`,
    upstream: 'nothing',
  },
  {
    name: 'refuses an encoded "/"',
    lines: ['GET /api/v1/namespaces/kube-system%2Fsecrets HTTP/1.1'],
    status: 400,
    reason: 'BadRequest',
    message: 'request path "/api/v1/namespaces/kube-system%2Fsecrets" has an encoded "/" (%2F); refused because the API server could read it differently',
    upstream: 'nothing',
  },
  { name: 'refuses listing Secrets in kube-system (policy)', lines: ['GET /api/v1/namespaces/kube-system/secrets HTTP/1.1'], status: 403, reason: 'Forbidden', message: denied('list', 'secrets in namespace "kube-system"'), upstream: 'nothing' },
  { name: 'refuses getting a Secret in kube-system (policy)', lines: ['GET /api/v1/namespaces/kube-system/secrets/signing HTTP/1.1'], status: 403, reason: 'Forbidden', message: denied('get', 'secrets "signing" in namespace "kube-system"'), upstream: 'nothing' },
  { name: 'refuses watching Secrets in kube-system through the legacy /watch/ path', lines: ['GET /api/v1/watch/namespaces/kube-system/secrets HTTP/1.1'], status: 403, reason: 'Forbidden', message: denied('watch', 'secrets in namespace "kube-system"'), upstream: 'nothing' },
  { name: 'refuses watching Secrets in kube-system by query', lines: ['GET /api/v1/namespaces/kube-system/secrets?watch=true HTTP/1.1'], status: 403, reason: 'Forbidden', message: denied('watch', 'secrets in namespace "kube-system"'), upstream: 'nothing' },
  {
    name: 'refuses deleting in prod (policy)',
    lines: ['DELETE /api/v1/namespaces/prod/secrets/api HTTP/1.1'],
    status: 403,
    reason: 'Forbidden',
    message: /rule "no-prod-deletes"/,
    upstream: 'nothing',
  },
  {
    name: 'refuses listing Secrets across all namespaces, which would include kube-system’s (policy)',
    lines: ['GET /api/v1/secrets HTTP/1.1'],
    status: 403,
    reason: 'Forbidden',
    message: `user "${USER}" (groups: developers) may not list secrets: denied by rule "no-system-secrets" (kube-* namespaces hold the cluster's own credentials)`,
    upstream: 'nothing',
  },
  {
    name: 'masks a Secret’s last-applied annotation as well as its data',
    lines: ['GET /api/v1/namespaces/prod/secrets/api HTTP/1.1'],
    status: 200,
    upstream: { method: 'GET', path: '/api/v1/namespaces/prod/secrets/api' },
    reply: (reply) => assert.ok(bodyText(reply).includes('last-applied-configuration')),
  },
  {
    name: 'masks a Secret manifest embedded in another object',
    lines: [`GET ${t.embedded.path} HTTP/1.1`],
    status: 200,
    upstream: { method: 'GET', path: t.embedded.path },
    reply: (reply) => assert.ok(bodyText(reply).includes('"inner"')),
  },
]);

// ─── bodies ─────────────────────────────────────────────────────────────────

const LIMIT = 3 * 1024 * 1024;
const configMap = (name: string): string => JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { a: 'b' } });
const smuggled = 'GET /api/v1/namespaces/kube-system/secrets HTTP/1.1\r\nHost: x\r\n\r\n';
const chunked = (body: Buffer): Buffer => Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
const deepJson = `${'['.repeat(5000)}${']'.repeat(5000)}`;
const deepYaml = `${'- '.repeat(5000)}x\n`;
const twoAnswers = (bytes: Buffer): boolean => bytes.toString('latin1').split('HTTP/1.1 ').length > 2;

table('bodies: none on GET/HEAD, bounded everywhere, nothing forwarded when refused', [
  {
    name: 'refuses a GET that announces a body by Content-Length',
    lines: [`GET ${BASE}/configmaps HTTP/1.1`, `Content-Length: ${smuggled.length}`],
    body: smuggled,
    status: 400,
    reason: 'BadRequest',
    message: `a GET request may not carry a body (it announced Content-Length "${smuggled.length}"); the API server reads none, and Gatehouse forwards none`,
    upstream: 'nothing',
  },
  {
    name: 'refuses a GET with a chunked body',
    lines: [`GET ${BASE}/configmaps HTTP/1.1`, 'Transfer-Encoding: chunked'],
    body: chunked(Buffer.from(smuggled)),
    status: 400,
    reason: 'BadRequest',
    message: 'a GET request may not carry a body (it announced Transfer-Encoding "chunked"); the API server reads none, and Gatehouse forwards none',
    upstream: 'nothing',
  },
  {
    // On /apis: a HEAD of a resource is refused before its framing is read (405, above).
    name: 'refuses a HEAD that announces a body',
    lines: ['HEAD /apis HTTP/1.1', 'Content-Length: 2'],
    body: '{}',
    status: 400,
    upstream: 'nothing',
  },
  {
    name: 'forwards a GET with Content-Length 0 without any framing header',
    lines: [`GET ${BASE}/configmaps/bundle HTTP/1.1`, 'Content-Length: 0'],
    status: 200,
    upstream: { method: 'GET', path: `${BASE}/configmaps/bundle`, check: (r) => assert.deepEqual([...header(r, 'content-length'), ...header(r, 'transfer-encoding')], []) },
  },
  {
    name: 'forwards a create with exactly its body, its length and its type',
    lines: [`POST ${BASE}/configmaps HTTP/1.1`, 'Content-Type: application/json', `Content-Length: ${configMap('created-1').length}`],
    body: configMap('created-1'),
    status: 201,
    upstream: {
      method: 'POST',
      path: `${BASE}/configmaps`,
      check: (r) => {
        assert.equal(r.body, configMap('created-1'));
        assert.deepEqual(header(r, 'content-length'), [String(configMap('created-1').length)]);
        assert.deepEqual(header(r, 'content-type'), ['application/json']);
      },
    },
  },
  {
    name: 'forwards a chunked create with a Content-Length of its own, never the client’s framing',
    lines: [`POST ${BASE}/configmaps HTTP/1.1`, 'Content-Type: application/json', 'Transfer-Encoding: chunked'],
    body: chunked(Buffer.from(configMap('created-2'))),
    status: 201,
    upstream: {
      method: 'POST',
      path: `${BASE}/configmaps`,
      check: (r) => {
        assert.deepEqual(header(r, 'transfer-encoding'), []);
        assert.deepEqual(header(r, 'content-length'), [String(configMap('created-2').length)]);
      },
    },
  },
  {
    name: 'bytes after a body are the client’s next request, which must authenticate itself (the upstream sees one call)',
    lines: [`POST ${BASE}/configmaps HTTP/1.1`, `Content-Length: ${configMap('created-3').length}`, 'Content-Type: application/json'],
    body: configMap('created-3') + smuggled,
    status: 201,
    upstream: { method: 'POST', path: `${BASE}/configmaps`, check: (r) => assert.equal(r.body, configMap('created-3')) },
    reply: (reply) => assert.match(reply.raw.toString('latin1'), /HTTP\/1\.1 401 /),
    options: { until: twoAnswers, keepAlive: true },
  },
  {
    name: 'forwards a delete with its DeleteOptions body',
    lines: [`DELETE ${BASE}/configmaps/created-1 HTTP/1.1`, 'Content-Type: application/json', 'Content-Length: 2'],
    body: '{}',
    status: 200,
    upstream: { method: 'DELETE', path: `${BASE}/configmaps/created-1`, check: (r) => assert.equal(r.body, '{}') },
  },
  ...(['POST', 'PUT', 'PATCH'] as const).map(
    (method): Case => ({
      name: `refuses a ${method} body over the limit by its Content-Length (413)`,
      lines: [`${method} ${BASE}/configmaps${method === 'POST' ? '' : '/bundle'} HTTP/1.1`, 'Content-Type: application/json', `Content-Length: ${LIMIT + 1}`],
      body: Buffer.alloc(LIMIT + 1, 0x20),
      status: 413,
      reason: 'RequestEntityTooLarge',
      message: `the request body (${LIMIT + 1} bytes) is larger than the ${LIMIT} bytes Gatehouse forwards`,
      upstream: 'nothing',
    }),
  ),
  ...(['POST', 'PATCH'] as const).map(
    (method): Case => ({
      name: `refuses a chunked ${method} body as it passes the limit (413)`,
      lines: [`${method} ${BASE}/configmaps${method === 'POST' ? '' : '/bundle'} HTTP/1.1`, 'Content-Type: application/merge-patch+json', 'Transfer-Encoding: chunked'],
      body: chunked(Buffer.alloc(LIMIT + 1, 0x20)),
      status: 413,
      reason: 'RequestEntityTooLarge',
      message: `the request body (more than ${LIMIT} bytes) is larger than the ${LIMIT} bytes Gatehouse forwards`,
      upstream: 'nothing',
    }),
  ),
  ...(
    [
      ['a JSON create nested 5000 deep', 'POST', 'application/json', deepJson],
      ['a JSON merge patch nested 5000 deep', 'PATCH', 'application/merge-patch+json', `{"data":${deepJson}}`],
      ['a YAML create nested 5000 deep', 'POST', 'application/yaml', deepYaml],
      ['an apply patch nested 5000 deep in YAML flow style', 'PATCH', 'application/apply-patch+yaml', deepJson],
      ['a Secret whose data nests 5000 deep', 'POST', 'application/json', `{"kind":"Secret","apiVersion":"v1","metadata":{"name":"x"},"data":${deepJson}}`],
    ] as const
  ).map(
    ([what, method, type, body]): Case => ({
      name: `refuses ${what} with 400, not 500`,
      lines: [`${method} ${method === 'POST' ? `${BASE}/${what.includes('Secret') ? 'secrets' : 'configmaps'}` : `${BASE}/configmaps/bundle`} HTTP/1.1`, `Content-Type: ${type}`, `Content-Length: ${body.length}`],
      body,
      status: 400,
      reason: 'BadRequest',
      message: 'the request body nests deeper than 1000 levels; Gatehouse reads no deeper',
      upstream: 'nothing',
    }),
  ),
]);

const tooLargeMessage = `the request body (${LIMIT + 1} bytes) is larger than the ${LIMIT} bytes Gatehouse forwards`;
const getBodyMessage = (method: string, framing: string): string =>
  `a ${method} request may not carry a body (it announced ${framing}); the API server reads none, and Gatehouse forwards none`;

table('refusals never wait for a body: answered while the body is withheld, the connection closed, the call recorded', [
  ...(['POST', 'PUT', 'PATCH'] as const).map(
    (method): Case => ({
      name: `refuses a ${method} that declares ${LIMIT + 1} bytes and sends none with 413 at once`,
      lines: [`${method} ${BASE}/configmaps${method === 'POST' ? '' : '/bundle'} HTTP/1.1`, 'Content-Type: application/json', `Content-Length: ${LIMIT + 1}`],
      withholdBody: true,
      status: 413,
      reason: 'RequestEntityTooLarge',
      message: tooLargeMessage,
      upstream: 'nothing',
      recorded: { error: 'ERR_PAYLOAD_TOO_LARGE', bodyBytes: LIMIT + 1, bodyNote: `[not recorded: the call was refused before its body of ${LIMIT + 1} bytes was read]` },
    }),
  ),
  {
    name: 'refuses a POST declaring a huge body with its first bytes sent, without waiting for the rest',
    lines: [`POST ${BASE}/configmaps HTTP/1.1`, 'Content-Type: application/json', 'Content-Length: 9000000000'],
    body: '{"kind":',
    withholdBody: true,
    status: 413,
    reason: 'RequestEntityTooLarge',
    message: `the request body (9000000000 bytes) is larger than the ${LIMIT} bytes Gatehouse forwards`,
    upstream: 'nothing',
    recorded: { error: 'ERR_PAYLOAD_TOO_LARGE', bodyBytes: 9000000000 },
  },
  {
    name: 'refuses a chunked POST as it passes the limit, without waiting for its last chunk',
    lines: [`POST ${BASE}/configmaps HTTP/1.1`, 'Content-Type: application/json', 'Transfer-Encoding: chunked'],
    body: Buffer.concat([Buffer.from(`${(LIMIT + 1).toString(16)}\r\n`), Buffer.alloc(LIMIT + 1, 0x20), Buffer.from('\r\n')]),
    withholdBody: true,
    status: 413,
    reason: 'RequestEntityTooLarge',
    message: `the request body (more than ${LIMIT} bytes) is larger than the ${LIMIT} bytes Gatehouse forwards`,
    upstream: 'nothing',
    recorded: { error: 'ERR_PAYLOAD_TOO_LARGE' },
  },
  {
    name: 'refuses a GET that declares a body and sends none with 400 at once',
    lines: [`GET ${BASE}/configmaps HTTP/1.1`, 'Content-Length: 100'],
    withholdBody: true,
    status: 400,
    reason: 'BadRequest',
    message: getBodyMessage('GET', 'Content-Length "100"'),
    upstream: 'nothing',
    recorded: { error: 'ERR_REQUEST_INVALID', bodyBytes: 100 },
  },
  {
    name: 'refuses a GET that announces a chunked body and sends no chunk with 400 at once',
    lines: [`GET ${BASE}/secrets/db HTTP/1.1`, 'Transfer-Encoding: chunked'],
    withholdBody: true,
    status: 400,
    reason: 'BadRequest',
    message: getBodyMessage('GET', 'Transfer-Encoding "chunked"'),
    upstream: 'nothing',
    recorded: { error: 'ERR_REQUEST_INVALID' },
  },
  {
    name: 'refuses a HEAD that declares a body and sends none with 400 at once',
    lines: ['HEAD /apis HTTP/1.1', 'Content-Length: 100'],
    withholdBody: true,
    status: 400,
    upstream: 'nothing',
    recorded: { error: 'ERR_REQUEST_INVALID', bodyBytes: 100 },
  },
  {
    name: 'refuses a POST with a token that does not verify with 401 at once, its body never read',
    lines: [`POST ${BASE}/configmaps HTTP/1.1`, 'Content-Type: application/json', 'Content-Length: 100'],
    options: { bearer: 'not.a.token' },
    withholdBody: true,
    status: 401,
    reason: 'Unauthorized',
    message: 'token is not a JWT: its header is not base64url-encoded JSON',
    upstream: 'nothing',
    recorded: { error: 'ERR_TOKEN_MALFORMED', bodyBytes: 100 },
  },
  {
    name: 'refuses a POST with a ".." path with 400 at once, its body never read',
    lines: [`POST ${BASE}/configmaps/../../kube-system/secrets HTTP/1.1`, 'Content-Type: application/json', 'Content-Length: 100'],
    withholdBody: true,
    status: 400,
    reason: 'BadRequest',
    message: `request path "${BASE}/configmaps/../../kube-system/secrets" has a ".." segment; refused because the API server could read it differently`,
    upstream: 'nothing',
    recorded: { error: 'ERR_REQUEST_PATH', bodyBytes: 100 },
  },
  {
    name: 'refuses a PROPFIND with a declared body with 405 at once',
    lines: [`PROPFIND ${BASE}/secrets HTTP/1.1`, 'Content-Length: 100'],
    withholdBody: true,
    status: 405,
    reason: 'MethodNotAllowed',
    message: 'method "PROPFIND" is not one Gatehouse forwards (GET, HEAD, POST, PUT, PATCH, DELETE)',
    upstream: 'nothing',
    recorded: { error: 'ERR_METHOD_NOT_ALLOWED', bodyBytes: 100 },
  },
  {
    name: 'refuses a PATCH on a collection with a declared body with 405 at once',
    lines: [`PATCH ${BASE}/configmaps HTTP/1.1`, 'Content-Type: application/merge-patch+json', 'Content-Length: 100'],
    withholdBody: true,
    status: 405,
    reason: 'MethodNotAllowed',
    message: `PATCH ${BASE}/configmaps names no object: the API server serves PATCH only on a named object (${BASE}/configmaps/{name}), so Gatehouse forwards none`,
    upstream: 'nothing',
    recorded: { error: 'ERR_METHOD_NOT_ALLOWED', bodyBytes: 100 },
  },
  {
    name: 'refuses creating a Secret in kube-system (policy) with 403 at once, its body never read',
    lines: ['POST /api/v1/namespaces/kube-system/secrets HTTP/1.1', 'Content-Type: application/json', 'Content-Length: 100'],
    withholdBody: true,
    status: 403,
    reason: 'Forbidden',
    message: denied('create', 'secrets in namespace "kube-system"'),
    upstream: 'nothing',
    recorded: { error: 'ERR_POLICY_DENIED', bodyBytes: 100 },
  },
  {
    name: 'refuses a delete in prod (policy) whose DeleteOptions body is withheld with 403 at once',
    lines: ['DELETE /api/v1/namespaces/prod/configmaps/any HTTP/1.1', 'Content-Type: application/json', 'Content-Length: 100'],
    withholdBody: true,
    status: 403,
    reason: 'Forbidden',
    message: /rule "no-prod-deletes"/,
    upstream: 'nothing',
    recorded: { error: 'ERR_POLICY_DENIED', bodyBytes: 100 },
  },
  {
    name: 'refuses a secret upgrade that declares a body with 400 and closes',
    lines: [`POST ${BASE}/secrets HTTP/1.1`, 'Connection: Upgrade', 'Upgrade: websocket', 'Content-Length: 100'],
    withholdBody: true,
    status: 400,
    reason: 'BadRequest',
    message: /asked for an HTTP Upgrade to "websocket" for \/api\/v1\/namespaces\/default\/secrets; Gatehouse upgrades only/,
    upstream: 'nothing',
    recorded: { error: 'ERR_UPGRADE_UNSUPPORTED', bodyBytes: 100 },
  },
]);

const notNamed = (method: string, path: string): string =>
  `${method} ${path} names no object: the API server serves ${method} only on a named object (${path}/{name}), so Gatehouse forwards none`;
const named = (path: string, resource: string): string =>
  `POST ${path} names an object: the API server creates only on a collection (POST …/${resource}) or through a subresource, so Gatehouse forwards none`;
const legacyWatch = (method: string, path: string): string =>
  `${method} ${path} is not served: the API server serves only GET under the legacy /watch/ prefix, so Gatehouse forwards nothing else there`;
const patchBody = '{"data":{"a":"c"}}';
/** The stand-in's own 405 (kube-apiserver's wording): proof the call reached the upstream. */
const UPSTREAM_405 = 'the server does not allow this method on the requested resource';

table('path shapes: a method the API server serves on no such path is refused with 405 before policy', [
  ...(
    [
      ['PATCH', `${BASE}/configmaps`],
      ['PUT', `${BASE}/configmaps`],
      ['PATCH', '/api/v1/namespaces'],
      ['PUT', '/api/v1/nodes'],
      ['PATCH', '/api/v1/secrets'],
      ['PATCH', '/apis/apps/v1/namespaces/default/deployments'],
      ['PUT', '/apis/example.com/v1/namespaces/default/widgets'],
      ['PATCH', '/api/v1/namespaces/kube-system/secrets'],
    ] as const
  ).map(
    ([method, path]): Case => ({
      name: `refuses ${method} on the collection ${path}, which names no object`,
      lines: [`${method} ${path} HTTP/1.1`, 'Content-Type: application/merge-patch+json', `Content-Length: ${patchBody.length}`],
      body: patchBody,
      status: 405,
      reason: 'MethodNotAllowed',
      message: notNamed(method, path),
      upstream: 'nothing',
    }),
  ),
  ...(
    [
      [`${BASE}/configmaps/bundle`, 'configmaps'],
      ['/api/v1/namespaces/default', 'namespaces'],
      ['/api/v1/nodes/worker-1', 'nodes'],
      ['/apis/apps/v1/namespaces/default/deployments/web', 'deployments'],
      ['/api/v1/namespaces/kube-system/secrets/signing', 'secrets'],
    ] as const
  ).map(
    ([path, resource]): Case => ({
      name: `refuses POST to the named object ${path}`,
      lines: [`POST ${path} HTTP/1.1`, 'Content-Type: application/json', `Content-Length: ${configMap('x').length}`],
      body: configMap('x'),
      status: 405,
      reason: 'MethodNotAllowed',
      message: named(path, resource),
      upstream: 'nothing',
    }),
  ),
  ...(
    [
      ['DELETE', '/api/v1/watch/namespaces/default/configmaps/bundle'],
      ['POST', '/api/v1/watch/namespaces/default/configmaps'],
      ['PUT', '/api/v1/watch/namespaces/default/configmaps/bundle'],
      ['PATCH', '/apis/apps/v1/watch/deployments'],
    ] as const
  ).map(
    ([method, path]): Case => ({
      name: `refuses ${method} under the legacy /watch/ prefix (${path})`,
      lines: [`${method} ${path} HTTP/1.1`, 'Content-Type: application/json', 'Content-Length: 2'],
      body: '{}',
      status: 405,
      reason: 'MethodNotAllowed',
      message: legacyWatch(method, path),
      upstream: 'nothing',
    }),
  ),
  {
    name: 'forwards PATCH of a named object',
    lines: [`PATCH ${BASE}/configmaps/bundle HTTP/1.1`, 'Content-Type: application/merge-patch+json', `Content-Length: ${patchBody.length}`],
    body: patchBody,
    status: 200,
    upstream: { method: 'PATCH', path: `${BASE}/configmaps/bundle`, check: (r) => assert.equal(r.body, patchBody) },
  },
  {
    name: 'forwards POST to a subresource (an eviction): the upstream, not Gatehouse, decides',
    lines: [`POST ${BASE}/pods/web/eviction HTTP/1.1`, 'Content-Type: application/json', 'Content-Length: 2'],
    body: '{}',
    status: 405,
    reason: 'MethodNotAllowed',
    message: UPSTREAM_405,
    upstream: { method: 'POST', path: `${BASE}/pods/web/eviction`, check: (r) => assert.equal(r.body, '{}') },
    // The real server reads the body as an Eviction with no name.
    real: { status: 400, reason: 'BadRequest', message: 'name in URL does not match name in Eviction object' },
  },
  {
    name: 'forwards PUT to a subresource (a namespace’s finalize): the upstream, not Gatehouse, decides',
    lines: ['PUT /api/v1/namespaces/default/finalize HTTP/1.1', 'Content-Type: application/json', 'Content-Length: 2'],
    body: '{}',
    status: 405,
    reason: 'MethodNotAllowed',
    message: UPSTREAM_405,
    upstream: { method: 'PUT', path: '/api/v1/namespaces/default/finalize' },
    // The real server's RBAC: the edit role does not finalize namespaces.
    real: {
      status: 403,
      reason: 'Forbidden',
      message: `namespaces "default" is forbidden: User "${USER}" cannot update resource "namespaces/finalize" in API group "" in the namespace "default"`,
    },
  },
  {
    name: 'forwards DELETE of a collection (deletecollection)',
    lines: [`DELETE ${BASE}/configmaps?labelSelector=app%3Dnone HTTP/1.1`],
    status: 200,
    upstream: { method: 'DELETE', path: `${BASE}/configmaps` },
  },
  {
    name: 'forwards a GET under the legacy /watch/ prefix',
    lines: [`GET /api/v1/watch/namespaces/default/configmaps?timeoutSeconds=1 HTTP/1.1`],
    status: 200,
    upstream: { method: 'GET', path: '/api/v1/watch/namespaces/default/configmaps' },
  },
]);

/** Why the deeply nested answers are the stand-in's alone. */
const NESTED =
  'with CBOR serving on (to test CBOR answers) the real kube-apiserver refuses to store an object nested deeper than 64 levels ("cbor: exceeded max nested level 64"), so none of its answers nests deeper than the 1000 levels Gatehouse reads';

table('answers nested deeper than Gatehouse reads: a 4xx Status, never a 500 or the bytes', [
  {
    name: 'refuses one object nested 1500 deep that must be walked',
    lines: ['GET /api/v1/namespaces/prod/configmaps/deep HTTP/1.1'],
    status: 400,
    reason: 'BadRequest',
    message: 'the upstream response for configmaps "deep" in namespace "prod" nests deeper than 1000 levels; Gatehouse reads no deeper',
    upstream: { method: 'GET', path: '/api/v1/namespaces/prod/configmaps/deep' },
    standInOnly: NESTED,
  },
  {
    name: 'refuses a list holding an object nested 1500 deep',
    lines: ['GET /api/v1/namespaces/prod/configmaps HTTP/1.1'],
    status: 400,
    reason: 'BadRequest',
    message: 'the upstream response for configmaps in namespace "prod" nests deeper than 1000 levels; Gatehouse reads no deeper',
    upstream: { method: 'GET', path: '/api/v1/namespaces/prod/configmaps' },
    standInOnly: NESTED,
  },
]);

// ─── media types ────────────────────────────────────────────────────────────

const JSON_ONLY: [string, string][] = [
  ['application/yaml', 'application/json'],
  ['application/vnd.kubernetes.protobuf', 'application/json'],
  ['application/vnd.kubernetes.protobuf, application/json', 'application/json'],
  ['application/cbor', 'application/json'],
  ['application/yaml;q=1.0, application/json;q=0.1', 'application/json;q=0.1'],
  ['text/html', 'application/json'],
  ['*/*', 'application/json'],
  ['application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io, application/json;as=Table;v=v1;g=meta.k8s.io', 'application/json;as=Table;v=v1;g=meta.k8s.io'],
  ['application/cbor;as=Table;v=v1;g=meta.k8s.io', 'application/json'],
];

const WATCH_JSON_ONLY: [string, string][] = [
  ['application/vnd.kubernetes.protobuf;stream=watch', 'application/json'],
  ['application/cbor-seq', 'application/json'],
  ['application/cbor', 'application/json'],
];

const asksJson = (accept: string) => (r: ReceivedRequest): void => {
  assert.deepEqual(header(r, 'accept'), [accept]);
  assert.deepEqual(header(r, 'accept-encoding'), []);
};
const jsonReply = (reply: RawReply): void => assert.match(reply.headers['content-type'] ?? '', /^application\/json/);
/** Why the misbehaving-upstream cases run against the stand-in only. */
const MISBEHAVING = 'a misbehaving upstream: the real kube-apiserver answers in the media type it was asked for, so only the stand-in can answer in another one';
const unmaskable = (subject: string, type: string): string =>
  `the upstream answered for ${subject} with content-type "${type}", which Gatehouse cannot mask; refusing to pass it on`;

table('media types: JSON asked of the upstream wherever a Secret could be, anything else refused', (t) => [
  ...JSON_ONLY.flatMap(([accept, upstreamAccept]): Case[] => [
    {
      name: `asks JSON for a Secret when the client asks ${accept}`,
      lines: [`GET ${BASE}/secrets/db HTTP/1.1`, `Accept: ${accept}`, 'Accept-Encoding: gzip'],
      status: 200,
      upstream: { method: 'GET', path: `${BASE}/secrets/db`, check: asksJson(upstreamAccept) },
      reply: jsonReply,
    },
    {
      name: `asks JSON for an object that embeds a Secret when the client asks ${accept}`,
      lines: [`GET ${t.embedded.path} HTTP/1.1`, `Accept: ${accept}`],
      status: 200,
      upstream: { method: 'GET', path: t.embedded.path, check: asksJson(upstreamAccept) },
      reply: jsonReply,
    },
  ]),
  ...WATCH_JSON_ONLY.map(
    ([accept, upstreamAccept]): Case => ({
      name: `asks JSON for a watch of Secrets when the client asks ${accept}`,
      lines: [`GET ${BASE}/secrets?watch=true&timeoutSeconds=1 HTTP/1.1`, `Accept: ${accept}`],
      status: 200,
      upstream: { method: 'GET', path: `${BASE}/secrets`, check: asksJson(upstreamAccept) },
      reply: jsonReply,
    }),
  ),
  ...(
    [
      ['a Secret', `${BASE}/secrets/db`, 'secrets "db" in namespace "default"', 'application/yaml'],
      ['a Secret', `${BASE}/secrets/db`, 'secrets "db" in namespace "default"', 'application/vnd.kubernetes.protobuf'],
      ['a Secret', `${BASE}/secrets/db`, 'secrets "db" in namespace "default"', 'application/cbor'],
      ['a Secret list', `${BASE}/secrets`, 'secrets in namespace "default"', 'application/vnd.kubernetes.protobuf'],
      ['a Secret list', `${BASE}/secrets`, 'secrets in namespace "default"', 'application/cbor'],
      ['a Secret Table', `${BASE}/secrets?includeObject=Object`, 'secrets in namespace "default"', 'application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io'],
      ['a watch of Secrets', `${BASE}/secrets?watch=true&timeoutSeconds=1`, 'secrets in namespace "default"', 'application/vnd.kubernetes.protobuf;stream=watch'],
      ['a watch of Secrets', `${BASE}/secrets?watch=true&timeoutSeconds=1`, 'secrets in namespace "default"', 'application/cbor-seq'],
      ['an object embedding a Secret', `${BASE}/configmaps/bundle`, 'configmaps "bundle" in namespace "default"', 'application/yaml'],
      ['an object embedding a Secret', `${BASE}/configmaps/bundle`, 'configmaps "bundle" in namespace "default"', 'application/cbor'],
      ['a list of objects', `${BASE}/configmaps`, 'configmaps in namespace "default"', 'application/cbor'],
      ['a list of Pods', `${BASE}/pods`, 'pods in namespace "default"', 'application/yaml'],
    ] as const
  ).map(
    ([what, target, subject, forced]): Case => ({
      name: `refuses ${what} the upstream answers in ${forced} though JSON was asked`,
      lines: [`GET ${target} HTTP/1.1`],
      misbehave: forced.startsWith('application/vnd.kubernetes.protobuf;stream') ? 'application/vnd.kubernetes.protobuf;stream=watch' : forced,
      standInOnly: MISBEHAVING,
      status: 502,
      reason: 'InternalError',
      message: unmaskable(subject, forced === 'application/cbor' && target.includes('watch') ? 'application/cbor-seq' : forced),
      upstream: { method: 'GET', path: target.split('?')[0] as string },
    }),
  ),
]);

// ─── what the cluster serves ────────────────────────────────────────────────
// The cases above can fail only if the cluster would hand out the values: here each media type
// and stream the cluster serves a Secret in is asked of the cluster directly (as the caller,
// impersonated by an identity allowed to), which must answer with a value, and through
// Gatehouse, which must answer JSON with placeholders (or refuse), and no value.

interface Served {
  what: string;
  /** Path and query. */
  target: (t: SecurityTarget) => string;
  accept?: string;
  /** A watch over WebSocket with this subprotocol. */
  websocket?: 'base64.binary.k8s.io' | 'binary.k8s.io';
  /** The content type the cluster answers with (its start). */
  type: string;
}

const SECRET_DB = `${BASE}/secrets/db`;
const WATCH_QUERY = 'watch=true&timeoutSeconds=1';
const SERVED: Served[] = [
  { what: 'a Secret as JSON', target: () => SECRET_DB, accept: 'application/json', type: 'application/json' },
  { what: 'a Secret as YAML', target: () => SECRET_DB, accept: 'application/yaml', type: 'application/yaml' },
  { what: 'a Secret as protobuf', target: () => SECRET_DB, accept: 'application/vnd.kubernetes.protobuf', type: 'application/vnd.kubernetes.protobuf' },
  { what: 'a Secret as CBOR', target: () => SECRET_DB, accept: 'application/cbor', type: 'application/cbor' },
  { what: 'a Secret with its last-applied stringData, as YAML', target: () => '/api/v1/namespaces/prod/secrets/api', accept: 'application/yaml', type: 'application/yaml' },
  { what: 'a list of Secrets as YAML', target: () => `${BASE}/secrets`, accept: 'application/yaml', type: 'application/yaml' },
  { what: 'a list of Secrets as protobuf', target: () => `${BASE}/secrets`, accept: 'application/vnd.kubernetes.protobuf', type: 'application/vnd.kubernetes.protobuf' },
  { what: 'a list of Secrets as CBOR', target: () => `${BASE}/secrets`, accept: 'application/cbor', type: 'application/cbor' },
  { what: 'a Table of Secrets with their objects', target: () => `${BASE}/secrets?includeObject=Object`, accept: 'application/json;as=Table;v=v1;g=meta.k8s.io', type: 'application/json' },
  { what: 'a watch of Secrets as JSON', target: () => `${BASE}/secrets?${WATCH_QUERY}`, accept: 'application/json', type: 'application/json' },
  { what: 'a watch of Secrets as protobuf', target: () => `${BASE}/secrets?${WATCH_QUERY}`, accept: 'application/vnd.kubernetes.protobuf', type: 'application/vnd.kubernetes.protobuf;stream=watch' },
  { what: 'a watch of Secrets as CBOR', target: () => `${BASE}/secrets?${WATCH_QUERY}`, accept: 'application/cbor', type: 'application/cbor-seq' },
  { what: 'a watch of Secrets through the legacy /watch/ path', target: () => '/api/v1/watch/namespaces/default/secrets?timeoutSeconds=1', accept: 'application/json', type: 'application/json' },
  { what: 'a watch of Secrets over WebSocket (base64.binary.k8s.io)', target: () => `${BASE}/secrets?${WATCH_QUERY}`, websocket: 'base64.binary.k8s.io', type: '' },
  { what: 'a watch of Secrets over WebSocket (binary.k8s.io)', target: () => `${BASE}/secrets?${WATCH_QUERY}`, websocket: 'binary.k8s.io', type: '' },
  { what: 'an object embedding a Secret manifest, as JSON', target: (t) => t.embedded.path, accept: 'application/json', type: 'application/json' },
  { what: 'an object embedding a Secret manifest, as YAML', target: (t) => t.embedded.path, accept: 'application/yaml', type: 'application/yaml' },
  { what: 'an object embedding a Secret manifest, as CBOR', target: (t) => t.embedded.path, accept: 'application/cbor', type: 'application/cbor' },
  { what: 'a watch of objects embedding Secret manifests, as JSON', target: (t) => `${t.embedded.list}?${WATCH_QUERY}`, accept: 'application/json', type: 'application/json' },
  { what: 'a watch of objects embedding Secret manifests over WebSocket', target: (t) => `${t.embedded.list}?${WATCH_QUERY}`, websocket: 'base64.binary.k8s.io', type: '' },
];

/** Every byte of an answer, WebSocket messages decoded (base64.binary.k8s.io sends base64 text). */
function answerBytes(reply: RawReply, websocket: Served['websocket']): Buffer {
  if (reply.status !== 101) return reply.raw;
  const payloads = websocketMessages(reply.bytes).map((m) => (websocket === 'base64.binary.k8s.io' ? Buffer.from(m.payload.toString('latin1'), 'base64') : m.payload));
  return Buffer.concat([reply.raw, ...payloads]);
}
/** Some value was masked: a placeholder (text, or base64 for Secret data) of the seeded values' size class is in the answer. */
const PLACEHOLDERS = [placeholderText(SECRET_VALUES[0]?.length ?? 0), placeholderBase64(SECRET_VALUES[0]?.length ?? 0)];

async function servedCase(f: SecurityFixture, c: Served): Promise<void> {
  const target = c.target(f.target);
  const lines = [
    `GET ${target} HTTP/1.1`,
    ...(c.accept === undefined ? [] : [`Accept: ${c.accept}`]),
    ...(c.websocket === undefined ? [] : [...WEBSOCKET, `Sec-WebSocket-Protocol: ${c.websocket}`, 'Origin: https://client.example']),
  ];
  // A WebSocket watch ends when the server closes it (timeoutSeconds), with a close frame.
  const direct = await f.direct(lines, { timeoutMs: 20_000 });
  assert.equal(direct.status, c.websocket === undefined ? 200 : 101, `the cluster's own answer: ${direct.head}`);
  if (c.websocket === undefined) assert.ok((direct.headers['content-type'] ?? '').startsWith(c.type), `the cluster answered ${direct.headers['content-type']}`);
  assert.notDeepEqual(leakedForms(answerBytes(direct, c.websocket)), [], 'the cluster itself did not hand out a value, so this case proves nothing');

  const from = f.mark();
  const reply = await f.send(lines, '', { timeoutMs: 20_000 });
  const seen = await f.seenSince(from);
  assert.deepEqual(leakedForms(answerBytes(reply, c.websocket)), [], 'a Secret value left Gatehouse');
  if (c.websocket !== undefined) {
    assert.equal(reply.status, 400, bodyText(reply));
    assert.deepEqual(statusIn(reply), { code: 400, reason: 'BadRequest', message: refusedUpgrade(target.split('?')[0] ?? '') });
    assert.deepEqual(seen, [], 'a refused upgrade reached the cluster');
    return;
  }
  assert.equal(reply.status, 200, bodyText(reply).slice(0, 300));
  assert.match(reply.headers['content-type'] ?? '', /^application\/json/);
  assert.ok(PLACEHOLDERS.some((p) => reply.body.includes(p)), `no placeholder in Gatehouse's answer: ${bodyText(reply).slice(0, 300)}`);
  assert.deepEqual(seen.map((r) => `${r.method} ${r.path}`), [`GET ${target.split('?')[0] ?? ''}`]);
  assert.deepEqual(f.impersonationProblems(seen[0] as SeenCall, reply.headers['audit-id']), []);
}

for (const target of TARGETS) {
  describe(`forwarding to ${target.name}`, { skip: target.real ? realClusterSkip() : false }, () => {
    let f: SecurityFixture;
    before(async () => {
      f = await startSecurityFixture(target);
    });
    after(() => f?.close());
    describe('every media type and stream the cluster serves a Secret in: the value from the cluster, none through Gatehouse', () => {
      for (const c of SERVED) test(`${c.what}${c.accept === undefined ? '' : ` (Accept: ${c.accept})`}`, () => servedCase(f, c));
    });
    for (const { title, cases } of TABLES) {
      describe(title, () => {
        for (const c of cases(target)) {
          if (target.real && c.standInOnly !== undefined) continue;
          test(c.name, () => run(f, target.real ? { ...c, ...c.real } : c));
        }
      });
    }
  });
}
