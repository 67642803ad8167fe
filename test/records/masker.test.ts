// What the records keep of a protobuf request body: the object the API server decodes,
// masked like any JSON body — or, for what cannot be decoded unambiguously, nothing.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compileMaskingRules } from '../../src/masking/masking-rules.ts';
import { recordProtobufReader } from '../../src/records/masker.ts';
import { classifyRequest } from '../../src/request-info.ts';

const ld = (field: number, payload: number[] | string): number[] => {
  const bytes = typeof payload === 'string' ? [...Buffer.from(payload)] : payload;
  return [(field << 3) | 2, bytes.length, ...bytes];
};
const envelope = (kind: string, ...raws: number[][]): Uint8Array =>
  new Uint8Array([0x6b, 0x38, 0x73, 0x00, ...ld(1, [...ld(1, 'v1'), ...ld(2, kind)]), ...raws.flatMap((raw) => ld(2, raw))]);
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
const SECRETS = classifyRequest('POST', '/api/v1/namespaces/prod/secrets', '', { runtime: 'node' });
const CONFIGMAPS = classifyRequest('POST', '/api/v1/namespaces/prod/configmaps', '', { runtime: 'node' });

describe('recordProtobufReader', () => {
  test('a protobuf Secret is recorded as its object, values masked, keys kept', () => {
    const body = envelope('Secret', [...ld(1, ld(1, 'db')), ...ld(2, [...ld(1, 'password'), ...ld(2, 'hunter2-value')])]);
    const read = recordProtobufReader(undefined)(body, SECRETS);
    assert.ok(read !== undefined);
    assert.equal(read.masked, true);
    const recorded = JSON.parse(read.text) as { kind: string; metadata: { name: string }; data: Record<string, string> };
    assert.deepEqual([recorded.kind, recorded.metadata.name, Object.keys(recorded.data)], ['Secret', 'db', ['password']]);
    assert.ok(!read.text.includes('hunter2') && !read.text.includes(Buffer.from('hunter2-value').toString('base64')));
  });

  test("a protobuf ConfigMap's last-applied annotation holding a Secret is masked, not dropped", () => {
    const applied = JSON.stringify({ kind: 'Secret', stringData: { password: 'hunter2-value' } });
    const body = envelope('ConfigMap', [...ld(1, [...ld(1, 'c'), ...ld(12, [...ld(1, LAST_APPLIED), ...ld(2, applied)])])]);
    const read = recordProtobufReader(undefined)(body, CONFIGMAPS);
    assert.ok(read !== undefined);
    assert.ok(!read.text.includes('hunter2'), read.text);
  });

  test('ConfigMap keys a masking rule names are masked in protobuf too', () => {
    const rules = compileMaskingRules([{ name: 'pw', configMapKeys: ['*password*'] }]);
    const body = envelope('ConfigMap', [...ld(1, ld(1, 'c')), ...ld(2, [...ld(1, 'db_password'), ...ld(2, 'hunter2-value')])]);
    const read = recordProtobufReader(rules)(body, CONFIGMAPS);
    assert.ok(read !== undefined && !read.text.includes('hunter2'), read?.text);
  });

  test('a body that repeats its object is not recorded as either copy', () => {
    const body = envelope('Secret', ld(1, ld(1, 'a')), ld(1, ld(1, 'b')));
    assert.equal(recordProtobufReader(undefined)(body, SECRETS), undefined);
  });

  test('a kind without a schema is not recorded', () => {
    assert.equal(recordProtobufReader(undefined)(envelope('Pod', ld(1, ld(1, 'p'))), SECRETS), undefined);
  });
});
