/**
 * The Kubernetes objects the bench upstream serves, pre-serialised once: a Pod of about
 * 2 KB (what `kubectl get pod -o json` reads), Secrets of 5 keys holding 1 KiB each, lists
 * of them, and watch events. Content is deterministic, so every run moves the same bytes.
 */

export const BENCH_NAMESPACE = 'default';
export const POD_NAME = 'web-0';
export const POD_PATH = `/api/v1/namespaces/${BENCH_NAMESPACE}/pods/${POD_NAME}`;
export const SECRET_KEYS_PER_SECRET = 5;
export const SECRET_VALUE_BYTES = 1024;
/** List sizes of the masking benchmark; each is served under its own namespace. */
export const LIST_SIZES = [1000, 10000] as const;
export const WATCH_NAMESPACE = 'bench-watch';

export function listNamespace(size: number): string {
  return `bench-list-${size}`;
}

export function listPath(size: number): string {
  return `/api/v1/namespaces/${listNamespace(size)}/secrets`;
}

export const WATCH_PATH = `/api/v1/namespaces/${WATCH_NAMESPACE}/secrets?watch=1`;

/** A deterministic byte sequence (an LCG), so Secret values differ but runs repeat. */
function bytes(seed: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

export function pod(): Record<string, unknown> {
  return {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: {
      name: POD_NAME,
      generateName: 'web-',
      namespace: BENCH_NAMESPACE,
      uid: '6f1c1c58-0d8e-4b8e-9f57-3c1d2a7b9e10',
      resourceVersion: '184467',
      creationTimestamp: '2025-01-15T09:30:00Z',
      labels: { app: 'web', 'app.kubernetes.io/name': 'web', 'apps.kubernetes.io/pod-index': '0', 'controller-revision-hash': 'web-7d9f8c6b5', 'statefulset.kubernetes.io/pod-name': POD_NAME },
      annotations: { 'kubectl.kubernetes.io/restartedAt': '2025-01-15T09:29:58Z' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: '0c6a4b8e-1f2d-4e3c-8a9b-7d6e5f4c3b2a', controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      containers: [
        {
          name: 'web',
          image: 'registry.example.com/team/web:1.27.3',
          ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
          env: [
            { name: 'LOG_LEVEL', value: 'info' },
            { name: 'DB_HOST', value: 'db.default.svc.cluster.local' },
            { name: 'DB_PASSWORD', value: 'hunter2-not-a-real-password' },
          ],
          resources: { limits: { cpu: '500m', memory: '256Mi' }, requests: { cpu: '100m', memory: '128Mi' } },
          volumeMounts: [{ name: 'kube-api-access-x2x7q', readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }],
          readinessProbe: { httpGet: { path: '/healthz', port: 8080, scheme: 'HTTP' }, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 },
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          imagePullPolicy: 'IfNotPresent',
        },
      ],
      volumes: [{ name: 'kube-api-access-x2x7q', projected: { sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }], defaultMode: 420 } }],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'default',
      nodeName: 'ip-10-0-12-34.eu-west-1.compute.internal',
      hostname: POD_NAME,
      subdomain: 'web',
      schedulerName: 'default-scheduler',
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
    },
    status: {
      phase: 'Running',
      conditions: ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({
        type,
        status: 'True',
        lastProbeTime: null,
        lastTransitionTime: '2025-01-15T09:30:04Z',
      })),
      hostIP: '10.0.12.34',
      hostIPs: [{ ip: '10.0.12.34' }],
      podIP: '10.0.13.57',
      podIPs: [{ ip: '10.0.13.57' }],
      startTime: '2025-01-15T09:30:00Z',
      containerStatuses: [
        {
          name: 'web',
          state: { running: { startedAt: '2025-01-15T09:30:02Z' } },
          lastState: {},
          ready: true,
          restartCount: 0,
          image: 'registry.example.com/team/web:1.27.3',
          imageID: 'registry.example.com/team/web@sha256:4f6c1a0e9b8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b',
          containerID: 'containerd://9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b',
          started: true,
        },
      ],
      qosClass: 'Burstable',
    },
  };
}

export function secret(namespace: string, index: number, resourceVersion: number): Record<string, unknown> {
  const data: Record<string, string> = {};
  for (let key = 0; key < SECRET_KEYS_PER_SECRET; key++) {
    data[`key-${key}`] = bytes(index * 31 + key + 1, SECRET_VALUE_BYTES).toString('base64');
  }
  return {
    kind: 'Secret',
    apiVersion: 'v1',
    metadata: {
      name: `secret-${index}`,
      namespace,
      uid: `00000000-0000-4000-8000-${index.toString(16).padStart(12, '0')}`,
      resourceVersion: String(resourceVersion),
      creationTimestamp: '2025-01-15T09:30:00Z',
      labels: { app: 'bench' },
    },
    type: 'Opaque',
    data,
  };
}

/** A SecretList as the API server writes it (list items carry no kind/apiVersion there either way). */
export function secretList(size: number): Buffer {
  const namespace = listNamespace(size);
  const parts: string[] = [`{"kind":"SecretList","apiVersion":"v1","metadata":{"resourceVersion":"${1000 + size}"},"items":[`];
  for (let i = 0; i < size; i++) parts.push((i === 0 ? '' : ',') + JSON.stringify(secret(namespace, i, 1000 + i)));
  parts.push(']}');
  return Buffer.from(parts.join(''), 'utf8');
}

/** One watch event line (`{"type":"MODIFIED","object":…}\n`); the resourceVersion identifies it. */
export function watchEvent(sequence: number): Buffer {
  return Buffer.from(`${JSON.stringify({ type: 'MODIFIED', object: secret(WATCH_NAMESPACE, sequence % 100, sequence) })}\n`, 'utf8');
}

/** Whether `text` still holds a Secret value as the upstream sent it (used to prove masking happened). */
export function holdsSecretValue(text: string): boolean {
  return /"key-\d":"[A-Za-z0-9+/]{64}/.test(text);
}
