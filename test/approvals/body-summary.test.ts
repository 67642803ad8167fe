import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BODY_SUMMARY_MAX_CHARS, HIGHLIGHTS_MAX_CHARS, bodyDecidable, summarizeBody } from '../../src/approvals/body-summary.ts';
import { decodeKubernetesProtobuf } from '../../src/approvals/protobuf-summary.ts';
import { compileMaskingRules } from '../../src/masking/masking-rules.ts';
import { classifyRequest } from '../../src/request-info.ts';

const bytes = (value: unknown): Uint8Array => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));
const request = (method: string, path: string) => classifyRequest(method, path, '', { runtime: 'node' });
const CREATE_POD = request('POST', '/api/v1/namespaces/prod/pods');
const CREATE_CM = request('POST', '/api/v1/namespaces/prod/configmaps');
const CREATE_SECRET = request('POST', '/api/v1/namespaces/prod/secrets');
const PATCH_SECRET = request('PATCH', '/api/v1/namespaces/prod/secrets/db');
const PATCH_DEPLOY = request('PATCH', '/apis/apps/v1/namespaces/prod/deployments/web');
const CREATE_BINDING = request('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/prod/rolebindings');
const JSON_TYPE = 'application/json';

describe('body summary: decoded as the API server decodes it', () => {
  test('no body is "none"', () => {
    assert.deepEqual(summarizeBody(new Uint8Array(0), '', CREATE_POD), { kind: 'none', contentType: '', bytes: 0, text: '', truncated: false });
  });
  test('a JSON object is pretty-printed', () => {
    const summary = summarizeBody(bytes({ kind: 'ConfigMap', data: { a: '1' } }), JSON_TYPE, CREATE_CM);
    assert.equal(summary.kind, 'object');
    assert.equal(summary.text, JSON.stringify({ kind: 'ConfigMap', data: { a: '1' } }, null, 2));
  });
  test('a merge patch is shown as the change itself', () => {
    const summary = summarizeBody(bytes({ spec: { replicas: 0 } }), 'application/merge-patch+json; charset=utf-8', PATCH_DEPLOY);
    assert.equal(summary.kind, 'patch');
    assert.equal(summary.contentType, 'application/merge-patch+json');
  });
  test('a duplicate JSON key shows the last value, the one the API server keeps', () => {
    const text = '{"kind":"RoleBinding","roleRef":{"kind":"ClusterRole","name":"view"},"roleRef":{"kind":"ClusterRole","name":"cluster-admin"}}';
    const summary = summarizeBody(bytes(text), JSON_TYPE, CREATE_BINDING);
    assert.ok(!summary.text.includes('"view"'), summary.text);
    assert.match(summary.highlights ?? '', /roleRef: \{"kind":"ClusterRole","name":"cluster-admin"\}/);
  });
  test('a key named __proto__ is shown, not swallowed', () => {
    const summary = summarizeBody(bytes('{"kind":"ConfigMap","data":{"__proto__":"hidden-value","a":"1"}}'), JSON_TYPE, CREATE_CM);
    assert.match(summary.text, /"__proto__": "hidden-value"/);
  });
  test('YAML is decoded as YAML 1.1 with last-wins keys: "privileged: yes" shows true', () => {
    const yaml = 'kind: Pod\nspec:\n  containers:\n  - name: a\n    securityContext:\n      privileged: no\n      privileged: yes\n';
    const summary = summarizeBody(bytes(yaml), 'application/yaml', CREATE_POD);
    assert.equal(summary.kind, 'object');
    assert.match(summary.highlights ?? '', /spec\.containers\[0\]\.securityContext: \{"privileged":true\}/);
  });
  test('YAML merge keys are resolved as the API server resolves them', () => {
    const yaml = 'kind: Pod\nx: &host {hostPID: true}\nspec:\n  <<: *host\n  containers: []\n';
    const summary = summarizeBody(bytes(yaml), 'application/yaml', CREATE_POD);
    assert.match(summary.highlights ?? '', /spec\.hostPID: true/);
  });
  test('server-side apply YAML is shown, not counted in bytes', () => {
    const summary = summarizeBody(bytes('apiVersion: v1\nkind: ConfigMap\ndata:\n  a: "1"\n'), 'application/apply-patch+yaml', CREATE_CM);
    assert.equal(summary.kind, 'patch');
    assert.match(summary.text, /"a": "1"/);
  });
  test('JSON sent under a JSON patch type is parsed as JSON', () => {
    const summary = summarizeBody(bytes([{ op: 'add', path: '/spec/template/spec/hostNetwork', value: true }]), 'application/json-patch+json', PATCH_DEPLOY);
    assert.match(summary.highlights ?? '', /\[0\] add \/spec\/template\/spec\/hostNetwork: true/);
  });
});

describe('body summary: masking, as everywhere else', () => {
  test('Secret values are masked, keys kept', () => {
    const summary = summarizeBody(bytes({ kind: 'Secret', metadata: { name: 's' }, data: { password: 'aHVudGVyMg==' }, stringData: { token: 'abc' } }), JSON_TYPE, CREATE_SECRET);
    assert.ok(!summary.text.includes('aHVudGVyMg=='));
    assert.ok(!summary.text.includes('"abc"'));
    assert.deepEqual(Object.keys(JSON.parse(summary.text).data), ['password']);
  });
  test('JSON patch values aimed at a Secret are masked', () => {
    const summary = summarizeBody(bytes([{ op: 'replace', path: '/data/password', value: 'c2VjcmV0' }]), 'application/json-patch+json', PATCH_SECRET);
    assert.ok(!summary.text.includes('c2VjcmV0'), summary.text);
  });
  test('a merge patch of a Secret that names no kind is masked', () => {
    const summary = summarizeBody(bytes({ stringData: { password: 'hunter2' } }), 'application/merge-patch+json', PATCH_SECRET);
    assert.ok(!summary.text.includes('hunter2'), summary.text);
  });
  test('the last-applied-configuration annotation of a Secret shows no value', () => {
    const applied = JSON.stringify({ kind: 'Secret', stringData: { password: 'hunter2' } });
    const body = { kind: 'Secret', metadata: { name: 'db', annotations: { 'kubectl.kubernetes.io/last-applied-configuration': applied } }, stringData: { password: 'hunter2' } };
    const summary = summarizeBody(bytes(body), JSON_TYPE, CREATE_SECRET);
    assert.ok(!summary.text.includes('hunter2'), summary.text);
  });
  test('a Secret inside a List is masked even when the target is not secrets', () => {
    const summary = summarizeBody(bytes({ kind: 'List', items: [{ kind: 'Secret', data: { k: 'dmVyeXNlY3JldA==' } }] }), JSON_TYPE, request('POST', '/api/v1/namespaces/prod/lists'));
    assert.ok(!summary.text.includes('dmVyeXNlY3JldA=='));
  });
  test('configured env masking applies to the page too', () => {
    const rules = compileMaskingRules([{ name: 'tokens', envNames: ['*_TOKEN'] }]);
    const pod = { kind: 'Pod', spec: { containers: [{ name: 'a', env: [{ name: 'API_TOKEN', value: 'tok-123456' }] }] } };
    const summary = summarizeBody(bytes(pod), JSON_TYPE, CREATE_POD, rules);
    assert.ok(!summary.text.includes('tok-123456'), summary.text);
  });
});

describe('body summary: security-relevant fields first, cuts said plainly', () => {
  const bloatedPod = {
    kind: 'Pod',
    metadata: { name: 'x', annotations: { filler: 'y'.repeat(60_000), more: 'z'.repeat(9000) } },
    spec: { hostPID: true, containers: [{ name: 'a', image: 'busybox', securityContext: { privileged: true } }], volumes: [{ name: 'root', hostPath: { path: '/' } }] },
  };
  const summary = summarizeBody(bytes(bloatedPod), JSON_TYPE, CREATE_POD);
  test('a large annotation placed first does not push privileged, hostPID or hostPath off the page', () => {
    assert.match(summary.highlights ?? '', /spec\.hostPID: true/);
    assert.match(summary.highlights ?? '', /spec\.containers\[0\]\.securityContext: \{"privileged":true\}/);
    assert.match(summary.highlights ?? '', /spec\.volumes: \[\{"name":"root","hostPath":\{"path":"\/"\}\}\]/);
  });
  test('long values are shortened and the summary says so', () => {
    assert.equal(summary.truncated, true);
    assert.match(summary.cut ?? '', /2 string values are longer than 512 characters and shown shortened/);
    assert.ok(summary.text.length <= BODY_SUMMARY_MAX_CHARS);
  });
  test('a body longer than the page says how much is cut', () => {
    const many = { kind: 'ConfigMap', data: Object.fromEntries(Array.from({ length: 800 }, (_, i) => [`key-${i}`, 'v'])) };
    const cut = summarizeBody(bytes(many), JSON_TYPE, CREATE_CM);
    assert.equal(cut.text.length, BODY_SUMMARY_MAX_CHARS);
    assert.match(cut.cut ?? '', new RegExp(`cut after ${BODY_SUMMARY_MAX_CHARS} of its \\d+ characters`));
  });
  test('security fields too long for the page make the body unshowable, never cut', () => {
    const pod = { kind: 'Pod', spec: { volumes: Array.from({ length: 400 }, (_, i) => ({ name: `v${i}`, hostPath: { path: `/host/${i}` } })) } };
    const unshowable = summarizeBody(bytes(pod), JSON_TYPE, CREATE_POD);
    assert.equal(unshowable.kind, 'unshowable');
    assert.match(unshowable.reason ?? '', new RegExp(`more than the ${HIGHLIGHTS_MAX_CHARS} a page shows in full`));
    assert.equal(bodyDecidable(unshowable), false);
  });
  test('a JSON Patch copy into volumes names where the value comes from', () => {
    const s = summarizeBody(bytes([{ op: 'copy', from: '/metadata/annotations/x', path: '/spec/template/spec/volumes/0' }]), 'application/json-patch+json', PATCH_DEPLOY);
    assert.match(s.highlights ?? '', /\[0\] copy \/spec\/template\/spec\/volumes\/0 from \/metadata\/annotations\/x: null/);
  });
  test('a security key hidden under a JSON Patch path is a highlight', () => {
    const s = summarizeBody(bytes([{ op: 'add', path: '/spec/template/spec/volumes/-', value: { name: 'r', hostPath: { path: '/' } } }]), 'application/json-patch+json', PATCH_DEPLOY);
    assert.match(s.highlights ?? '', /add \/spec\/template\/spec\/volumes\/-/);
  });
});

describe('body summary: what cannot be shown cannot be approved', () => {
  const cases: [string, Uint8Array, string, RegExp][] = [
    ['a body with no Content-Type', bytes({ kind: 'Pod' }), '', /declares no Content-Type/],
    ['CBOR', new Uint8Array([0xd9, 0xd9, 0xf7, 0xa0]), 'application/cbor', /cannot show a application\/cbor body/],
    ['JSON that does not parse', bytes('{"kind":'), JSON_TYPE, /does not parse/],
    ['JSON that is not UTF-8', new Uint8Array([0x7b, 0xff, 0x7d]), JSON_TYPE, /not valid UTF-8/],
    ['several YAML documents in one body', bytes('kind: Pod\n---\nkind: Pod\n'), 'application/yaml', /does not parse/],
    ['bytes declared as protobuf without its prefix', bytes('{"kind":"Pod"}'), 'application/vnd.kubernetes.protobuf', /"k8s\\0" prefix/],
  ];
  for (const [name, body, type, reason] of cases) {
    test(`${name} is unshowable, with the reason`, () => {
      const summary = summarizeBody(body, type, CREATE_POD);
      assert.equal(summary.kind, 'unshowable');
      assert.match(summary.reason ?? '', reason);
      assert.equal(bodyDecidable(summary), false);
    });
  }
});

// ─── protobuf (kubectl ≥ 1.33 sends ConfigMaps and Secrets as application/vnd.kubernetes.protobuf) ───
function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}
function ld(field: number, payload: number[] | string): number[] {
  const b = typeof payload === 'string' ? [...new TextEncoder().encode(payload)] : payload;
  return [...varint((field << 3) | 2), ...varint(b.length), ...b];
}
function bool(field: number, value: boolean): number[] {
  return [...varint(field << 3), value ? 1 : 0];
}
function envelope(apiVersion: string, kind: string, ...raws: number[][]): Uint8Array {
  return new Uint8Array([0x6b, 0x38, 0x73, 0x00, ...ld(1, [...ld(1, apiVersion), ...ld(2, kind)]), ...raws.flatMap((raw) => ld(2, raw)), ...ld(4, '')]);
}
const PROTOBUF = 'application/vnd.kubernetes.protobuf';
const metadata = (name: string, namespace: string) => ld(1, [...ld(1, name), ...ld(3, namespace)]);
const subject = (name: string) => ld(2, [...ld(1, 'User'), ...ld(2, 'rbac.authorization.k8s.io'), ...ld(3, name)]);
const roleRef = (name: string) => ld(3, [...ld(1, 'rbac.authorization.k8s.io'), ...ld(2, 'ClusterRole'), ...ld(3, name)]);

describe('protobuf body summary', () => {
  test('a ConfigMap is decoded into the object the API server sees', () => {
    const summary = summarizeBody(envelope('v1', 'ConfigMap', [...metadata('app-config', 'prod'), ...ld(2, [...ld(1, 'owner'), ...ld(2, 'team-a')]), ...bool(4, true)]), PROTOBUF, CREATE_CM);
    assert.equal(summary.kind, 'protobuf');
    assert.deepEqual(JSON.parse(summary.text), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'app-config', namespace: 'prod' }, data: { owner: 'team-a' }, immutable: true });
  });
  test('a Secret shows metadata and keys, never values', () => {
    const object = [...metadata('db', 'prod'), ...ld(2, [...ld(1, 'password'), ...ld(2, 'hunter2')]), ...ld(3, 'Opaque')];
    const summary = summarizeBody(envelope('v1', 'Secret', object), PROTOBUF, CREATE_SECRET);
    assert.ok(!summary.text.includes('hunter2'), summary.text);
    assert.ok(!summary.text.includes(Buffer.from('hunter2').toString('base64')), summary.text);
    assert.deepEqual(Object.keys(JSON.parse(summary.text).data), ['password']);
  });
  test('a RoleBinding shows its subjects and role first', () => {
    const summary = summarizeBody(envelope('rbac.authorization.k8s.io/v1', 'RoleBinding', [...metadata('b', 'prod'), ...subject('bob'), ...roleRef('view')]), PROTOBUF, CREATE_BINDING);
    assert.match(summary.highlights ?? '', /subjects: \[\{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"bob"\}\]/);
    assert.match(summary.highlights ?? '', /roleRef: \{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"\}/);
  });
  test('a repeated map key keeps the last value, as the decoder does', () => {
    const object = [...metadata('c', 'prod'), ...ld(2, [...ld(1, 'k'), ...ld(2, 'first')]), ...ld(2, [...ld(1, 'k'), ...ld(2, 'last')])];
    const decoded = decodeKubernetesProtobuf(envelope('v1', 'ConfigMap', object));
    assert.ok(decoded.ok);
    assert.deepEqual(decoded.object['data'], { k: 'last' });
  });

  const refused: [string, Uint8Array, RegExp][] = [
    [
      'a second runtime.Unknown.Raw ("bob gets view", then "alice gets cluster-admin")',
      envelope('rbac.authorization.k8s.io/v1', 'RoleBinding', [...metadata('b', 'prod'), ...subject('bob'), ...roleRef('view')], [...metadata('b', 'prod'), ...subject('alice'), ...roleRef('cluster-admin')]),
      /the protobuf envelope\.raw appears more than once/,
    ],
    ['a repeated roleRef', envelope('rbac.authorization.k8s.io/v1', 'RoleBinding', [...metadata('b', 'prod'), ...subject('bob'), ...roleRef('view'), ...roleRef('cluster-admin')]), /RoleBinding\.roleRef appears more than once/],
    ['a repeated name in metadata', envelope('v1', 'ConfigMap', [...ld(1, [...ld(1, 'a'), ...ld(1, 'b')])]), /ConfigMap\.metadata\.name appears more than once/],
    ['a repeated kind in the TypeMeta', new Uint8Array([0x6b, 0x38, 0x73, 0x00, ...ld(1, [...ld(1, 'v1'), ...ld(2, 'ConfigMap'), ...ld(2, 'Secret')]), ...ld(2, metadata('a', 'b'))]), /typeMeta\.kind appears more than once/],
    ['a field the schema does not know', envelope('v1', 'ConfigMap', [...metadata('a', 'b'), ...ld(9, 'smuggled')]), /holds field 9/],
    ['a Pod, whose fields are numbers without names', envelope('v1', 'Pod', metadata('a', 'b')), /cannot show a Pod \(v1\) sent as protobuf field by field; send it as JSON/],
    ['a content encoding in the envelope', new Uint8Array([0x6b, 0x38, 0x73, 0x00, ...ld(1, [...ld(1, 'v1'), ...ld(2, 'ConfigMap')]), ...ld(2, metadata('a', 'b')), ...ld(3, 'gzip')]), /content encoding "gzip"/],
    ['a string where a message belongs, wrong wire type', envelope('v1', 'ConfigMap', [...varint(1 << 3), 1]), /wire type 0 where a message is expected/],
    ['a body that ends inside a field', new Uint8Array([0x6b, 0x38, 0x73, 0x00, 0x0a, 0x40, 0x01]), /ends inside field 1/],
  ];
  for (const [name, body, reason] of refused) {
    test(`${name} cannot be shown, so cannot be approved`, () => {
      const summary = summarizeBody(body, PROTOBUF, CREATE_BINDING);
      assert.equal(summary.kind, 'unshowable');
      assert.match(summary.reason ?? '', reason);
    });
  }
});
