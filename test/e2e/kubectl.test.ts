/**
 * End to end: the REAL kubectl (oldest and newest installed versions) → Gatehouse over
 * HTTPS → the kube-apiserver stand-in. Each case checks what kubectl printed AND what the
 * stand-in received: every forwarded request impersonates the caller, carries Gatehouse's
 * own upstream token, and never the client's token.
 *
 * One stand-in + Gatehouse per kubectl version (kubectl start-ups are the cost); the cases
 * run in order and share the store, so each one names the objects it touches.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import type { ReceivedRequest } from '../stand-in/apiserver.ts';
import type { FakeStore } from '../stand-in/store.ts';
import { clientToken, kubectlVersionsUnderTest, startHarness, type Harness } from '../support/harness.ts';
import { appManifest, E2E_POLICY } from '../support/kubectl-fixtures.ts';

const NOW = Date.parse('2025-06-01T12:00:00Z');
const FIVE_MINUTES_AGO = new Date(NOW - 5 * 60_000).toISOString().replace('.000Z', 'Z');

function runningPod(name: string, image: string): Parameters<FakeStore['put']>[0] {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { app: name }, creationTimestamp: FIVE_MINUTES_AGO },
    spec: { nodeName: 'node-1', containers: [{ name: 'main', image }] },
    status: {
      phase: 'Running',
      podIP: '10.0.0.7',
      containerStatuses: [{ name: 'main', image, ready: true, restartCount: 1, state: { running: { startedAt: FIVE_MINUTES_AGO } } }],
    },
  };
}

function seed(store: FakeStore): void {
  store.put(runningPod('web', 'nginx:1.27'));
  store.put(runningPod('database', 'postgres:16'));
  store.appendLog('default', 'web', 'GET / 200');
  store.appendLog('default', 'web', 'GET /healthz 200');
}


/** Every request reached the stand-in as the caller, with Gatehouse's token and nothing of the client's. */
function assertForwardedAsCaller(h: Harness, requests: ReceivedRequest[]): void {
  assert.ok(requests.length > 0, 'kubectl reached the stand-in');
  const token = clientToken(h);
  for (const r of requests) {
    const where = `${r.method} ${r.path}`;
    assert.equal(r.user, h.user, `${where}: Impersonate-User`);
    assert.deepEqual(r.groups, h.groups, `${where}: Impersonate-Group`);
    assert.equal(r.headers.authorization, `Bearer ${h.api.token}`, `${where}: Gatehouse's own upstream token`);
    assert.ok(!JSON.stringify(r.headers).includes(token), `${where}: the client's token never arrives upstream`);
  }
}

function find(requests: ReceivedRequest[], method: string, path: string, query?: RegExp): ReceivedRequest {
  const found = requests.find((r) => r.method === method && r.path === path && (query === undefined || query.test(r.query)));
  assert.ok(found, `expected ${method} ${path}${query ? ` ?${query.source}` : ''} among: ${requests.map((r) => `${r.method} ${r.path}?${r.query}`).join(', ')}`);
  return found;
}

for (const version of kubectlVersionsUnderTest()) {
  describe(`kubectl ${version} through Gatehouse`, () => {
    let h: Harness;

    before(async () => {
      h = await startHarness({
        policy: E2E_POLICY,
        clock: { now: () => NOW },
        // The cluster's own RBAC, which Gatehouse's policy cannot widen.
        deny: [{ user: 'you@example.com', verbs: ['list'], resources: ['secrets'] }],
      });
      seed(h.api.store);
    });
    after(async () => {
      await h?.close();
    });

    test('get pods prints the Table the API server rendered', async () => {
      const from = h.mark();
      const r = await h.kubectl(version, ['get', 'pods']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\n/);
      assert.match(r.stdout, /^web\s+1\/1\s+Running\s+1\s+5m$/m);
      assert.match(r.stdout, /^database\s+1\/1\s+Running\s+1\s+5m$/m);
      const requests = h.receivedSince(from);
      assert.match(String(find(requests, 'GET', '/api/v1/namespaces/default/pods').headers.accept), /as=Table/);
      assertForwardedAsCaller(h, requests);
    });

    test('get pod -o yaml prints the object', async () => {
      const from = h.mark();
      const r = await h.kubectl(version, ['get', 'pod', 'web', '-o', 'yaml']);
      assert.equal(r.code, 0, r.stderr);
      const pod = parseYaml(r.stdout) as { kind: string; metadata: { name: string; uid: string }; spec: { containers: { image: string }[] } };
      assert.equal(pod.kind, 'Pod');
      assert.equal(pod.metadata.name, 'web');
      assert.equal(pod.metadata.uid, h.api.store.get('pods', 'default', 'web')?.metadata.uid);
      assert.equal(pod.spec.containers[0]?.image, 'nginx:1.27');
      find(h.receivedSince(from), 'GET', '/api/v1/namespaces/default/pods/web');
      assertForwardedAsCaller(h, h.receivedSince(from));
    });

    test('describe pod shows the pod and searches its events', async () => {
      const from = h.mark();
      const r = await h.kubectl(version, ['describe', 'pod', 'web']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Name:\s+web$/m);
      assert.match(r.stdout, /^Namespace:\s+default$/m);
      assert.match(r.stdout, /^Status:\s+Running$/m);
      assert.match(r.stdout, /Image:\s+nginx:1\.27/);
      const requests = h.receivedSince(from);
      find(requests, 'GET', '/api/v1/namespaces/default/events', /fieldSelector=.*involvedObject\.name%3Dweb/);
      assertForwardedAsCaller(h, requests);
    });

    test('apply -f creates, then a second apply patches by strategic merge', async () => {
      let from = h.mark();
      let r = await h.kubectl(version, ['apply', '-f', '-'], { input: appManifest('example/api:1', 'blue') });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^configmap\/settings created$/m);
      assert.match(r.stdout, /^deployment\.apps\/api created$/m);
      find(h.receivedSince(from), 'POST', '/api/v1/namespaces/default/configmaps');
      find(h.receivedSince(from), 'POST', '/apis/apps/v1/namespaces/default/deployments');
      assertForwardedAsCaller(h, h.receivedSince(from));

      from = h.mark();
      r = await h.kubectl(version, ['apply', '-f', '-'], { input: appManifest('example/api:2', 'red') });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^configmap\/settings configured$/m);
      assert.match(r.stdout, /^deployment\.apps\/api configured$/m);
      const patch = find(h.receivedSince(from), 'PATCH', '/apis/apps/v1/namespaces/default/deployments/api');
      assert.equal(patch.headers['content-type'], 'application/strategic-merge-patch+json');
      assertForwardedAsCaller(h, h.receivedSince(from));

      assert.deepEqual(h.api.store.get('configmaps', 'default', 'settings')?.data, { color: 'red' });
      const deployment = h.api.store.get('deployments', 'default', 'api');
      const containers = (deployment?.spec as { template: { spec: { containers: unknown[] } } }).template.spec.containers;
      assert.deepEqual(containers, [
        { name: 'api', image: 'example/api:2', env: [{ name: 'MODE', value: 'production' }] },
        { name: 'sidecar', image: 'example/proxy:1' },
      ]);
      assert.equal(deployment?.metadata.generation, 2);
    });

    test('delete removes the object', async () => {
      const from = h.mark();
      const r = await h.kubectl(version, ['delete', 'configmap', 'settings']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^configmap "settings" deleted/m);
      assert.equal(h.api.store.get('configmaps', 'default', 'settings'), undefined);
      find(h.receivedSince(from), 'DELETE', '/api/v1/namespaces/default/configmaps/settings');
      assertForwardedAsCaller(h, h.receivedSince(from));
    });

    test('get pods -w streams the first rows, then a change made while it is open', async () => {
      const from = h.mark();
      const watch = h.startKubectl(version, ['get', 'pods', '-w']);
      try {
        await watch.waitFor(/^web\s+1\/1\s+Running/m);
        await waitUntil(() => h.receivedSince(from).some((r) => /(^|&)watch=true/.test(r.query)), 'the watch request reached the stand-in');
        h.api.store.put(runningPod(`worker-${version.replace('.', '-')}`, 'busybox:1'));
        await watch.waitFor(new RegExp(`^worker-${version.replace('.', '-')}\\s+1/1\\s+Running`, 'm'));
      } finally {
        await watch.stop();
      }
      assertForwardedAsCaller(h, h.receivedSince(from));
    });

    test('logs prints the pod log', async () => {
      const from = h.mark();
      const r = await h.kubectl(version, ['logs', 'web']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'GET / 200\nGET /healthz 200\n');
      find(h.receivedSince(from), 'GET', '/api/v1/namespaces/default/pods/web/log');
      assertForwardedAsCaller(h, h.receivedSince(from));
    });

    test('logs -f streams lines written while it is open', async () => {
      const from = h.mark();
      const follow = h.startKubectl(version, ['logs', '-f', 'web']);
      try {
        await follow.waitFor('GET /healthz 200\n');
        h.api.store.appendLog('default', 'web', `POST /orders 201 (${version})`);
        await follow.waitFor(`POST /orders 201 (${version})\n`);
      } finally {
        await follow.stop();
      }
      find(h.receivedSince(from), 'GET', '/api/v1/namespaces/default/pods/web/log', /follow=true/);
      assertForwardedAsCaller(h, h.receivedSince(from));
    });

    test('get --raw /version returns the server version', async () => {
      const from = h.mark();
      const r = await h.kubectl(version, ['get', '--raw', '/version']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { gitVersion: string }).gitVersion, 'v1.33.0');
      assertForwardedAsCaller(h, h.receivedSince(from));
    });

    test('a call without a valid token is refused before it reaches the cluster', async () => {
      const from = h.mark();
      const r = await h.kubectl(version, ['--token', 'not-a-jwt', 'get', 'pods']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /You must be logged in to the server/);
      assert.deepEqual(h.receivedSince(from), []);
    });

    test('a delete the policy denies is refused naming the rule, and never forwarded', async () => {
      const from = h.mark();
      const r = await h.kubectl(version, ['delete', 'pod', 'database']);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        /^Error from server \(Forbidden\): user "you@example\.com" \(groups: developers\) may not delete pods "database" in namespace "default": denied by rule "no-deleting-the-database"/m,
      );
      assert.ok(h.api.store.get('pods', 'default', 'database'), 'the pod is still there');
      assert.equal(h.receivedSince(from).filter((r) => r.method === 'DELETE').length, 0);
    });

    // Newer kubectl's typed clients (1.32 and 1.33 here) send protobuf bodies; the Secret must arrive intact either way.
    test('create secret stores the value the caller gave', async () => {
      const from = h.mark();
      const r = await h.kubectl(version, ['create', 'secret', 'generic', 'db-password', '--from-literal=password=hunter2']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^secret\/db-password created$/m);
      assert.deepEqual(h.api.store.get('secrets', 'default', 'db-password')?.data, { password: Buffer.from('hunter2').toString('base64') });
      const post = find(h.receivedSince(from), 'POST', '/api/v1/namespaces/default/secrets');
      assert.match(String(post.headers['content-type']), /^application\/(json|vnd\.kubernetes\.protobuf)/);
      assertForwardedAsCaller(h, h.receivedSince(from));
    });

    // kubectl ≥1.30 runs exec over WebSocket (a GET), older ones over SPDY/3.1 (a POST); the stand-in speaks both.
    test('exec runs a command through the upgraded connection', async () => {
      const from = h.mark();
      const ok = await h.kubectl(version, ['exec', 'web', '--', 'echo', 'hello', 'from', 'web']);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stdout, 'hello from web\n');
      const failed = await h.kubectl(version, ['exec', 'web', '--', 'false']);
      assert.equal(failed.code, 1);
      assert.match(failed.stderr, /command terminated with exit code 1/);
      const exec = find(h.receivedSince(from), minor(version) < 30 ? 'POST' : 'GET', '/api/v1/namespaces/default/pods/web/exec', /command=echo/);
      assert.equal(exec.status, 101);
      assertForwardedAsCaller(h, h.receivedSince(from));
    });

    test("the cluster's RBAC still applies to the caller, whom Gatehouse impersonates", async () => {
      const from = h.mark();
      const r = await h.kubectl(version, ['get', 'secrets']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^Error from server \(Forbidden\): secrets is forbidden: User "you@example\.com" cannot list resource "secrets" in API group "" in the namespace "default"$/m);
      assertForwardedAsCaller(h, h.receivedSince(from));
    });
  });
}

function minor(version: string): number {
  return version === 'default' ? Number.POSITIVE_INFINITY : Number(version.split('.')[1]);
}

/** Polls a condition the test cannot await directly (a request arriving at the stand-in). */
async function waitUntil(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}
