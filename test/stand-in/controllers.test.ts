/**
 * The demo's controllers on the store itself: what a watcher sees (the event types, kinds and
 * names a real cluster would emit) when a Deployment is created, scaled, restarted and deleted,
 * and the objects they leave (owner chain, labels, status). Through real kubectl: test/e2e/demo-cluster.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { systemClock } from '../../src/types.ts';
import { seedDemo, type Demo } from './demo.ts';
import { FakeStore, type KubeObject, type StoreEvent } from './store.ts';

let store: FakeStore;
let demo: Demo;
before(() => {
  store = new FakeStore(systemClock);
  demo = seedDemo(store);
});
after(() => demo.stop());

/** Resolves once `done()` holds, checking after every store event (the controllers run on later turns). */
function until(done: () => boolean, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      if (!done()) return false;
      stop();
      clearTimeout(timer);
      resolve();
      return true;
    };
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`the controllers never settled: ${what}`));
    }, 10_000);
    const stop = store.subscribe(() => setImmediate(check));
    check();
  });
}

/** Records store events of the Deployment, its ReplicaSets and pods (names by app label or owner) while `act` runs and the cluster settles. */
async function eventsOf(app: string, act: () => void, settled: () => boolean): Promise<string[]> {
  const seen: string[] = [];
  const stop = store.subscribe((e: StoreEvent) => {
    const labels = e.object.metadata.labels ?? {};
    if (e.object.metadata.namespace === 'dev' && (e.object.metadata.name === app || labels['app'] === app)) seen.push(`${e.type} ${e.object.kind}`);
  });
  act();
  await until(settled, app);
  stop();
  return seen;
}

function deployment(name: string, replicas: number): KubeObject {
  const labels = { app: name };
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'dev', labels }, spec: { replicas, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'main', image: 'nginx' }] } } } };
}

const pods = (app: string): KubeObject[] => store.list('pods', 'dev').filter((p) => p.metadata.labels?.['app'] === app);
const sets = (app: string): KubeObject[] => store.list('replicasets', 'dev').filter((r) => r.metadata.labels?.['app'] === app);
const status = (app: string): Record<string, unknown> => (store.get('deployments', 'dev', app)?.status ?? {}) as Record<string, unknown>;
const runningPods = (app: string): number => pods(app).filter((p) => (p.status as { phase?: string }).phase === 'Running' && p.metadata.deletionTimestamp === undefined).length;
const rolledOut = (app: string, replicas: number): boolean => {
  const d = store.get('deployments', 'dev', app);
  const s = status(app);
  return d !== undefined && s['observedGeneration'] === d.metadata.generation && s['updatedReplicas'] === replicas && s['availableReplicas'] === replicas && s['replicas'] === replicas && pods(app).length === replicas && runningPods(app) === replicas;
};

describe('the demo controllers', () => {
  test('the seeded Deployments keep their ReplicaSet and pods: nothing is created or deleted at start', async () => {
    await until(() => (status('web')['conditions'] as unknown[] | undefined)?.length === 2, 'seeded status');
    assert.equal(sets('web').length, 1);
    assert.equal(pods('web').length, 2);
    assert.equal(store.list('pods').length, 7);
    assert.equal(status('web')['observedGeneration'], 1);
  });

  test('a created Deployment gets a ReplicaSet with a pod-template-hash and Running pods owned through it', async () => {
    const seen = await eventsOf('api', () => store.put(deployment('api', 2)), () => rolledOut('api', 2));
    const [rs] = sets('api');
    const d = store.get('deployments', 'dev', 'api');
    assert.ok(rs !== undefined && d !== undefined);
    const hash = rs.metadata.labels?.['pod-template-hash'] ?? '';
    assert.match(hash, /^[bcdfghjklmnpqrstvwxz2456789]{10}$/);
    assert.equal(rs.metadata.name, `api-${hash}`);
    assert.deepEqual(rs.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'api', uid: d.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    assert.deepEqual((rs.spec as { selector: unknown }).selector, { matchLabels: { app: 'api', 'pod-template-hash': hash } });
    for (const pod of pods('api')) {
      assert.match(pod.metadata.name ?? '', new RegExp(`^api-${hash}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
      assert.equal((pod.metadata.ownerReferences as { uid: string }[])[0]?.uid, rs.metadata.uid);
      assert.equal(pod.metadata.labels?.['pod-template-hash'], hash);
    }
    assert.deepEqual(
      (status('api')['conditions'] as { type: string; status: string; reason: string }[]).map((c) => `${c.type}=${c.status} ${c.reason}`),
      ['Available=True MinimumReplicasAvailable', 'Progressing=True NewReplicaSetAvailable'],
    );
    assert.equal(d.metadata.annotations?.['deployment.kubernetes.io/revision'], '1');
    assert.deepEqual([...new Set(seen)].sort(), ['ADDED Deployment', 'ADDED Pod', 'ADDED ReplicaSet', 'MODIFIED Deployment', 'MODIFIED Pod', 'MODIFIED ReplicaSet']);
    assert.equal(seen[0], 'ADDED Deployment', 'the write that caused the work comes first');
    assert.equal(seen.filter((s) => s === 'ADDED Pod').length, 2);
  });

  const scales = [
    { name: 'scaling up adds pods to the same ReplicaSet', replicas: 4, added: 2, deleted: 0 },
    { name: 'scaling down deletes pods (Terminating, then gone)', replicas: 1, added: 0, deleted: 3 },
  ];
  for (const c of scales) {
    test(c.name, async () => {
      const seen = await eventsOf('api', () => {
        const d = store.get('deployments', 'dev', 'api');
        if (d !== undefined) store.put({ ...d, spec: { ...(d.spec as object), replicas: c.replicas } });
      }, () => rolledOut('api', c.replicas));
      assert.equal(sets('api').length, 1);
      assert.equal(seen.filter((s) => s === 'ADDED Pod').length, c.added);
      assert.equal(seen.filter((s) => s === 'DELETED Pod').length, c.deleted);
      assert.equal(status('api')['observedGeneration'], store.get('deployments', 'dev', 'api')?.metadata.generation);
    });
  }

  test('a template change (rollout restart) makes a new ReplicaSet, replaces the pods and scales the old one to 0', async () => {
    const before = pods('api').map((p) => p.metadata.name);
    const oldSet = sets('api')[0]?.metadata.name;
    await eventsOf('api', () => {
      const d = store.get('deployments', 'dev', 'api') as KubeObject & { spec: { template: { metadata: { annotations?: Record<string, string> } } } };
      d.spec.template.metadata.annotations = { 'kubectl.kubernetes.io/restartedAt': '2026-12-07T03:00:00Z' };
      store.put(d);
    }, () => rolledOut('api', 1) && pods('api').every((p) => !before.includes(p.metadata.name)));
    const byName = new Map(sets('api').map((r) => [r.metadata.name, r]));
    assert.equal(byName.size, 2);
    assert.equal((byName.get(oldSet)?.spec as { replicas: number }).replicas, 0);
    const newSet = [...byName.values()].find((r) => r.metadata.name !== oldSet);
    assert.equal(newSet?.metadata.annotations?.['deployment.kubernetes.io/revision'], '2');
    assert.equal(store.get('deployments', 'dev', 'api')?.metadata.annotations?.['deployment.kubernetes.io/revision'], '2');
    assert.equal(pods('api')[0]?.metadata.annotations?.['kubectl.kubernetes.io/restartedAt'], '2026-12-07T03:00:00Z');
  });

  test('deleting a Deployment deletes its ReplicaSets and their pods', async () => {
    const seen = await eventsOf('api', () => store.remove('deployments', 'dev', 'api'), () => sets('api').length === 0 && pods('api').length === 0);
    assert.deepEqual(seen.filter((s) => s.startsWith('DELETED')).sort(), ['DELETED Deployment', 'DELETED Pod', 'DELETED ReplicaSet', 'DELETED ReplicaSet']);
  });
});
