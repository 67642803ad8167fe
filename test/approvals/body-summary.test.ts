import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BODY_SUMMARY_MAX_CHARS, summarizeBody } from '../../src/approvals/body-summary.ts';

const bytes = (value: unknown): Uint8Array => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));

describe('body summary', () => {
  test('no body is "none"', () => {
    assert.deepEqual(summarizeBody(new Uint8Array(0), '', 'pods'), { kind: 'none', contentType: '', bytes: 0, text: '', truncated: false });
  });
  test('a JSON object is pretty-printed', () => {
    const summary = summarizeBody(bytes({ kind: 'ConfigMap', data: { a: '1' } }), 'application/json', 'configmaps');
    assert.equal(summary.kind, 'object');
    assert.equal(summary.text, JSON.stringify({ kind: 'ConfigMap', data: { a: '1' } }, null, 2));
  });
  test('a merge patch is shown as the change itself', () => {
    const summary = summarizeBody(bytes({ spec: { replicas: 0 } }), 'application/merge-patch+json; charset=utf-8', 'deployments');
    assert.equal(summary.kind, 'patch');
    assert.equal(summary.contentType, 'application/merge-patch+json');
  });
  test('Secret values are masked, keys kept', () => {
    const summary = summarizeBody(bytes({ kind: 'Secret', metadata: { name: 's' }, data: { password: 'aHVudGVyMg==' }, stringData: { token: 'abc' } }), 'application/json', 'secrets');
    assert.ok(!summary.text.includes('aHVudGVyMg=='));
    assert.ok(!summary.text.includes('"abc"'));
    assert.deepEqual(JSON.parse(summary.text).data, { password: '<masked>' });
    assert.deepEqual(JSON.parse(summary.text).stringData, { token: '<masked>' });
  });
  test('JSON patch values aimed at a Secret are masked', () => {
    const summary = summarizeBody(bytes([{ op: 'replace', path: '/data/password', value: 'c2VjcmV0' }]), 'application/json-patch+json', 'secrets');
    assert.deepEqual(JSON.parse(summary.text), [{ op: 'replace', path: '/data/password', value: '<masked>' }]);
  });
  test('a Secret inside a List is masked even when the target is not secrets', () => {
    const summary = summarizeBody(bytes({ kind: 'List', items: [{ kind: 'Secret', data: { k: 'dg==' } }] }), 'application/json', 'lists');
    assert.ok(!summary.text.includes('dg=='));
  });
  test('an unknown binary body is described, not shown', () => {
    const summary = summarizeBody(new Uint8Array([0x6b, 0x38, 0x73, 0x00, 0xff]), 'application/vnd.kubernetes.protobuf', 'pods');
    assert.deepEqual(summary, { kind: 'binary', contentType: 'application/vnd.kubernetes.protobuf', bytes: 5, text: '', truncated: false });
  });
  test('a large body is cut and says so', () => {
    const summary = summarizeBody(bytes({ data: { big: 'x'.repeat(20000) } }), 'application/json', 'configmaps');
    assert.equal(summary.text.length, BODY_SUMMARY_MAX_CHARS);
    assert.equal(summary.truncated, true);
  });
});

// ─── protobuf (kubectl sends core objects as application/vnd.kubernetes.protobuf) ─────────
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
  const bytes = typeof payload === 'string' ? [...new TextEncoder().encode(payload)] : payload;
  return [...varint((field << 3) | 2), ...varint(bytes.length), ...bytes];
}
function k8sProto(apiVersion: string, kind: string, object: number[]): Uint8Array {
  return new Uint8Array([0x6b, 0x38, 0x73, 0x00, ...ld(1, [...ld(1, apiVersion), ...ld(2, kind)]), ...ld(2, object), ...ld(4, '')]);
}
const PROTOBUF = 'application/vnd.kubernetes.protobuf';

describe('protobuf body summary', () => {
  test('a ConfigMap shows its kind and the text it holds, in order', () => {
    const object = [...ld(1, [...ld(1, 'app-config'), ...ld(3, 'prod')]), ...ld(2, [...ld(1, 'owner'), ...ld(2, 'team-a')])];
    const summary = summarizeBody(k8sProto('v1', 'ConfigMap', object), PROTOBUF, 'configmaps');
    assert.equal(summary.kind, 'protobuf');
    assert.equal(summary.text, ['kind: ConfigMap (v1), sent as protobuf; the text it holds, in order:', '  "app-config"', '  "prod"', '  "owner"', '  "team-a"'].join('\n'));
  });
  test('a Secret shows metadata and keys, never values', () => {
    const object = [...ld(1, ld(1, 'db')), ...ld(2, [...ld(1, 'password'), ...ld(2, 'hunter2')]), ...ld(3, 'Opaque')];
    const summary = summarizeBody(k8sProto('v1', 'Secret', object), PROTOBUF, 'secrets');
    assert.ok(!summary.text.includes('hunter2'), summary.text);
    assert.match(summary.text, /"db"/);
    assert.match(summary.text, /"password: <masked>"/);
    assert.match(summary.text, /"Opaque"/);
  });
  test('bytes that are not a Kubernetes protobuf object stay binary', () => {
    assert.equal(summarizeBody(new Uint8Array([0x6b, 0x38, 0x73, 0x00, 0xff, 0xff]), PROTOBUF, 'pods').kind, 'binary');
  });
});
