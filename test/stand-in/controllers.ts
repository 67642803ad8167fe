/**
 * The demo cluster's kube-controller-manager, its three loops that matter to a newcomer:
 *
 * - Deployment: the pod template (hashed into a `pod-template-hash` label) picks the
 *   Deployment's ReplicaSet, created when missing with an owner reference; it gets
 *   spec.replicas, every older ReplicaSet 0 (a rollout in one step, as `Recreate` without
 *   the wait); the status (replicas, updated, ready, available, observedGeneration,
 *   Available/Progressing) is summed from the ReplicaSets, so `kubectl rollout status` ends.
 * - ReplicaSet: creates Pods `<rs>-<5 chars>` from its template (Pending; the demo kubelet
 *   makes them Running) or deletes the newest extra ones (Terminating, then gone), and
 *   counts them into its status.
 * - Garbage collector: a deleted Deployment or ReplicaSet takes the ReplicaSets and Pods it
 *   owns along (background propagation).
 *
 * Every change arrives as a store event; the loops run on the next turn of the event loop
 * (`setImmediate`), never inside the write that woke them, so a watcher sees the change that
 * caused the work before the work's own ADDED/MODIFIED/DELETED events, as from a real
 * cluster. A loop writes only what differs, so the cluster settles within a few turns.
 */
import { createHash } from 'node:crypto';
import { resolveResource, type ResourceType } from './catalogue.ts';
import type { FakeStore, KubeObject } from './store.ts';

const HASH_LABEL = 'pod-template-hash';
const REVISION = 'deployment.kubernetes.io/revision';
const DEPLOYMENTS = resolveResource('deployments');
const REPLICASETS = resolveResource('replicasets');
const PODS = resolveResource('pods');

/** A stable, kube-looking suffix from the alphabet of Kubernetes' SafeEncodeString (no vowels, no look-alikes). */
export function kubeSuffix(seed: string, length: number): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  const digest = createHash('sha256').update(seed).digest();
  return Array.from(digest.subarray(0, length), (byte) => alphabet[byte % alphabet.length]).join('');
}

interface Template {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: unknown;
}

interface WorkloadSpec {
  replicas?: number;
  selector?: { matchLabels?: Record<string, string> };
  template?: Template;
}

interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  lastUpdateTime: string;
  lastTransitionTime: string;
}

function specOf(object: KubeObject): WorkloadSpec {
  return (object.spec ?? {}) as WorkloadSpec;
}

/** JSON with sorted keys: two templates are equal whatever order a patch left their fields in. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries.sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The template without the pod-template-hash label: what the Deployment controller compares. */
function withoutHash(template: Template | undefined): Template {
  const copy = structuredClone(template ?? {});
  if (copy.metadata?.labels !== undefined) {
    const { [HASH_LABEL]: _hash, ...labels } = copy.metadata.labels;
    copy.metadata.labels = labels;
  }
  return copy;
}

function controllerOf(object: KubeObject): OwnerReference | undefined {
  const refs = (object.metadata.ownerReferences ?? []) as OwnerReference[];
  return refs.find((r) => r.controller === true);
}

function ownedBy(owner: KubeObject, objects: KubeObject[]): KubeObject[] {
  return objects.filter((o) => controllerOf(o)?.uid === owner.metadata.uid);
}

function ownerReference(owner: KubeObject): OwnerReference {
  return { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name ?? '', uid: owner.metadata.uid ?? '', controller: true, blockOwnerDeletion: true };
}

function isReady(pod: KubeObject): boolean {
  const status = pod.status as { phase?: string; conditions?: { type: string; status: string }[] } | undefined;
  return status?.phase === 'Running' && (status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

function revisionOf(object: KubeObject): number {
  return Number(object.metadata.annotations?.[REVISION] ?? '0') || 0;
}

/** Writes `next` when it differs from `current` (metadata.resourceVersion aside). */
function writeIfChanged(store: FakeStore, type: ResourceType, current: KubeObject, next: KubeObject): void {
  const strip = (o: KubeObject): string => canonical({ ...o, metadata: { ...o.metadata, resourceVersion: undefined } });
  if (strip(current) !== strip(next)) store.write(type, next);
}

export interface Controllers {
  stop(): void;
}

/** Starts the loops on `store`; `stop` ends them (pending work is dropped). */
export function startControllers(store: FakeStore): Controllers {
  const pending = new Map<string, { resource: 'deployments' | 'replicasets'; namespace: string; name: string }>();
  let scheduled: NodeJS.Immediate | undefined;
  let stopped = false;

  const enqueue = (resource: 'deployments' | 'replicasets', namespace: string, name: string): void => {
    pending.set(`${resource}/${namespace}/${name}`, { resource, namespace, name });
    scheduled ??= setImmediate(drain);
  };

  function drain(): void {
    scheduled = undefined;
    if (stopped) return;
    const work = [...pending.values()];
    pending.clear();
    for (const item of work) {
      if (item.resource === 'deployments') syncDeployment(item.namespace, item.name);
      else syncReplicaSet(item.namespace, item.name);
    }
  }

  function syncDeployment(namespace: string, name: string): void {
    const deployment = store.read(DEPLOYMENTS, namespace, name);
    if (deployment === undefined || deployment.metadata.deletionTimestamp !== undefined) return;
    const spec = specOf(deployment);
    const replicas = spec.replicas ?? 1;
    const sets = ownedBy(deployment, store.listOf(REPLICASETS, namespace));
    const wanted = canonical(withoutHash(spec.template));
    let current = sets.find((rs) => canonical(withoutHash(specOf(rs).template)) === wanted);
    if (current === undefined) {
      const hash = kubeSuffix(`${deployment.metadata.uid ?? ''}/${wanted}`, 10);
      const template = withoutHash(spec.template);
      template.metadata = { ...template.metadata, labels: { ...template.metadata?.labels, [HASH_LABEL]: hash } };
      const revision = Math.max(0, ...sets.map(revisionOf)) + 1;
      current = store.write(REPLICASETS, {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name: `${name}-${hash}`,
          namespace,
          labels: template.metadata.labels,
          annotations: { [REVISION]: String(revision), 'deployment.kubernetes.io/desired-replicas': String(replicas) },
          ownerReferences: [ownerReference(deployment)],
        },
        spec: { replicas, selector: { matchLabels: { ...spec.selector?.matchLabels, [HASH_LABEL]: hash } }, template },
        status: { replicas: 0, observedGeneration: 0 },
      });
    }
    for (const rs of [...sets.filter((s) => s.metadata.uid !== current?.metadata.uid), current]) {
      const target = rs === current ? replicas : 0;
      if (specOf(rs).replicas !== target) writeIfChanged(store, REPLICASETS, rs, { ...rs, spec: { ...specOf(rs), replicas: target } });
    }
    const all = ownedBy(deployment, store.listOf(REPLICASETS, namespace));
    const newest = all.find((rs) => rs.metadata.uid === current?.metadata.uid) ?? current;
    writeIfChanged(store, DEPLOYMENTS, deployment, withStatus(deployment, newest, all));
  }

  function withStatus(deployment: KubeObject, newest: KubeObject, all: KubeObject[]): KubeObject {
    const counts = (rs: KubeObject): { replicas: number; ready: number; available: number } => {
      const s = (rs.status ?? {}) as { replicas?: number; readyReplicas?: number; availableReplicas?: number };
      return { replicas: s.replicas ?? 0, ready: s.readyReplicas ?? 0, available: s.availableReplicas ?? 0 };
    };
    const sum = (pick: (c: ReturnType<typeof counts>) => number): number => all.reduce((n, rs) => n + pick(counts(rs)), 0);
    const desired = specOf(deployment).replicas ?? 1;
    const replicas = sum((c) => c.replicas);
    const available = sum((c) => c.available);
    const updated = counts(newest).replicas;
    const complete = updated === desired && replicas === desired && available === desired;
    const rsName = newest.metadata.name ?? '';
    const previous = ((deployment.status as { conditions?: Condition[] } | undefined)?.conditions ?? []);
    const now = store.now();
    const condition = (type: string, status: string, reason: string, message: string): Condition => {
      const old = previous.find((c) => c.type === type);
      if (old !== undefined && old.status === status && old.reason === reason && old.message === message) return old;
      return { type, status, reason, message, lastUpdateTime: now, lastTransitionTime: old !== undefined && old.status === status ? old.lastTransitionTime : now };
    };
    const minimum = desired - Math.floor(desired / 4);
    const status = {
      observedGeneration: deployment.metadata.generation ?? 1,
      replicas,
      updatedReplicas: updated,
      readyReplicas: sum((c) => c.ready),
      availableReplicas: available,
      ...(replicas - available > 0 ? { unavailableReplicas: replicas - available } : {}),
      conditions: [
        available >= minimum
          ? condition('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.')
          : condition('Available', 'False', 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.'),
        complete
          ? condition('Progressing', 'True', 'NewReplicaSetAvailable', `ReplicaSet "${rsName}" has successfully progressed.`)
          : condition('Progressing', 'True', 'ReplicaSetUpdated', `ReplicaSet "${rsName}" is progressing.`),
      ],
    };
    const annotations = { ...deployment.metadata.annotations, [REVISION]: String(revisionOf(newest) || 1) };
    return { ...deployment, metadata: { ...deployment.metadata, annotations }, status };
  }

  function syncReplicaSet(namespace: string, name: string): void {
    const rs = store.read(REPLICASETS, namespace, name);
    if (rs === undefined) return;
    const spec = specOf(rs);
    const wanted = rs.metadata.deletionTimestamp === undefined ? (spec.replicas ?? 1) : 0;
    const active = ownedBy(rs, store.listOf(PODS, namespace)).filter((p) => p.metadata.deletionTimestamp === undefined);
    for (let i = active.length; i < wanted; i += 1) {
      let podName = '';
      for (let n = 0; podName === '' || store.read(PODS, namespace, podName) !== undefined; n += 1) podName = `${name}-${kubeSuffix(`${rs.metadata.uid ?? ''}/${i}/${n}`, 5)}`;
      active.push(
        store.write(PODS, {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: podName, namespace, labels: { ...spec.template?.metadata?.labels }, ...(spec.template?.metadata?.annotations !== undefined ? { annotations: spec.template.metadata.annotations } : {}), ownerReferences: [ownerReference(rs)] },
          spec: structuredClone(spec.template?.spec ?? {}),
          status: { phase: 'Pending', qosClass: 'BestEffort' },
        }),
      );
    }
    // The newest pods go first, as the ReplicaSet controller's ranking prefers for pods equally ready.
    const byAge = [...active].sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion));
    for (const pod of byAge.slice(wanted).reverse()) terminate(pod);
    const kept = byAge.slice(0, wanted);
    const ready = kept.filter(isReady).length;
    const status = { replicas: kept.length, fullyLabeledReplicas: kept.length, readyReplicas: ready, availableReplicas: ready, observedGeneration: rs.metadata.generation ?? 1 };
    writeIfChanged(store, REPLICASETS, rs, { ...rs, status });
  }

  /** Graceful deletion as the API server does it for a pod on a node: Terminating, then gone (the kubelet's part). */
  function terminate(pod: KubeObject): void {
    const { namespace = '', name = '' } = pod.metadata;
    if (pod.metadata.deletionTimestamp !== undefined) return;
    store.write(PODS, { ...pod, metadata: { ...pod.metadata, deletionTimestamp: store.now(), deletionGracePeriodSeconds: 30 } });
    setImmediate(() => {
      if (!stopped) store.erase(PODS, namespace, name);
    });
  }

  /** Background cascading deletion of what `owner` controlled. */
  function collect(owner: KubeObject): void {
    const namespace = owner.metadata.namespace ?? '';
    for (const rs of ownedBy(owner, store.listOf(REPLICASETS, namespace))) store.erase(REPLICASETS, namespace, rs.metadata.name ?? '');
    for (const pod of ownedBy(owner, store.listOf(PODS, namespace))) terminate(pod);
  }

  const unsubscribe = store.subscribe((event) => {
    const { resourceType: type, object } = event;
    const namespace = object.metadata.namespace ?? '';
    if (event.type === 'DELETED' && (type === DEPLOYMENTS || type === REPLICASETS)) {
      setImmediate(() => {
        if (!stopped) collect(object);
      });
      return;
    }
    if (type === DEPLOYMENTS) enqueue('deployments', namespace, object.metadata.name ?? '');
    else if (type === REPLICASETS) {
      enqueue('replicasets', namespace, object.metadata.name ?? '');
      const owner = controllerOf(object);
      if (owner?.kind === 'Deployment') enqueue('deployments', namespace, owner.name);
    } else if (type === PODS) {
      const owner = controllerOf(object);
      if (owner?.kind === 'ReplicaSet') enqueue('replicasets', namespace, owner.name);
    }
  });
  for (const deployment of store.listOf(DEPLOYMENTS, '')) enqueue('deployments', deployment.metadata.namespace ?? '', deployment.metadata.name ?? '');
  for (const rs of store.listOf(REPLICASETS, '')) enqueue('replicasets', rs.metadata.namespace ?? '', rs.metadata.name ?? '');

  return {
    stop() {
      stopped = true;
      unsubscribe();
      if (scheduled !== undefined) clearImmediate(scheduled);
    },
  };
}
