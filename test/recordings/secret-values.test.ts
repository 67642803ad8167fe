/**
 * The Secret values a recording redacts, read from the kube-apiserver stand-in over HTTPS
 * through the kubeconfig upstream adapter, impersonating the redactor user — and refused,
 * naming why, when the cluster's RBAC does not let that user list them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKubeconfigUpstream } from '../../src/adapters/kubeconfig-upstream.ts';
import { GatehouseError } from '../../src/errors.ts';
import { parseMaskingRules } from '../../src/masking/masking-rules.ts';
import { REDACTOR_USER, redactionSource } from '../../src/recordings/secret-values.ts';
import { startFakeApiServer } from '../stand-in/apiserver.ts';
import type { FakeApiServer } from '../stand-in/apiserver.ts';

let api: FakeApiServer;
before(async () => {
  api = await startFakeApiServer({ deny: [{ user: REDACTOR_USER, resources: ['secrets'], namespaces: ['locked'] }] });
  for (const namespace of ['prod', 'locked']) {
    api.store.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });
    api.store.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace }, type: 'Opaque', data: { password: Buffer.from(`${namespace}-s3cret`).toString('base64') } });
  }
});
after(async () => {
  await api?.close();
});

const masking = parseMaskingRules(
  [
    { name: 'terminals', namespaces: ['prod', 'locked'], recordingPatterns: ['AKIA[0-9A-Z]{16}'] },
    { name: 'no-lookups-in-dev', namespaces: ['dev'], recordingSecretValues: false },
  ],
  'policy.yaml',
);
const info = (namespace: string) => ({ requestId: 'r1', kind: 'exec' as const, user: 'alice', namespace, pod: 'db-0', tty: true, startedAt: '2025-03-01T00:00:00.000Z' });

describe('Secret values for redaction, read upstream', () => {
  test("reads the namespace's Secret values as the redactor user, with the policy's patterns", async () => {
    const rules = await redactionSource({ masking, sources: [{ upstream: createKubeconfigUpstream({ kubeconfig: api.kubeconfigPath }) }], windowChars: 128 })(info('prod'));
    assert.deepEqual([...rules.literals].sort(), [Buffer.from('prod-s3cret').toString('base64'), 'prod-s3cret'].sort());
    assert.deepEqual(rules.patterns.map(String), ['/AKIA[0-9A-Z]{16}/']);
    assert.equal(rules.windowChars, 128);
    const read = api.received.filter((r) => r.path === '/api/v1/namespaces/prod/secrets');
    assert.equal(read.length, 1);
    assert.equal(read[0]?.headers['impersonate-user'], REDACTOR_USER);
  });

  test('with no masking rules at all, the namespace\'s Secret values are read and redacted (the default)', async () => {
    const rules = await redactionSource({ masking: undefined, sources: [{ upstream: createKubeconfigUpstream({ kubeconfig: api.kubeconfigPath }) }], windowChars: 64 })(info('prod'));
    assert.deepEqual([...rules.literals].sort(), [Buffer.from('prod-s3cret').toString('base64'), 'prod-s3cret'].sort());
    assert.deepEqual(rules.patterns, []);
  });

  test('a namespace whose rules opt out of Secret values reads none', async () => {
    const before = api.received.length;
    const rules = await redactionSource({ masking, sources: [{ upstream: createKubeconfigUpstream({ kubeconfig: api.kubeconfigPath }) }], windowChars: 128 })(info('dev'));
    assert.deepEqual(rules, { literals: [], patterns: [], windowChars: 128 });
    assert.equal(api.received.length, before);
  });

  test('Secrets the redactor may not list make the values unknown: an error naming the namespace, the answer and the RBAC file', async () => {
    await assert.rejects(redactionSource({ masking, sources: [{ upstream: createKubeconfigUpstream({ kubeconfig: api.kubeconfigPath }) }], windowChars: 128 })(info('locked')), (error: unknown) => {
      assert.ok(error instanceof GatehouseError);
      assert.equal(error.code, 'ERR_RECORD_UNAVAILABLE');
      assert.equal(error.message, 'the Secrets of namespace "locked" could not be read as gatehouse:recording-redactor to redact them (the cluster answered 403; see infra/rbac/recording-redactor.yaml)');
      return true;
    });
  });
});

describe('Secret values for redaction on a Gatehouse that fronts several clusters', () => {
  // A session names its cluster: only that cluster's values of the namespace are read and redacted.
  let other: FakeApiServer;
  before(async () => {
    other = await startFakeApiServer({ deny: [{ user: REDACTOR_USER, resources: ['secrets'], namespaces: ['locked'] }] });
    for (const namespace of ['prod', 'locked']) {
      other.store.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });
      other.store.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace }, type: 'Opaque', data: { password: Buffer.from(`${namespace}-other-cluster`).toString('base64') } });
    }
  });
  after(async () => {
    await other?.close();
  });
  const sources = () => [
    { cluster: 'eu', upstream: createKubeconfigUpstream({ kubeconfig: api.kubeconfigPath }) },
    { cluster: 'us', upstream: createKubeconfigUpstream({ kubeconfig: other.kubeconfigPath }) },
  ];

  const on = (cluster: string | undefined, namespace: string) => ({ ...info(namespace), ...(cluster === undefined ? {} : { cluster }) });

  for (const [cluster, values] of [
    ['eu', ['prod-s3cret', b64('prod-s3cret')]],
    ['us', ['prod-other-cluster', b64('prod-other-cluster')]],
  ] as const) {
    test(`a session on cluster ${cluster} redacts that cluster's Secret values of the namespace, and reads no other cluster`, async () => {
      const rules = await redactionSource({ masking: undefined, sources: sources(), windowChars: 64 })(on(cluster, 'prod'));
      assert.deepEqual([...rules.literals].sort(), [...values].sort());
    });
  }

  test('the session\'s cluster refusing the redactor refuses the session, naming the cluster', async () => {
    await assert.rejects(redactionSource({ masking: undefined, sources: sources(), windowChars: 64 })(on('us', 'locked')), (error: unknown) => {
      assert.ok(error instanceof GatehouseError);
      assert.equal(error.code, 'ERR_RECORD_UNAVAILABLE');
      assert.equal(error.message, 'the Secrets of namespace "locked" on cluster "us" could not be read as gatehouse:recording-redactor to redact them (the cluster answered 403; see infra/rbac/recording-redactor.yaml)');
      return true;
    });
  });

  for (const [label, cluster, why] of [
    ['a session naming no cluster', undefined, 'the session names no cluster'],
    ['a session naming a cluster that is not configured', 'ap', 'no cluster named "ap" is configured'],
  ] as const) {
    test(`${label} is refused: Gatehouse does not guess whose Secrets to redact`, async () => {
      await assert.rejects(redactionSource({ masking: undefined, sources: sources(), windowChars: 64 })(on(cluster, 'prod')), (error: unknown) => {
        assert.ok(error instanceof GatehouseError);
        assert.equal(error.code, 'ERR_RECORD_UNAVAILABLE');
        assert.equal(error.message, `the Secrets of namespace "prod" cannot be read to redact them: ${why}`);
        return true;
      });
    });
  }
});

function b64(value: string): string {
  return Buffer.from(value).toString('base64');
}
