/**
 * What the end-to-end suites share, against the stand-in (test/e2e/, test/masking/) and
 * against the real kube-apiserver (test/kube/): the policy and manifest the kubectl suites use,
 * and the Secret values the masking suites must never let through.
 */
import assert from 'node:assert/strict';

/** The kubectl suites' policy: the database pod may not be deleted; everything else is allowed. */
export const E2E_POLICY = `
apiVersion: gatehouse/v1
rules:
  - name: no-deleting-the-database
    effect: deny
    verbs: ["delete"]
    resources: ["pods"]
    names: ["database"]
    reason: "the database pod is load-bearing"
  - name: discovery
    effect: allow
    verbs: ["get"]
    nonResourceURLs: ["/api", "/api/*", "/apis", "/apis/*", "/openapi/*", "/version"]
  - name: reads
    effect: allow
    verbs: ["get", "list", "watch"]
    resources: ["*"]
  - name: writes
    effect: allow
    verbs: ["create", "update", "patch", "delete"]
    resources: ["*"]
`;

/** A ConfigMap and a two-container Deployment, for `kubectl apply -f -`. */
export const appManifest = (image: string, color: string): string => `
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  color: ${color}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 2
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
      - name: api
        image: ${image}
        env:
        - {name: MODE, value: production}
      - name: sidecar
        image: example/proxy:1
`;

/** The rule every kubectl run needs: discovery and /version. */
export const DISCOVERY_RULES = `
apiVersion: gatehouse/v1
rules:
  - name: discovery
    effect: allow
    verbs: ["get"]
    nonResourceURLs: ["/api", "/api/*", "/apis", "/apis/*", "/openapi/*", "/version"]
`;

/**
 * The masking suites' policy: `incident-responders` may read Secrets unmasked (break-glass);
 * ConfigMap keys like *password* and env values named *_PASSWORD or *_TOKEN are masked too.
 */
export const MASKING_POLICY = `${DISCOVERY_RULES}  - name: break-glass
    effect: allow
    groups: ["incident-responders"]
    verbs: ["get", "list", "watch"]
    resources: ["secrets"]
    unmasked: true
  - name: everything
    effect: allow
    verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
    resources: ["*"]
masking:
  - name: passwords-in-configmaps
    configMapKeys: ["*password*"]
  - name: credentials-in-env
    envNames: ["*_PASSWORD", "*_TOKEN"]
`;

/** A running pod `web` in `default`, as a kubelet would report it: what exec, logs and watches need. */
export const RUNNING_POD = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'default' },
  spec: { nodeName: 'node-1', containers: [{ name: 'main', image: 'nginx:1.27' }] },
  status: { phase: 'Running', containerStatuses: [{ name: 'main', image: 'nginx:1.27', ready: true, restartCount: 0, state: { running: {} } }] },
};

export const PASSWORD = 'correct-horse-battery-staple';
export const API_KEY = 'ak_live_5f2d8c1e9b7a4630';
export const LITERAL = 'literal-from-the-command-line';
export const APPLIED = 'applied-through-stringData';
/** Every value the masking suites put in a Secret (or a masked ConfigMap key or env value). */
export const SECRET_VALUES = [PASSWORD, API_KEY, LITERAL, APPLIED];
export const b64 = (text: string): string => Buffer.from(text).toString('base64');

/** No value of the masking suites' Secrets, plain or base64, in `text`. */
export function assertNoSecret(text: string, where: string): void {
  for (const value of SECRET_VALUES) {
    assert.ok(!text.includes(value), `${where} shows ${value}`);
    assert.ok(!text.includes(b64(value)), `${where} shows ${value} in base64`);
  }
}
