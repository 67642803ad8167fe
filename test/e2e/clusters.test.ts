// One Gatehouse, two clusters: the local runtime fronts two embedded demo clusters (two seeded
// stand-ins) under /clusters/dev and /clusters/prod, and the real kubectl uses the context per
// cluster the users' kubeconfig holds. What is created on one cluster is not on the other;
// rules that name a cluster apply there only; exec rides the Node runtime's upgrade path under
// the prefix; a path naming no configured cluster is refused (404 after authentication, never
// decoded, never from a header); every call is recorded under its cluster with the path the
// API server saw.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { demoPodNames } from '../stand-in/demo.ts';
import { startGatehouseFront, type GatehouseFront } from '../support/harness.ts';
import { rawRequest } from '../support/raw-https.ts';
import { statusOf } from '../support/status.ts';

const POLICY = `
apiVersion: gatehouse/v1
rules:
  - { name: discovery, effect: allow, nonResourceURLs: ["*"] }
  - { name: read-everywhere, effect: allow, verbs: [get, list, watch], resources: ["*"] }
  - { name: dev-anything, effect: allow, clusters: [dev], resources: ["*"] }
  - { name: no-secrets-on-prod, effect: deny, clusters: [prod], resources: [secrets] }
`;
const [WEB] = demoPodNames('dev', 'web', 2);

let h: GatehouseFront;
let url: string;
let ca: string;
let token: string;
before(async () => {
  h = await startGatehouseFront({ demoClusters: ['dev', 'prod'] }, { policy: POLICY });
  url = h.gatehouse.url;
  ca = h.gatehouse.caPem;
  const kubeconfig = parseYaml(readFileSync(h.kubeconfigPath, 'utf8')) as { users: { user: { token: string } }[] };
  token = kubeconfig.users[0]?.user.token ?? '';
});
after(async () => h?.close());

async function get(path: string, headers: string[] = [`Authorization: Bearer ${token}`]): Promise<{ status: number; body: string }> {
  const reply = await rawRequest(url, ca, [`GET ${path} HTTP/1.1`, `Host: ${new URL(url).host}`, ...headers, 'Connection: close'], '');
  return { status: reply.status, body: reply.body.toString('utf8') };
}

describe('one Gatehouse in front of two clusters, with the real kubectl', () => {
  test('the users\' kubeconfig has a context per cluster, each with its own server URL', () => {
    const kubeconfig = parseYaml(readFileSync(h.kubeconfigPath, 'utf8')) as { clusters: { name: string; cluster: { server: string } }[]; contexts: { name: string }[]; 'current-context': string };
    assert.deepEqual(kubeconfig.clusters.map((c) => [c.name, c.cluster.server]), [
      ['gatehouse-dev', `${url}/clusters/dev`],
      ['gatehouse-prod', `${url}/clusters/prod`],
    ]);
    assert.deepEqual(kubeconfig.contexts.map((c) => c.name), ['gatehouse-dev', 'gatehouse-prod']);
    assert.equal(kubeconfig['current-context'], 'gatehouse-dev');
  });

  for (const version of ['1.27', '1.33']) {
    test(`kubectl ${version}: what is created on dev is on dev only`, async () => {
      const name = `only-on-dev-${version.replace('.', '-')}`;
      const created = await h.kubectl(version, ['--context', 'gatehouse-dev', 'create', 'configmap', name, '-n', 'dev', '--from-literal=a=1']);
      assert.equal(created.code, 0, created.stderr);
      const onDev = await h.kubectl(version, ['--context', 'gatehouse-dev', 'get', 'configmap', name, '-n', 'dev', '-o', 'jsonpath={.data.a}']);
      assert.equal(onDev.stdout, '1', onDev.stderr);
      const onProd = await h.kubectl(version, ['--context', 'gatehouse-prod', 'get', 'configmap', name, '-n', 'dev']);
      assert.equal(onProd.code, 1);
      assert.match(onProd.stderr, new RegExp(`Error from server \\(NotFound\\): configmaps "${name}" not found`));
    });

    test(`kubectl ${version}: exec runs on dev through /clusters/dev (the Node runtime's upgrade path)`, async () => {
      const result = await h.kubectl(version, ['--context', 'gatehouse-dev', 'exec', '-n', 'dev', WEB ?? '', '--', 'cat', '/etc/app/app.properties']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'environment=dev\nlog.level=debug\n');
    });
  }

  const byPolicy = [
    { name: 'a write allowed by a rule naming dev is refused on prod (default deny)', context: 'gatehouse-prod', args: ['create', 'configmap', 'x', '-n', 'dev', '--from-literal=a=1'], stderr: /^error: failed to create configmap: user "you@example.com" \(groups: developers\) may not create configmaps in namespace "dev": no rule allows it \(default deny\)$/m },
    { name: 'exec is refused on prod, where no rule allows it', context: 'gatehouse-prod', args: ['exec', '-n', 'dev', WEB ?? '', '--', 'true'], stderr: /may not create pods\/exec ".*" in namespace "dev": no rule allows it \(default deny\)/ },
    { name: 'a deny rule naming prod refuses Secrets there', context: 'gatehouse-prod', args: ['get', 'secrets', '-n', 'prod'], stderr: /Error from server \(Forbidden\): .*may not list secrets in namespace "prod": denied by rule "no-secrets-on-prod"/ },
  ];
  for (const { name, context, args, stderr } of byPolicy) {
    test(name, async () => {
      const result = await h.kubectl('1.33', ['--context', context, ...args]);
      assert.equal(result.code, 1, result.stdout);
      assert.match(result.stderr, stderr);
    });
  }

  test('the same Secrets read on dev is allowed', async () => {
    const result = await h.kubectl('1.33', ['--context', 'gatehouse-dev', 'get', 'secrets', '-n', 'prod', '-o', 'name']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^secret\//m);
  });

  const refused = [
    { name: 'a cluster nobody configured is refused, naming it', path: '/clusters/staging/api', code: 404, reason: 'NotFound', message: 'cluster "staging" is not one this Gatehouse fronts (request path "/clusters/staging/api"); names are matched exactly as configured, never decoded' },
    { name: 'an encoded spelling of a configured name is refused', path: '/clusters/%64ev/api/v1/namespaces', code: 404, reason: 'NotFound', message: 'cluster "%64ev" is not one this Gatehouse fronts (request path "/clusters/%64ev/api/v1/namespaces"); names are matched exactly as configured, never decoded' },
    { name: 'encoded slashes cannot climb from one cluster to another', path: '/clusters/dev%2F..%2Fprod/api/v1/namespaces/prod/secrets', code: 404, reason: 'NotFound', message: 'cluster "dev%2F..%2Fprod" is not one this Gatehouse fronts (request path "/clusters/dev%2F..%2Fprod/api/v1/namespaces/prod/secrets"); names are matched exactly as configured, never decoded' },
    { name: 'a ".." after the name is refused as the API server could read it differently', path: '/clusters/dev/../prod/api/v1/namespaces/prod/secrets', code: 400, reason: 'BadRequest', message: 'request path "/../prod/api/v1/namespaces/prod/secrets" has a ".." segment; refused because the API server could read it differently' },
    { name: 'a path at the root names no cluster', path: '/api/v1/namespaces', code: 404, reason: 'NotFound', message: 'request path "/api/v1/namespaces" names no cluster: this Gatehouse fronts several clusters, each under /clusters/<name> (the server of its kubeconfig context)' },
  ];
  for (const { name, path, code, reason, message } of refused) {
    test(name, async () => {
      const reply = await get(path);
      assert.equal(reply.status, code);
      assert.deepEqual(statusOf(reply), { code, reason, message });
    });
  }

  test('an unknown cluster is refused only after authentication: without a token, 401', async () => {
    const reply = await get('/clusters/staging/api', []);
    assert.equal(reply.status, 401);
    assert.equal(statusOf(reply).reason, 'Unauthorized');
  });

  test('the cluster comes from the path, never from a header', async () => {
    const reply = await get('/clusters/prod/api/v1/namespaces/prod/secrets', [`Authorization: Bearer ${token}`, 'X-Forwarded-Prefix: /clusters/dev', 'X-Original-URL: /clusters/dev/api/v1/namespaces/prod/secrets', 'X-Gatehouse-Cluster: dev']);
    assert.equal(reply.status, 403);
    assert.match(statusOf(reply).message, /denied by rule "no-secrets-on-prod"/);
  });

  test('every call is recorded under its cluster, with the path the API server saw', async () => {
    const records = await h.records();
    const created = records.find((r) => r.phase === 'outcome' && r.verb === 'create' && r.resource === 'configmaps' && r.object_name === '' && r.status_code === 201);
    assert.equal(created?.cluster, 'dev');
    assert.equal(created?.path, '/api/v1/namespaces/dev/configmaps');
    const denied = records.find((r) => r.policy_rule === 'no-secrets-on-prod');
    assert.equal(denied?.cluster, 'prod');
    assert.equal(denied?.path, '/api/v1/namespaces/prod/secrets');
    const unknown = records.find((r) => r.path === '/clusters/staging/api' && r.status_code === 404);
    assert.equal(unknown?.cluster, null);
    assert.equal(unknown?.error_code, 'ERR_CLUSTER_UNKNOWN');
    assert.deepEqual([...new Set(records.map((r) => r.cluster))].sort(), [null, 'dev', 'prod'].sort());
  });
});
