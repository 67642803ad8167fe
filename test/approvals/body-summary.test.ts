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
  test('protobuf is described, not shown', () => {
    const summary = summarizeBody(new Uint8Array([0x6b, 0x38, 0x73, 0x00, 0xff]), 'application/vnd.kubernetes.protobuf', 'pods');
    assert.deepEqual(summary, { kind: 'binary', contentType: 'application/vnd.kubernetes.protobuf', bytes: 5, text: '', truncated: false });
  });
  test('a large body is cut and says so', () => {
    const summary = summarizeBody(bytes({ data: { big: 'x'.repeat(20000) } }), 'application/json', 'configmaps');
    assert.equal(summary.text.length, BODY_SUMMARY_MAX_CHARS);
    assert.equal(summary.truncated, true);
  });
});
