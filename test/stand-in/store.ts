/**
 * The stand-in's etcd: objects by type/namespace/name, one global resourceVersion that
 * increments on every write, uid/creationTimestamp/generation bookkeeping, a history of
 * watch events (so a watch can start from a resourceVersion), and pod logs.
 *
 * Tests seed and change objects through `put`/`remove` and emit log lines through
 * `appendLog`; every change reaches open watches and `logs -f` streams at once.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../src/types.ts';
import { RESOURCE_TYPES, apiVersionOf, findKind, resolveResource, type ResourceType } from './catalogue.ts';

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  type: WatchEventType;
  resourceType: ResourceType;
  /** The object after the change (for DELETED: as it was, with the deletion's resourceVersion). */
  object: KubeObject;
  resourceVersion: number;
}

export interface LogLine {
  time: string;
  text: string;
}

export interface LogEvent {
  namespace: string;
  pod: string;
  container: string;
  line: LogLine;
}

const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

function keyOf(type: ResourceType, namespace: string, name: string): string {
  return `${type.group}/${type.resource}/${type.namespaced ? namespace : ''}/${name}`;
}

export class FakeStore {
  private readonly objects = new Map<string, KubeObject>();
  private readonly history: StoreEvent[] = [];
  private readonly listeners = new Set<(event: StoreEvent) => void>();
  private readonly logLines = new Map<string, LogLine[]>();
  private readonly logListeners = new Set<(event: LogEvent) => void>();
  private revision = 1;
  readonly clock: Clock;

  constructor(clock: Clock) {
    this.clock = clock;
    for (const name of SYSTEM_NAMESPACES) {
      this.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });
    }
  }

  /** The resourceVersion of the latest write. */
  resourceVersion(): string {
    return String(this.revision);
  }

  now(): string {
    return new Date(this.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  /**
   * Creates or replaces an object, for tests. The type comes from apiVersion/kind;
   * namespaced objects without a namespace go to "default". Returns the stored copy.
   */
  put(object: KubeObject): KubeObject {
    const type = findKind(object.apiVersion, object.kind);
    if (type === undefined) throw new Error(`stand-in: no resource type for ${object.apiVersion} ${object.kind}`);
    const copy = structuredClone(object);
    if (type.namespaced && copy.metadata.namespace === undefined) copy.metadata.namespace = 'default';
    return this.write(type, copy);
  }

  /** `resource` is `pods`, `deployments` or `deployments.apps`. */
  get(resource: string, namespace: string, name: string): KubeObject | undefined {
    return this.read(resolveResource(resource), namespace, name);
  }

  list(resource: string, namespace?: string): KubeObject[] {
    return this.listOf(resolveResource(resource), namespace ?? '');
  }

  /** Deletes an object at once (no graceful termination), for tests. */
  remove(resource: string, namespace: string, name: string): KubeObject | undefined {
    return this.erase(resolveResource(resource), namespace, name);
  }

  /** Adds a line to a pod's log (the first container's unless named); open `logs -f` streams get it at once. */
  appendLog(namespace: string, pod: string, text: string, container?: string): void {
    const object = this.read(resolveResource('pods'), namespace, pod);
    if (object === undefined) throw new Error(`stand-in: no pod ${namespace}/${pod} to log for`);
    const name = container ?? podContainers(object)[0] ?? '';
    const line = { time: new Date(this.clock.now()).toISOString(), text };
    const key = `${namespace}/${pod}/${name}`;
    this.logLines.set(key, [...(this.logLines.get(key) ?? []), line]);
    for (const listener of this.logListeners) listener({ namespace, pod, container: name, line });
  }

  logs(namespace: string, pod: string, container: string): LogLine[] {
    return this.logLines.get(`${namespace}/${pod}/${container}`) ?? [];
  }

  onLog(listener: (event: LogEvent) => void): () => void {
    this.logListeners.add(listener);
    return () => this.logListeners.delete(listener);
  }

  /** Open watches (and other subscribers): a test reads whether a watch was closed upstream. */
  get subscribers(): number {
    return this.listeners.size;
  }

  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Events after `resourceVersion`, oldest first. */
  eventsSince(resourceVersion: number): StoreEvent[] {
    return this.history.filter((e) => e.resourceVersion > resourceVersion);
  }

  read(type: ResourceType, namespace: string, name: string): KubeObject | undefined {
    const found = this.objects.get(keyOf(type, namespace, name));
    return found === undefined ? undefined : structuredClone(found);
  }

  /** Objects of a type, in one namespace ("" = all), sorted by namespace then name like etcd keys. */
  listOf(type: ResourceType, namespace: string): KubeObject[] {
    const prefix = `${type.group}/${type.resource}/${type.namespaced ? namespace : ''}/`;
    const all = `${type.group}/${type.resource}/`;
    return [...this.objects.entries()]
      .filter(([key]) => key.startsWith(namespace === '' ? all : prefix))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, object]) => structuredClone(object));
  }

  /** Stores an object, doing the API server's bookkeeping; emits ADDED or MODIFIED. */
  write(type: ResourceType, object: KubeObject): KubeObject {
    const { name, namespace = '' } = object.metadata;
    if (name === undefined || name === '') throw new Error('stand-in: object without metadata.name');
    const key = keyOf(type, namespace, name);
    const previous = this.objects.get(key);
    const stored = structuredClone(object);
    stored.apiVersion = apiVersionOf(type);
    stored.kind = type.kind;
    if (!type.namespaced) delete stored.metadata.namespace;
    stored.metadata.uid = previous?.metadata.uid ?? stored.metadata.uid ?? randomUUID();
    stored.metadata.creationTimestamp = previous?.metadata.creationTimestamp ?? stored.metadata.creationTimestamp ?? this.now();
    if ('spec' in stored) {
      const changed = previous === undefined || JSON.stringify(previous.spec) !== JSON.stringify(stored.spec);
      stored.metadata.generation = (previous?.metadata.generation ?? 0) + (changed ? 1 : 0);
    }
    this.revision += 1;
    stored.metadata.resourceVersion = String(this.revision);
    this.objects.set(key, stored);
    this.emit({ type: previous === undefined ? 'ADDED' : 'MODIFIED', resourceType: type, object: stored, resourceVersion: this.revision });
    return structuredClone(stored);
  }

  /** Removes an object; emits DELETED. A namespace takes everything in it along. */
  erase(type: ResourceType, namespace: string, name: string): KubeObject | undefined {
    const key = keyOf(type, namespace, name);
    const previous = this.objects.get(key);
    if (previous === undefined) return undefined;
    if (type.resource === 'namespaces' && type.group === '') {
      for (const t of RESOURCE_TYPES.filter((r) => r.namespaced)) {
        for (const o of this.listOf(t, name)) this.erase(t, name, o.metadata.name ?? '');
      }
    }
    this.objects.delete(key);
    this.revision += 1;
    const gone = structuredClone(previous);
    gone.metadata.resourceVersion = String(this.revision);
    this.emit({ type: 'DELETED', resourceType: type, object: gone, resourceVersion: this.revision });
    return structuredClone(gone);
  }

  private emit(event: StoreEvent): void {
    this.history.push(event);
    for (const listener of this.listeners) listener(event);
  }
}

/** Container names of a pod, in spec order. */
export function podContainers(pod: KubeObject): string[] {
  const spec = pod.spec as { containers?: { name?: string }[] } | undefined;
  return (spec?.containers ?? []).map((c) => c.name ?? '');
}
