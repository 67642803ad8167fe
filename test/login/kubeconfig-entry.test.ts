import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeKubeconfigEntry, type KubeconfigEntry } from '../../src/login/kubeconfig-entry.ts';

const entry: KubeconfigEntry = {
  name: 'gatehouse',
  server: 'https://abc.lambda-url.eu-west-1.on.aws',
  exec: { command: '/opt/gatehouse/bin/gatehouse.mjs', args: ['credential', '--issuer', 'https://idp.example.com', '--client-id', 'cli'] },
};

const existing = {
  apiVersion: 'v1',
  kind: 'Config',
  'current-context': 'prod-admin',
  clusters: [{ name: 'prod', cluster: { server: 'https://prod.example.com' } }],
  users: [{ name: 'admin', user: { token: 'keep-me' } }],
  contexts: [{ name: 'prod-admin', context: { cluster: 'prod', user: 'admin' } }],
  extensions: [{ name: 'x', extension: { keep: true } }],
};

describe('merging a Gatehouse context into a kubeconfig', () => {
  test('adds cluster, user and context and keeps every other entry', () => {
    const merged = mergeKubeconfigEntry(existing, entry, true);
    assert.deepEqual((merged.clusters as unknown[])[0], existing.clusters[0]);
    assert.deepEqual((merged.users as unknown[])[0], existing.users[0]);
    assert.deepEqual((merged.contexts as unknown[])[0], existing.contexts[0]);
    assert.deepEqual(merged.extensions, existing.extensions);
    assert.equal(merged['current-context'], 'gatehouse');
    assert.deepEqual((merged.contexts as unknown[])[1], { name: 'gatehouse', context: { cluster: 'gatehouse', user: 'gatehouse' } });
    assert.deepEqual((merged.users as unknown[])[1], {
      name: 'gatehouse',
      user: {
        exec: {
          apiVersion: 'client.authentication.k8s.io/v1',
          command: '/opt/gatehouse/bin/gatehouse.mjs',
          args: ['credential', '--issuer', 'https://idp.example.com', '--client-id', 'cli'],
          interactiveMode: 'IfAvailable',
          provideClusterInfo: false,
        },
      },
    });
  });

  test('replaces an earlier Gatehouse entry of the same name instead of adding a twin', () => {
    const once = mergeKubeconfigEntry(existing, entry, true);
    const twice = mergeKubeconfigEntry(once, { ...entry, server: 'https://new.example.com', caPem: 'PEM' }, true);
    assert.equal((twice.clusters as unknown[]).length, 2);
    assert.deepEqual((twice.clusters as unknown[])[1], {
      name: 'gatehouse',
      cluster: { server: 'https://new.example.com', 'certificate-authority-data': Buffer.from('PEM').toString('base64') },
    });
  });

  test('leaves current-context alone when asked not to set it', () => {
    assert.equal(mergeKubeconfigEntry(existing, entry, false)['current-context'], 'prod-admin');
  });

  test('starts a kubeconfig from nothing and makes the context current', () => {
    const merged = mergeKubeconfigEntry(undefined, entry, false);
    assert.equal(merged.apiVersion, 'v1');
    assert.equal(merged.kind, 'Config');
    assert.equal(merged['current-context'], 'gatehouse');
  });
  test('a pipeline context reads its token from a file: no exec plugin, no token in the kubeconfig', () => {
    const merged = mergeKubeconfigEntry(existing, { name: 'ci', server: 'https://abc.lambda-url.eu-west-1.on.aws', tokenFile: '/runner/tmp/gatehouse-token' }, false);
    assert.deepEqual((merged.users as unknown[])[1], { name: 'ci', user: { tokenFile: '/runner/tmp/gatehouse-token' } });
    assert.equal(merged['current-context'], 'prod-admin');
  });
});
