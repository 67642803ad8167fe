/**
 * The demo cluster's contents and its small "kubelet": what `npm start` shows on a machine
 * without a kubeconfig. Namespaces dev, staging and prod; in each a Deployment `web` (two
 * Running pods, with their ReplicaSet) behind a Service, a ConfigMap mounted into the pods
 * and a Secret they read their database password from; in prod also `payments` (one pod).
 * Every pod writes an access-log line every few seconds, so `kubectl logs -f` shows lines.
 *
 * The kubelet part makes any pod created later (`kubectl run`, `kubectl apply`) Running with
 * a pod IP, as a node would, so the demo behaves like a cluster with a node; the controllers
 * of controllers.ts give Deployments created, scaled or restarted later their ReplicaSets and
 * pods, as a kube-controller-manager would.
 */
import { kubeSuffix, startControllers } from './controllers.ts';
import type { FakeStore, KubeObject } from './store.ts';

export const DEMO_NAMESPACES = ['dev', 'staging', 'prod'] as const;

/** Seconds between two log lines of one pod. */
const LOG_INTERVAL_MS = 3000;

interface DemoApp {
  name: string;
  image: string;
  replicas: number;
  port: number;
}

const APPS: Record<(typeof DEMO_NAMESPACES)[number], DemoApp[]> = {
  dev: [{ name: 'web', image: 'nginx:1.27', replicas: 2, port: 80 }],
  staging: [{ name: 'web', image: 'nginx:1.27', replicas: 2, port: 80 }],
  prod: [
    { name: 'web', image: 'nginx:1.27', replicas: 2, port: 80 },
    { name: 'payments', image: 'example/payments:3.4', replicas: 1, port: 8080 },
  ],
};

/** Stable suffixes (the real ones are random; stable ones make the README's names true). */
const suffix = kubeSuffix;

/** Names of the demo pods of one app, as `kubectl get pods` lists them. */
export function demoPodNames(namespace: string, app: string, replicas: number): string[] {
  const hash = suffix(`${namespace}/${app}/rs`, 10);
  return Array.from({ length: replicas }, (_, i) => `${app}-${hash}-${suffix(`${namespace}/${app}/${i}`, 5)}`);
}

/** Marks a pod Running on the demo node, as a kubelet would report it. */
function running(pod: KubeObject, ip: string, now: string): KubeObject {
  const spec = (pod.spec ?? {}) as { containers?: { name?: string; image?: string }[]; nodeName?: string };
  return {
    ...pod,
    spec: { ...spec, nodeName: spec.nodeName ?? 'demo-node' },
    status: {
      phase: 'Running',
      conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({ type, status: 'True', lastTransitionTime: now })),
      hostIP: '10.0.0.10',
      podIP: ip,
      podIPs: [{ ip }],
      startTime: now,
      containerStatuses: (spec.containers ?? []).map((c) => ({
        name: c.name ?? '',
        image: c.image ?? '',
        imageID: '',
        ready: true,
        started: true,
        restartCount: 0,
        state: { running: { startedAt: now } },
      })),
    },
  };
}

export interface Demo {
  /** Stops the log lines, the kubelet and the controllers. */
  stop(): void;
}

/** Fills the store with the demo cluster and starts its pods' logs and the kubelet. */
export function seedDemo(store: FakeStore): Demo {
  let nextIp = 10;
  const ipFor = (): string => `10.244.0.${nextIp++}`;
  const now = store.now();
  store.put({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'demo-node', labels: { 'kubernetes.io/hostname': 'demo-node' } }, spec: {}, status: { conditions: [{ type: 'Ready', status: 'True' }], nodeInfo: { kubeletVersion: 'v1.33.0' } } });
  const pods: { namespace: string; name: string; app: string }[] = [];
  for (const namespace of DEMO_NAMESPACES) {
    store.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { 'kubernetes.io/metadata.name': namespace } }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });
    for (const app of APPS[namespace]) {
      const labels = { app: app.name };
      const config = `${app.name}-config`;
      const secret = `${app.name}-db`;
      store.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: config, namespace }, data: { 'app.properties': `environment=${namespace}\nlog.level=${namespace === 'prod' ? 'warn' : 'debug'}\n`, 'feature-flags': 'new-checkout=false\n' } });
      store.put({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: secret, namespace },
        type: 'Opaque',
        data: { username: Buffer.from(`${app.name}`).toString('base64'), password: Buffer.from(`${namespace}-${app.name}-s3cr3t`).toString('base64') },
      });
      const container = {
        name: app.name,
        image: app.image,
        ports: [{ containerPort: app.port, protocol: 'TCP' }],
        env: [
          { name: 'ENVIRONMENT', value: namespace },
          { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: secret, key: 'password' } } },
        ],
        volumeMounts: [{ name: 'config', mountPath: '/etc/app' }],
      };
      const template = { metadata: { labels }, spec: { containers: [container], volumes: [{ name: 'config', configMap: { name: config } }] } };
      const deployment = store.put({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: app.name, namespace, labels },
        spec: { replicas: app.replicas, selector: { matchLabels: labels }, template },
        status: { observedGeneration: 1, replicas: app.replicas, readyReplicas: app.replicas, availableReplicas: app.replicas, updatedReplicas: app.replicas },
      });
      const names = demoPodNames(namespace, app.name, app.replicas);
      const rsName = names[0]?.split('-').slice(0, -1).join('-') ?? app.name;
      const rs = store.put({
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: { name: rsName, namespace, labels, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: app.name, uid: deployment.metadata.uid, controller: true }] },
        spec: { replicas: app.replicas, selector: { matchLabels: labels }, template },
        status: { replicas: app.replicas, readyReplicas: app.replicas, availableReplicas: app.replicas },
      });
      for (const name of names) {
        store.put(
          running(
            { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rsName, uid: rs.metadata.uid, controller: true }] }, spec: template.spec },
            ipFor(),
            now,
          ),
        );
        pods.push({ namespace, name, app: app.name });
      }
      store.put({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: app.name, namespace, labels },
        spec: { selector: labels, ports: [{ port: 80, targetPort: app.port, protocol: 'TCP' }], type: 'ClusterIP', clusterIP: `10.96.${DEMO_NAMESPACES.indexOf(namespace)}.${10 + APPS[namespace].indexOf(app)}` },
      });
    }
  }
  let tick = 0;
  const log = (): void => {
    tick += 1;
    for (const pod of pods) {
      if (store.get('pods', pod.namespace, pod.name) === undefined) continue;
      const path = ['/', '/healthz', '/api/orders', '/static/app.js'][(tick + pod.name.length) % 4];
      store.appendLog(pod.namespace, pod.name, `10.244.0.1 - - [${new Date(store.clock.now()).toISOString()}] "GET ${path} HTTP/1.1" 200 ${512 + ((tick * 37) % 900)}`);
    }
  };
  for (let i = 0; i < 3; i += 1) log();
  const timer = setInterval(log, LOG_INTERVAL_MS);
  timer.unref();
  // The kubelet: a pod created later starts Running on the demo node.
  const stopKubelet = store.subscribe((event) => {
    if (event.type !== 'ADDED' || event.resourceType.resource !== 'pods' || event.resourceType.group !== '') return;
    const phase = (event.object['status'] as { phase?: string } | undefined)?.phase;
    if (phase === 'Running') return;
    setImmediate(() => {
      const current = store.get('pods', event.object.metadata.namespace ?? '', event.object.metadata.name ?? '');
      if (current !== undefined) store.put(running(current, ipFor(), store.now()));
    });
  });
  const controllers = startControllers(store);
  return {
    stop() {
      clearInterval(timer);
      stopKubelet();
      controllers.stop();
    },
  };
}
