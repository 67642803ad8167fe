/**
 * End to end: the REAL kubectl (oldest and newest installed) → Gatehouse → the kube-apiserver
 * stand-in, for every way kubectl shows a Secret: `get -o yaml`, `get` (Table), `get -w`,
 * `describe`, `create secret generic --from-literal`, `replace` of what `get` showed, and
 * `apply` (the last-applied annotation). No value, plain or base64, may appear in what
 * kubectl prints; the stand-in really holds and sends the values (kubectl straight at it
 * shows them).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { kubectlVersionsUnderTest, startHarness, type Harness } from '../support/harness.ts';
import { placeholderBase64, placeholderText } from '../../src/masking/placeholder.ts';
import { API_KEY, APPLIED, assertNoSecret, b64, LITERAL, MASKING_POLICY, PASSWORD } from '../support/kubectl-fixtures.ts';
import { ALLOW_ALL_POLICY } from './fixtures/policies.ts';


/** Waits for something kubectl does on its own (its watch request reaching the stand-in). */
async function waitUntil(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

for (const version of kubectlVersionsUnderTest()) {
  describe(`kubectl ${version}: Secret values never leave Gatehouse`, () => {
    let h: Harness;

    before(async () => {
      h = await startHarness({ policy: ALLOW_ALL_POLICY });
      h.api.store.put({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'db', namespace: 'default' },
        type: 'Opaque',
        data: { password: b64(PASSWORD), 'api-key': b64(API_KEY) },
      });
    });
    after(async () => {
      await h?.close();
    });

    test('the stand-in really holds and sends the values (kubectl straight at it)', async () => {
      const r = await h.kubectl(version, ['get', 'secret', 'db', '-o', 'jsonpath={.data.password}', '--as', h.user], { kubeconfig: h.api.kubeconfigPath });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, b64(PASSWORD));
    });

    test('get secret -o yaml shows the keys and placeholders', async () => {
      const r = await h.kubectl(version, ['get', 'secret', 'db', '-o', 'yaml']);
      assert.equal(r.code, 0, r.stderr);
      assertNoSecret(r.stdout, 'get secret -o yaml');
      const secret = parseYaml(r.stdout) as { data: Record<string, string> };
      assert.deepEqual(secret.data, { password: placeholderBase64(PASSWORD.length), 'api-key': placeholderBase64(API_KEY.length) });
      assert.equal(Buffer.from(secret.data['password'] ?? '', 'base64').toString(), '***masked (16-63 bytes)***');
    });

    test('get secrets prints the Table with the data count, and no value', async () => {
      const from = h.mark();
      const r = await h.kubectl(version, ['get', 'secrets']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^NAME\s+TYPE\s+DATA\s+AGE\n/);
      assert.match(r.stdout, /^db\s+Opaque\s+2\s+/m);
      assertNoSecret(r.stdout, 'get secrets');
      for (const request of h.receivedSince(from)) {
        assert.doesNotMatch(String(request.headers.accept ?? ''), /protobuf/, `${request.path} was asked for JSON only`);
      }
    });

    test('get secrets -o json masks every item of the list', async () => {
      const r = await h.kubectl(version, ['get', 'secrets', '-o', 'json']);
      assert.equal(r.code, 0, r.stderr);
      assertNoSecret(r.stdout, 'get secrets -o json');
      const list = JSON.parse(r.stdout) as { items: { metadata: { name: string }; data?: Record<string, string> }[] };
      assert.equal(list.items.find((item) => item.metadata.name === 'db')?.data?.['password'], placeholderBase64(PASSWORD.length));
    });

    test('describe secret decodes the placeholders (typed client) and shows no value', async () => {
      const r = await h.kubectl(version, ['describe', 'secret', 'db']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Name:\s+db$/m);
      assert.match(r.stdout, /^password:\s+\d+ bytes$/m);
      assertNoSecret(r.stdout, 'describe secret');
    });

    test('describe secret -v=8: the answers the typed client received (it asks protobuf) hold no value in any encoding', async () => {
      const r = await h.kubectl(version, ['describe', 'secret', 'db', '-v=8']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /Response Body/);
      assertNoSecret(`${r.stdout}${r.stderr}`, 'describe secret -v=8');
      // client-go logs a binary (protobuf, CBOR) body as a hex dump: read the bytes back.
      const dumped = Buffer.from([...r.stderr.matchAll(/^\s*[0-9a-f]{8} {2}((?:[0-9a-f]{2} {1,2}){1,16})/gm)].map((m) => (m[1] ?? '').replace(/\s+/g, '')).join(''), 'hex');
      assertNoSecret(dumped.toString('latin1'), 'describe secret -v=8 (binary bodies)');
    });

    test('get secret -w shows masked events as they come', async () => {
      const from = h.mark();
      const watch = h.startKubectl(version, ['get', 'secret', 'db', '-w', '-o', 'json']);
      try {
        await watch.waitFor(placeholderBase64(PASSWORD.length));
        await waitUntil(() => h.receivedSince(from).some((r) => /(^|&)watch=true/.test(r.query)), 'the watch request reached the stand-in');
        h.api.store.put({
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'db', namespace: 'default' },
          type: 'Opaque',
          data: { password: b64(PASSWORD), 'api-key': b64(API_KEY), rotated: b64(`${PASSWORD}-2`) },
        });
        await watch.waitFor('"rotated"');
      } finally {
        const result = await watch.stop();
        assertNoSecret(result.stdout, 'get secret -w');
        assertNoSecret(result.stderr, 'get secret -w (stderr)');
      }
    });

    test('get secrets -w prints the Table rows as they come, with no value', async () => {
      const from = h.mark();
      const watch = h.startKubectl(version, ['get', 'secrets', '-w']);
      const name = `watched-${version.replace('.', '-')}`;
      try {
        await watch.waitFor(/^db\s+Opaque\s+\d+/m);
        await waitUntil(() => h.receivedSince(from).some((r) => /(^|&)watch=true/.test(r.query)), 'the watch request reached the stand-in');
        // Only the first event of a Table watch carries the column definitions: the second must still print.
        for (const suffix of ['a', 'b']) {
          h.api.store.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: `${name}-${suffix}`, namespace: 'default' }, type: 'Opaque', data: { password: b64(PASSWORD) } });
          await watch.waitFor(new RegExp(`^${name}-${suffix}\\s+Opaque\\s+1\\s+`, 'm'));
        }
      } finally {
        const result = await watch.stop();
        assertNoSecret(result.stdout, 'get secrets -w');
      }
    });

    test('create secret generic --from-literal creates the value upstream and shows none of it', async () => {
      const from = h.mark();
      const r = await h.kubectl(version, ['create', 'secret', 'generic', `literal-${version.replace('.', '-')}`, `--from-literal=token=${LITERAL}`, '-o', 'yaml']);
      assert.equal(r.code, 0, r.stderr);
      assertNoSecret(r.stdout, 'create secret -o yaml');
      const created = h.receivedSince(from).find((request) => request.method === 'POST' && request.path === '/api/v1/namespaces/default/secrets');
      assert.ok(created, 'kubectl created the Secret upstream');
      const body = created.rawBody.toString('latin1');
      assert.ok(body.includes(b64(LITERAL)) || body.includes(LITERAL), 'the value reached the stand-in');
      assert.equal(h.api.store.get('secrets', 'default', `literal-${version.replace('.', '-')}`)?.['data']?.['token' as never], b64(LITERAL));
    });

    test('replace with what get -o yaml showed never overwrites real values with placeholders (they are restored)', async () => {
      const shown = await h.kubectl(version, ['get', 'secret', 'db', '-o', 'yaml']);
      assert.equal(shown.code, 0, shown.stderr);
      const r = await h.kubectl(version, ['replace', '-f', '-'], { input: shown.stdout });
      assert.equal(r.code, 0, r.stderr);
      assertNoSecret(r.stdout, 'replace -o name');
      assert.equal(h.api.store.get('secrets', 'default', 'db')?.['data']?.['password' as never], b64(PASSWORD));
    });

    test('apply of a Secret: the last-applied annotation is masked too', async () => {
      const manifest = `apiVersion: v1\nkind: Secret\nmetadata:\n  name: applied\nstringData:\n  token: ${APPLIED}\n`;
      let r = await h.kubectl(version, ['apply', '-f', '-'], { input: manifest });
      assert.equal(r.code, 0, r.stderr);
      r = await h.kubectl(version, ['get', 'secret', 'applied', '-o', 'yaml']);
      assert.equal(r.code, 0, r.stderr);
      assertNoSecret(r.stdout, 'get secret -o yaml after apply');
      const secret = parseYaml(r.stdout) as { metadata: { annotations: Record<string, string> } };
      const lastApplied = JSON.parse(secret.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'] ?? '{}') as { stringData: unknown };
      assert.deepEqual(lastApplied.stringData, { token: placeholderText(APPLIED.length) });
    });
  });
}

describe('kubectl: break-glass and masking rules from the policy file', () => {
  let h: Harness;
  const newest = kubectlVersionsUnderTest().at(-1) ?? '1.33';

  before(async () => {
    h = await startHarness({ policy: MASKING_POLICY, groups: ['incident-responders'] });
    h.api.store.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'default' }, type: 'Opaque', data: { password: b64(PASSWORD) } });
    h.api.store.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'app', namespace: 'default' }, data: { DB_PASSWORD: PASSWORD, mode: 'fast' } });
    h.api.store.put({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web', namespace: 'default', labels: { env: 'prod' } },
      spec: {
        initContainers: [{ name: 'init', image: 'busybox', env: [{ name: 'INIT_TOKEN', value: API_KEY }] }],
        containers: [{ name: 'web', image: 'nginx', env: [{ name: 'LOG_LEVEL', value: 'info' }, { name: 'DB_PASSWORD', value: PASSWORD }] }],
      },
    });
  });
  after(async () => {
    await h?.close();
  });

  test('a break-glass rule lets its group see Secret values', async () => {
    const r = await h.kubectl(newest, ['get', 'secret', 'db', '-o', 'jsonpath={.data.password}']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, b64(PASSWORD));
  });

  test('a masking rule masks the ConfigMap keys it names, and only those', async () => {
    const r = await h.kubectl(newest, ['get', 'configmap', 'app', '-o', 'yaml']);
    assert.equal(r.code, 0, r.stderr);
    const configMap = parseYaml(r.stdout) as { data: Record<string, string> };
    assert.deepEqual(configMap.data, { DB_PASSWORD: placeholderText(PASSWORD.length), mode: 'fast' });
  });

  test('a masking rule masks the env values it names, in every container, and only those', async () => {
    for (const output of ['json', 'yaml']) {
      const r = await h.kubectl(newest, ['get', 'pod', 'web', '-o', output]);
      assert.equal(r.code, 0, r.stderr);
      assertNoSecret(r.stdout, `get pod -o ${output}`);
      const pod = (output === 'json' ? JSON.parse(r.stdout) : parseYaml(r.stdout)) as {
        metadata: { labels: Record<string, string> };
        spec: { initContainers: { env: { name: string; value: string }[] }[]; containers: { env: { name: string; value: string }[] }[] };
      };
      assert.deepEqual(pod.spec.containers[0]?.env, [
        { name: 'LOG_LEVEL', value: 'info' },
        { name: 'DB_PASSWORD', value: placeholderText(PASSWORD.length) },
      ]);
      assert.deepEqual(pod.spec.initContainers[0]?.env, [{ name: 'INIT_TOKEN', value: placeholderText(API_KEY.length) }]);
      assert.deepEqual(pod.metadata.labels, { env: 'prod' });
    }
    const described = await h.kubectl(newest, ['describe', 'pod', 'web']);
    assert.equal(described.code, 0, described.stderr);
    assertNoSecret(described.stdout, 'describe pod');
    assert.match(described.stdout, /LOG_LEVEL:\s+info/);
  });
});
