/**
 * End to end against a REAL kube-apiserver (test/kube/cluster.ts): for each kubectl version
 * (every installed one in CI), each command runs through Gatehouse and directly (admin with
 * --as/--as-group/--as-uid for the same caller), and the outputs must be equal after
 * normalising timestamps, ages, resourceVersions and uids — except where a case states the
 * difference Gatehouse makes (masked Secret values, a request its policy refuses).
 *
 * What a bare API server cannot do is kept as it is, not papered over: pods stay Pending (no
 * scheduler, no kubelet), so `logs`, `exec` and `port-forward` end in the API server's or
 * kubectl's own errors here — equal on both sides; their working paths are tested against the
 * stand-in (test/e2e/kubectl.test.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { placeholderBase64 } from '../../src/masking/placeholder.ts';
import { kubectlVersionsUnderTest, startGatehouseFront, type GatehouseFront, type KubectlResult } from '../support/harness.ts';
import { appManifest, b64, E2E_POLICY, PASSWORD } from '../support/kubectl-fixtures.ts';
import { realClusterSkip, startRealCluster, type RealCluster } from './cluster.ts';
import { assertSideBySide, sidePair, type SideBySideCase, type SidePair } from './side-by-side.ts';

const pod = (name: string, image: string): Record<string, unknown> => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels: { app: name } },
  spec: { containers: [{ name: 'main', image }] },
});

/** Gatehouse shows every Secret value as a placeholder of the value's length class. */
const maskedSecretValue: SideBySideCase['differs'] = {
  why: 'Secret values are masked: the base64 of each value becomes the placeholder for its length',
  apply: (direct) => ({ ...direct, stdout: direct.stdout.replaceAll(b64(PASSWORD), placeholderBase64(PASSWORD.length)) }),
};

const refusedByPolicy = (what: string): SideBySideCase['differs'] => ({
  why: `Gatehouse's policy refuses ${what} (rule "no-deleting-the-database"), which the cluster's RBAC alone allows`,
  apply: (direct): KubectlResult => ({
    ...direct,
    code: 1,
    stdout: '',
    stderr: `Error from server (Forbidden): user "you@example.com" (groups: developers) may not delete pods "database" in namespace "<ns>": denied by rule "no-deleting-the-database" (the database pod is load-bearing)\n`,
  }),
});

/** In order: later cases see what earlier ones made. */
const CASES: SideBySideCase[] = [
  { name: 'get pods prints the same Table (pods stay Pending without a kubelet)', args: ['get', 'pods'] },
  { name: 'get pods -o wide prints the same wide Table', args: ['get', 'pods', '-o', 'wide'] },
  { name: 'get pod -o yaml prints the same object', args: ['get', 'pod', 'web', '-o', 'yaml'] },
  { name: 'get pod -o json prints the same object', args: ['get', 'pod', 'web', '-o', 'json'] },
  { name: 'describe pod prints the same description', args: ['describe', 'pod', 'web'] },
  { name: 'apply -f creates the same objects', args: ['apply', '-f', '-'], input: appManifest('example/api:1', 'blue') },
  { name: 'a second apply -f patches them the same way', args: ['apply', '-f', '-'], input: appManifest('example/api:2', 'red') },
  { name: 'get deployment -o yaml shows the same patched Deployment', args: ['get', 'deployment', 'api', '-o', 'yaml'] },
  { name: 'describe deployment prints the same description', args: ['describe', 'deployment', 'api'] },
  { name: 'apply --server-side with a field manager gives the same result', args: ['apply', '--server-side', '--field-manager=team', '-f', '-'], input: appManifest('example/api:3', 'green') },
  { name: 'scale changes the replicas the same way', args: ['scale', 'deployment', 'api', '--replicas=3'] },
  { name: 'label changes the pod the same way', args: ['label', 'pod', 'web', 'tier=frontend'] },
  { name: 'annotate changes the pod the same way', args: ['annotate', 'pod', 'web', 'owner=team-a'] },
  { name: 'patch --type merge patches the same way', args: ['patch', 'configmap', 'settings', '--type', 'merge', '-p', '{"data":{"size":"large"}}'] },
  { name: 'get configmap -o jsonpath prints the same value', args: ['get', 'configmap', 'settings', '-o', 'jsonpath={.data}'] },
  { name: 'get all lists the same kinds', args: ['get', 'all'] },
  { name: 'get with a label selector selects the same pods', args: ['get', 'pods', '-l', 'tier=frontend'] },
  { name: 'create secret generic creates the same Secret (a protobuf body from kubectl 1.32+)', args: ['create', 'secret', 'generic', 'db', `--from-literal=password=${PASSWORD}`] },
  { name: 'get secrets prints the same Table (no values in it)', args: ['get', 'secrets'] },
  { name: 'get secret -o yaml differs only by the masked value', args: ['get', 'secret', 'db', '-o', 'yaml'], differs: maskedSecretValue },
  { name: 'get secret -o json differs only by the masked value', args: ['get', 'secret', 'db', '-o', 'json'], differs: maskedSecretValue },
  { name: 'a delete the policy denies is refused by Gatehouse, though the cluster allows it', args: ['delete', 'pod', 'database'], differs: refusedByPolicy('deleting the database pod') },
  { name: 'delete removes the object the same way', args: ['delete', 'configmap', 'settings'] },
  { name: 'get of a missing object gives the same NotFound', args: ['get', 'configmap', 'settings'] },
  { name: "the cluster's RBAC refuses the same list in a namespace the caller has no binding in", args: ['get', 'secrets', '--namespace', 'kube-system'] },
  { name: 'auth can-i answers the same', args: ['auth', 'can-i', 'create', 'deployments'] },
  { name: 'auth can-i answers no the same', args: ['auth', 'can-i', 'create', 'namespaces'] },
  { name: 'auth whoami names the same user, uid and groups', args: ['auth', 'whoami'] },
  { name: 'api-resources lists the same resources (real discovery)', args: ['api-resources'] },
  { name: 'explain reads the same OpenAPI schema', args: ['explain', 'deployment.spec.replicas'] },
  { name: 'get --raw /version returns the same server version', args: ['get', '--raw', '/version'] },
  { name: 'logs of a Pending pod gives the same API server error', args: ['logs', 'web'] },
  { name: 'exec into a Pending pod gives the same error', args: ['exec', 'web', '--', 'true'] },
  { name: 'port-forward to a Pending pod gives the same error', args: ['port-forward', 'pod/web', '0:80'] },
];

const skip = realClusterSkip();

describe('kubectl through Gatehouse against a real kube-apiserver: the same output as directly', { skip, concurrency: true }, () => {
  let cluster: RealCluster;
  let front: GatehouseFront;
  const versions = kubectlVersionsUnderTest();
  const namespaces = versions.flatMap((v) => [`gh-${v.replace('.', '-')}`, `direct-${v.replace('.', '-')}`]);

  before(async () => {
    cluster = await startRealCluster({
      audit: true,
      namespaces,
      bindings: namespaces.map((namespace) => ({ namespace, role: 'edit', group: 'developers' })),
    });
    front = await startGatehouseFront(cluster.gatehouseKubeconfigPath, { policy: E2E_POLICY });
    for (const namespace of namespaces) {
      for (const [name, image] of [['web', 'nginx:1.27'], ['database', 'postgres:16']] as const) {
        await cluster.admin('POST', `/api/v1/namespaces/${namespace}/pods`, pod(name, image));
      }
    }
  });
  after(async () => {
    await front?.close();
    await cluster?.close();
  });

  test('the real API server is the version pinned in test/kube/build.sh', () => {
    assert.match(cluster.version, /^v1\.(3[4-9]|[4-9]\d)\.\d+$/);
  });

  for (const version of versions) {
    // Versions run side by side (each in namespaces of its own); one version's cases run in order.
    describe(`kubectl ${version}`, { concurrency: 1 }, () => {
      let pair: SidePair;
      before(() => {
        pair = sidePair(front, cluster, version);
      });

      for (const testCase of CASES) {
        test(testCase.name, async () => {
          await assertSideBySide(pair, testCase);
        });
      }

      test("every call Gatehouse made to the API server ran as the caller (the API server's audit log)", () => {
        const byGatehouse = cluster.auditEvents().filter((event) => event.user.username === 'gatehouse');
        assert.ok(byGatehouse.length > 0, 'Gatehouse reached the API server');
        for (const event of byGatehouse) {
          const where = `${event.verb} ${event.requestURI} (${event.responseStatus?.code ?? '?'})`;
          // The API server adds system:authenticated to the impersonated groups itself.
          assert.deepEqual(event.impersonatedUser, { username: front.user, uid: front.user, groups: [...front.groups, 'system:authenticated'] }, `${where}: impersonated as the caller`);
        }
      });

      test('get configmaps -w streams the same rows, then the same change made while it is open', async () => {
        const sides = [pair.gatehouse, pair.direct];
        const configMap = (name: string): Record<string, unknown> => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { a: '1' } });
        await Promise.all(sides.map((side) => cluster.admin('POST', `/api/v1/namespaces/${side.namespace}/configmaps`, configMap('listed'))));
        const watches = sides.map((side) => side.start(['get', 'configmaps', '-w']));
        try {
          // Whole rows (the age and the newline too): kubectl's output can arrive split mid-row.
          await Promise.all(watches.map((w) => w.waitFor(/^listed\s+1\s+\S+\n/m)));
          // kubectl watches from the resourceVersion of the list it printed, so a change made now is seen.
          await Promise.all(
            sides.map((side) =>
              cluster.admin('POST', `/api/v1/namespaces/${side.namespace}/configmaps`, configMap('watched')),
            ),
          );
          await Promise.all(watches.map((w) => w.waitFor(/^watched\s+1\s+\S+\n/m)));
        } finally {
          const [viaGatehouse, direct] = await Promise.all(watches.map((w) => w.stop()));
          assert.equal(viaGatehouse?.stdout.replace(/\s+\S+$/gm, ''), direct?.stdout.replace(/\s+\S+$/gm, ''), 'the same rows (ages aside)');
          assert.equal(viaGatehouse?.stderr, direct?.stderr);
        }
      });
    });
  }
});
