// Property-based: random combinations of method, path, query, headers, Upgrade, Accept and
// body, sent to a real Gatehouse in front of each target (test/security/support.ts): the
// stand-in — which answers with Secrets in every shape (object, list, Table, watch, embedded
// manifest, last-applied annotation) and, when asked or told to misbehave, every media type
// (JSON, YAML, protobuf, CBOR, WebSocket) — for 250 runs, and a real kube-apiserver (which
// serves JSON, YAML, protobuf, CBOR and WebSocket watches when asked, and says in its audit log
// what it received) for 100: the real server cannot misbehave.
// Invariants, whatever the combination:
// - no Secret value, raw or base64, in any byte of the answer (WebSocket payloads decoded too);
// - never a 101 except for pods/exec, attach, portforward;
// - at most one upstream call per request, never one the policy forbids, and each exactly the
//   impersonated call (Gatehouse's token, the caller, Gatehouse's Audit-ID, allowlisted
//   headers only — no client identity or audit header).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { realClusterSkip } from '../kube/cluster.ts';
import { websocketMessages } from '../support/raw-https.ts';
import { leakedForms, startSecurityFixture, TARGETS, type SecurityFixture, type SecurityTarget } from './support.ts';

const METHODS = ['GET', 'GET', 'GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'PROPFIND'];
const PATHS = [
  '/api/v1/namespaces/default/secrets/db',
  '/api/v1/namespaces/default/secrets',
  '/api/v1/namespaces/kube-system/secrets',
  '/api/v1/namespaces/kube-system/secrets/signing',
  '/api/v1/secrets',
  '/api/v1/namespaces/prod/secrets/api',
  '/api/v1/namespaces/prod/secrets',
  '/api/v1/watch/namespaces/default/secrets',
  '/api/v1/watch/namespaces/kube-system/secrets',
  '/api/v1/namespaces/default/configmaps/bundle',
  '/api/v1/namespaces/default/configmaps',
  '/api/v1/namespaces/default/pods/web/exec',
  '/api/v1/namespaces/default/pods/web/attach',
  '/api/v1/namespaces/default/pods',
  '/api',
  '/version',
];
const QUERY = ['watch=true', 'watch=1', 'includeObject=Object', 'fieldSelector=metadata.name%3Ddb', 'fieldSelector=metadata.namespace%3Dkube-system', 'command=echo&command=hi', 'limit=1'];
const ACCEPTS = [
  undefined,
  'application/json',
  'application/yaml',
  'application/vnd.kubernetes.protobuf',
  'application/vnd.kubernetes.protobuf, application/json',
  'application/vnd.kubernetes.protobuf;stream=watch',
  'application/cbor',
  'application/cbor-seq',
  'application/json;as=Table;v=v1;g=meta.k8s.io,application/json',
  'application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io',
  'application/cbor;as=Table;v=v1;g=meta.k8s.io',
  'application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io',
  '*/*',
];
const KEY = ['Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='];
const UPGRADES: string[][] = [
  [],
  [],
  ['Connection: Upgrade', 'Upgrade: websocket', ...KEY, 'Sec-WebSocket-Protocol: base64.binary.k8s.io', 'Origin: https://attacker.example'],
  ['Connection: Upgrade', 'Upgrade: websocket', ...KEY, 'Sec-WebSocket-Protocol: binary.k8s.io', 'Origin: https://attacker.example'],
  ['Connection: Upgrade', 'Upgrade: websocket', ...KEY, 'Sec-WebSocket-Protocol: v5.channel.k8s.io'],
  ['Connection: Upgrade', 'Upgrade: SPDY/3.1', 'X-Stream-Protocol-Version: v4.channel.k8s.io'],
  ['Connection: Upgrade', 'Upgrade: h2c'],
  ['Upgrade: websocket'],
  ['Connection: upgrade'],
];
/** Client headers that must never reach the upstream; the values are recognisable there. */
const HOSTILE = [
  'X-Remote-User: hostile-remote-user',
  'X-Remote-Group: hostile-remote-group',
  'X-Remote-Extra-Scopes: hostile-extra',
  'Audit-Id: hostile-audit-id',
  'X-Forwarded-For: 203.0.113.66',
  'X-Forwarded-Host: hostile.example',
  'Cookie: hostile=cookie',
  'X-Http-Method-Override: DELETE',
  'Impersonate-User: hostile-impersonated',
  'Impersonate-Group: system:masters',
];
const FRIENDLY = ['User-Agent: kubectl/v1.33.0', 'Kubectl-Session: 7c3e', 'Kubectl-Command: kubectl get', 'Accept-Encoding: gzip', 'Content-Type: application/json'];
const BODIES = [
  undefined,
  '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"p"},"data":{"a":"b"}}',
  '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db"},"data":{"password":"cGxhaW4="}}',
  '{"data":{"a":"c"}}',
  `{"x":${'['.repeat(2000)}${']'.repeat(2000)}}`,
];
const MISBEHAVE = [undefined, undefined, 'application/yaml', 'application/vnd.kubernetes.protobuf', 'application/cbor', 'application/cbor-seq', 'application/vnd.kubernetes.protobuf;stream=watch'];

const requests = (t: SecurityTarget) => fc.record({
  method: fc.constantFrom(...METHODS),
  path: fc.constantFrom(...new Set([...PATHS, t.embedded.path, t.embedded.list])),
  query: fc.subarray(QUERY),
  accept: fc.constantFrom(...ACCEPTS),
  // Weighted so that about half the requests are ones Gatehouse forwards (no upgrade, no client
  // Impersonate-*, no body on a read): the invariants about what reaches the cluster need calls that reach it.
  upgrade: fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.constantFrom(...UPGRADES) }),
  hostile: fc.oneof({ weight: 2, arbitrary: fc.subarray(HOSTILE.filter((h) => !h.startsWith('Impersonate-'))) }, { weight: 1, arbitrary: fc.subarray(HOSTILE) }),
  friendly: fc.subarray(FRIENDLY),
  body: fc.oneof({ weight: 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom(...BODIES) }),
  misbehave: fc.constantFrom(...(t.real ? [undefined] : MISBEHAVE)),
});
type Generated = ReturnType<typeof requests> extends fc.Arbitrary<infer T> ? T : never;

const STREAMING = /\/pods\/[^/]+\/(exec|attach|portforward)$/;

/** What the policy forbids (restated from support.ts's POLICY, independently of Gatehouse's engine). */
function forbidden(method: string, path: string): boolean {
  if (!['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) return true;
  if (/\/namespaces\/kube-[^/]*\/secrets/.test(path)) return true;
  // Reading or deleting Secrets across all namespaces includes kube-system's, whatever the
  // selector narrows it to. A POST, PUT or PATCH of the all-namespaces collection names no
  // object and no namespace: the policy has none to refuse, and the API server serves no write
  // there (405), so a selector in its query changes nothing.
  if ((path === '/api/v1/secrets' || path === '/api/v1/watch/secrets') && ['GET', 'HEAD', 'DELETE'].includes(method)) return true;
  // A HEAD of a resource or of a REST discovery document: the API server routes none (405),
  // so Gatehouse forwards none; only proxy subresources take it.
  const segments = path.split('/').filter((s) => s !== '');
  if (method === 'HEAD' && (segments[0] === 'api' || (segments[0] === 'apis' && segments.length >= 3) || path === '/version') && !segments.includes('proxy')) return true;
  return method === 'DELETE' && path.includes('/namespaces/prod/');
}

async function check(f: SecurityFixture, r: Generated): Promise<void> {
  const writes = r.method !== 'GET' && r.method !== 'HEAD';
  const query = [...r.query, 'timeoutSeconds=1', ...(writes ? ['dryRun=All'] : [])];
  const lines = [
    `${r.method} ${r.path}?${query.join('&')} HTTP/1.1`,
    ...(r.accept === undefined ? [] : [`Accept: ${r.accept}`]),
    ...r.upgrade,
    ...r.hostile,
    ...r.friendly,
    ...(r.body === undefined ? [] : [`Content-Length: ${Buffer.byteLength(r.body)}`]),
  ];
  f.misbehave(r.misbehave);
  const from = f.mark();
  const closed = (bytes: Buffer): boolean => bytes.includes(Buffer.from([0x88, 0x02, 0x03, 0xe8]));
  let reply;
  try {
    reply = await f.send(lines, r.body ?? '', { timeoutMs: 15_000, until: closed });
  } finally {
    f.misbehave(undefined);
  }
  const received = await f.seenSince(from);
  const context = `${lines.join(' | ')} → ${reply.status}`;

  assert.deepEqual(leakedForms(reply.raw), [], `a Secret value left: ${context}`);
  if (reply.status === 101) {
    assert.match(r.path, STREAMING, `101 for a path that may not upgrade: ${context}`);
    for (const message of websocketMessages(reply.bytes)) {
      assert.deepEqual(leakedForms(Buffer.from(message.payload.toString('latin1'), 'base64')), [], `a Secret value in a WebSocket message: ${context}`);
    }
  }
  assert.ok(received.length <= 1, `${received.length} upstream calls: ${context}`);
  for (const call of received) {
    assert.ok(!forbidden(call.method, call.path), `the upstream received what the policy forbids: ${call.method} ${call.path}?${call.query} (${context})`);
    assert.deepEqual(f.impersonationProblems(call, reply.headers['audit-id']), [], context);
    // The stand-in keeps every header value; the real server's audit log, whom it ran the call as (checked above).
    const values = (call.received?.rawHeaders ?? []).filter((_, i) => i % 2 === 1).join('\n');
    assert.doesNotMatch(values, /hostile|203\.0\.113\.66|system:masters/, `a client identity or audit header reached the upstream: ${context}`);
  }
  if (forbidden(r.method, r.path)) assert.equal(received.length, 0, `a forbidden request was forwarded: ${context}`);
}

for (const target of TARGETS) {
  describe(`random requests to ${target.name}`, { skip: target.real ? realClusterSkip() : false }, () => {
    let f: SecurityFixture;
    before(async () => {
      f = await startSecurityFixture(target);
    });
    after(() => f?.close());
    test('no Secret value leaves and nothing unallowed reaches the upstream, for any request', async () => {
      await fc.assert(
        fc.asyncProperty(requests(target), (r) => check(f, r)),
        { numRuns: target.real ? 100 : 250, endOnFailure: true, includeErrorInReport: true },
      );
    });
  });
}

