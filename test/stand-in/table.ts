/**
 * `meta.k8s.io/v1 Table` rendering, with the columns kube-apiserver's printers
 * (pkg/printers/internalversion) give each type, so `kubectl get` prints what it prints
 * against a real cluster. `includeObject` is honoured: None, Metadata (default), Object.
 */
import type { ResourceType } from './catalogue.ts';
import type { KubeObject } from './store.ts';

interface Column {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

type Cell = string | number | boolean;

interface Printer {
  columns: Column[];
  cells(object: KubeObject, age: string): Cell[];
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

function col(name: string, description: string, options: { type?: string; format?: string; priority?: number } = {}): Column {
  return { name, type: options.type ?? 'string', format: options.format ?? '', description, priority: options.priority ?? 0 };
}

const NAME = col('Name', 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names', { format: 'name' });
const AGE = col('Age', 'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata');

function at(object: unknown, path: string): unknown {
  let current = object;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function str(object: unknown, path: string, fallback = '<none>'): string {
  const value = at(object, path);
  return value === undefined || value === null || value === '' ? fallback : String(value);
}

function count(object: unknown, path: string): number {
  const value = at(object, path);
  return value !== null && typeof value === 'object' ? Object.keys(value).length : 0;
}

interface ContainerStatus {
  ready?: boolean;
  restartCount?: number;
  state?: { waiting?: { reason?: string }; terminated?: { reason?: string } };
}

function podCells(pod: KubeObject, age: string): Cell[] {
  const containers = (at(pod, 'spec.containers') as unknown[] | undefined) ?? [];
  const statuses = (at(pod, 'status.containerStatuses') as ContainerStatus[] | undefined) ?? [];
  const ready = statuses.filter((s) => s.ready === true).length;
  const restarts = statuses.reduce((sum, s) => sum + (s.restartCount ?? 0), 0);
  let reason = str(pod, 'status.reason', '') || str(pod, 'status.phase', 'Pending');
  for (const s of statuses) {
    const why = s.state?.waiting?.reason ?? s.state?.terminated?.reason;
    if (why !== undefined && why !== '') reason = why;
  }
  if (pod.metadata.deletionTimestamp !== undefined) reason = 'Terminating';
  return [
    pod.metadata.name ?? '',
    `${ready}/${containers.length}`,
    reason,
    String(restarts),
    age,
    str(pod, 'status.podIP'),
    str(pod, 'spec.nodeName'),
    str(pod, 'status.nominatedNodeName'),
    '<none>',
  ];
}

function containerSummary(object: KubeObject): [string, string] {
  const containers = (at(object, 'spec.template.spec.containers') as { name?: string; image?: string }[] | undefined) ?? [];
  return [containers.map((c) => c.name ?? '').join(','), containers.map((c) => c.image ?? '').join(',')];
}

function selectorText(object: KubeObject, path: string): string {
  const labels = at(object, path) as Record<string, string> | undefined;
  if (labels === undefined || Object.keys(labels).length === 0) return '<none>';
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

function servicePorts(service: KubeObject): string {
  const ports = (at(service, 'spec.ports') as { port?: number; nodePort?: number; protocol?: string }[] | undefined) ?? [];
  if (ports.length === 0) return '<none>';
  return ports.map((p) => `${p.port ?? 0}${p.nodePort !== undefined ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`).join(',');
}

const PRINTERS: Record<string, Printer> = {
  '/pods': {
    columns: [
      NAME,
      col('Ready', 'The aggregate readiness state of this pod for accepting traffic.'),
      col('Status', 'The aggregate status of the containers in this pod.'),
      col('Restarts', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
      AGE,
      col('IP', 'The IP address assigned to the pod', { priority: 1 }),
      col('Node', 'The name of the node the pod is assigned to', { priority: 1 }),
      col('Nominated Node', 'The name of the node the pod is nominated to', { priority: 1 }),
      col('Readiness Gates', 'The readiness gates of the pod', { priority: 1 }),
    ],
    cells: podCells,
  },
  '/namespaces': {
    columns: [NAME, col('Status', 'The status of the namespace'), AGE],
    cells: (o, age) => [o.metadata.name ?? '', str(o, 'status.phase', 'Active'), age],
  },
  '/secrets': {
    columns: [NAME, col('Type', 'The type of the secret'), col('Data', 'The number of entries in the secret', { type: 'integer' }), AGE],
    cells: (o, age) => [o.metadata.name ?? '', str(o, 'type', 'Opaque'), count(o, 'data'), age],
  },
  '/configmaps': {
    columns: [NAME, col('Data', 'The number of entries in the configmap', { type: 'integer' }), AGE],
    cells: (o, age) => [o.metadata.name ?? '', count(o, 'data') + count(o, 'binaryData'), age],
  },
  '/services': {
    columns: [
      NAME,
      col('Type', 'The type of the service'),
      col('Cluster-IP', 'The IP address of the service'),
      col('External-IP', 'The external IP address of the service'),
      col('Port(s)', 'The ports of the service'),
      AGE,
      col('Selector', 'The selector of the service', { priority: 1 }),
    ],
    cells: (o, age) => [o.metadata.name ?? '', str(o, 'spec.type', 'ClusterIP'), str(o, 'spec.clusterIP'), '<none>', servicePorts(o), age, selectorText(o, 'spec.selector')],
  },
  '/serviceaccounts': {
    columns: [NAME, col('Secrets', 'The number of secrets of the service account', { type: 'integer' }), AGE],
    cells: (o, age) => [o.metadata.name ?? '', ((o.secrets as unknown[] | undefined) ?? []).length, age],
  },
  '/events': {
    columns: [
      col('Last Seen', 'Time when last event was observed'),
      col('Type', 'Type of this event (Normal, Warning), new types could be added in the future.'),
      col('Reason', 'Reason why the action was taken. It is human-readable. This field cannot be empty for new Events and it can have at most 128 characters.'),
      col('Object', 'The object that this event is about.'),
      col('Message', 'A human-readable description of the status of this operation.'),
    ],
    cells: (o, age) => [age, str(o, 'type', 'Normal'), str(o, 'reason', ''), `${str(o, 'involvedObject.kind', '').toLowerCase()}/${str(o, 'involvedObject.name', '')}`, str(o, 'message', '')],
  },
  '/nodes': {
    columns: [NAME, col('Status', 'The status of the node'), col('Roles', 'The roles of the node'), AGE, col('Version', 'Kubelet Version reported by the node.')],
    cells: (o, age) => [o.metadata.name ?? '', 'Ready', '<none>', age, str(o, 'status.nodeInfo.kubeletVersion', '')],
  },
  'apps/deployments': {
    columns: [
      NAME,
      col('Ready', 'Number of the pod with ready state'),
      col('Up-to-date', 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.', { type: 'integer' }),
      col('Available', 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.', { type: 'integer' }),
      AGE,
      col('Containers', 'Names of each container in the template.', { priority: 1 }),
      col('Images', 'Images referenced by each container in the template.', { priority: 1 }),
      col('Selector', 'Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.', { priority: 1 }),
    ],
    cells: (o, age) => [
      o.metadata.name ?? '',
      `${Number(at(o, 'status.readyReplicas') ?? 0)}/${Number(at(o, 'spec.replicas') ?? 1)}`,
      Number(at(o, 'status.updatedReplicas') ?? 0),
      Number(at(o, 'status.availableReplicas') ?? 0),
      age,
      ...containerSummary(o),
      selectorText(o, 'spec.selector.matchLabels'),
    ],
  },
  'apps/replicasets': {
    columns: [
      NAME,
      col('Desired', 'Number of desired pods.', { type: 'integer' }),
      col('Current', 'Number of actual running pods.', { type: 'integer' }),
      col('Ready', 'Number of ready pods.', { type: 'integer' }),
      AGE,
      col('Containers', 'Names of each container in the template.', { priority: 1 }),
      col('Images', 'Images referenced by each container in the template.', { priority: 1 }),
      col('Selector', 'Label selector for pods.', { priority: 1 }),
    ],
    cells: (o, age) => [
      o.metadata.name ?? '',
      Number(at(o, 'spec.replicas') ?? 1),
      Number(at(o, 'status.replicas') ?? 0),
      Number(at(o, 'status.readyReplicas') ?? 0),
      age,
      ...containerSummary(o),
      selectorText(o, 'spec.selector.matchLabels'),
    ],
  },
};

/** The generic server's default: name and creation time. */
const DEFAULT_PRINTER: Printer = {
  columns: [NAME, col('Created At', 'CreationTimestamp is a timestamp representing the server time when this object was created.', { type: 'date' })],
  cells: (o) => [o.metadata.name ?? '', o.metadata.creationTimestamp ?? ''],
};

/** k8s.io/apimachinery/pkg/util/duration.HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  const years = Math.floor(hours / 24 / 365);
  if (hours < 24 * 365 * 8) return Math.floor(hours / 24) % 365 === 0 ? `${years}y` : `${years}y${Math.floor(hours / 24) % 365}d`;
  return `${years}y`;
}

function rowObject(object: KubeObject, include: IncludeObject): unknown {
  if (include === 'None') return undefined;
  if (include === 'Object') return object;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: object.metadata };
}

export function toTable(
  type: ResourceType,
  objects: KubeObject[],
  options: { now: number; include: IncludeObject; listMeta: Record<string, unknown> },
): unknown {
  const printer = PRINTERS[`${type.group}/${type.resource}`] ?? DEFAULT_PRINTER;
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: options.listMeta,
    columnDefinitions: printer.columns,
    rows: objects.map((object) => {
      const created = Date.parse(object.metadata.creationTimestamp ?? '');
      const age = Number.isNaN(created) ? '<unknown>' : humanDuration(options.now - created);
      const row: Record<string, unknown> = { cells: printer.cells(object, age) };
      const embedded = rowObject(object, options.include);
      if (embedded !== undefined) row.object = embedded;
      return row;
    }),
  };
}
