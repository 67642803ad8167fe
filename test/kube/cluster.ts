/**
 * A REAL kube-apiserver (with etcd) on loopback for tests and benchmarks, built by
 * test/kube/build.sh from the k8s.io/kubernetes module.
 *
 *   const skip = realClusterSkip();                 // false, or "NOT RUN: <why>" for describe({ skip })
 *   const cluster = await startRealCluster({ namespaces: ['team-a'], bindings: [{ group: 'developers', role: 'edit', namespace: 'team-a' }] });
 *   cluster.adminKubeconfigPath;       // system:masters: seed objects, run kubectl --as/--as-group "directly"
 *   cluster.gatehouseKubeconfigPath;   // Gatehouse's own identity: impersonation only (infra/rbac/impersonator.yaml)
 *   await cluster.admin('POST', '/api/v1/namespaces/team-a/configmaps', {...});
 *   cluster.auditEvents();             // with `audit: true`: every completed request — who, as whom, what
 *   await cluster.close();             // stops kube-apiserver and etcd, removes the temp dir
 *
 * What it sets up, since a bare API server runs no controllers:
 * - TLS with a throwaway CA (kubectl and Gatehouse verify the server), static bearer tokens for
 *   `admin` (system:masters) and `gatehouse` (group gatehouse:impersonators), RBAC authorization;
 * - the repo's infra/rbac/impersonator.yaml, exactly as EKS users apply it;
 * - the aggregated roles `view`, `edit` and `admin` filled the way the clusterrole-aggregation
 *   controller fills them (union of the rules of the roles their aggregationRule selects);
 * - the namespaces asked for, each (and `default`) with the `default` ServiceAccount (the
 *   ServiceAccount admission plugin refuses pods without it; the controller that makes it does not run), and
 *   RoleBindings of groups or users to cluster roles.
 * Pods stay Pending (no scheduler, no kubelet): logs, exec and port-forward get the API
 * server's own errors.
 *
 * Every process is killed when the test process exits, however it exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { createTestCertificates } from '../stand-in/tls.ts';
import { request } from '../support/https-client.ts';
import { prepareRealServer, realServerRequired } from './availability.mjs';
import { reapOnExit, stillRunning } from '../support/child-reaper.ts';

export const IMPERSONATOR_MANIFEST = new URL('../../infra/rbac/impersonator.yaml', import.meta.url);

export interface RoleBindingSpec {
  namespace: string;
  /** A cluster role: view, edit, admin, or another that exists. */
  role: string;
  group?: string;
  user?: string;
}

export interface RealClusterOptions {
  namespaces?: string[];
  bindings?: RoleBindingSpec[];
  /** Keep the API server's audit log (level Metadata: who, as whom, what), read by `auditEvents()`. */
  audit?: boolean;
  /** kube-apiserver feature gates to turn on or off (e.g. `{ CBORServingAndStorage: true }`, alpha in 1.34). */
  featureGates?: Record<string, boolean>;
}

/** One audit event of the API server (the fields the tests read). */
export interface AuditEvent {
  auditID: string;
  stage: string;
  verb: string;
  requestURI: string;
  user: { username: string; uid?: string; groups?: string[] };
  impersonatedUser?: { username: string; uid?: string; groups?: string[] };
  userAgent?: string;
  responseStatus?: { code: number };
}

export interface RealCluster {
  /** e.g. v1.34.4 */
  version: string;
  url: string;
  caPem: string;
  /** Kubeconfig of `admin` (system:masters), and its bearer token. */
  adminKubeconfigPath: string;
  adminToken: string;
  /** Process ids (for CPU accounting in the bench). */
  pids: { etcd: number; apiserver: number };
  /** Kubeconfig of Gatehouse's own identity: it may only impersonate users, groups and uids; and its bearer token. */
  gatehouseKubeconfigPath: string;
  gatehouseToken: string;
  /** A temp dir for the caller's files; removed on close. */
  dir: string;
  /** One API call as admin; throws with the API server's message unless it succeeds. */
  admin<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T>;
  /** The last lines kube-apiserver logged (for failure messages). */
  logTail(): string;
  /** Completed requests from the audit log, oldest first (empty unless started with `audit: true`). */
  auditEvents(): AuditEvent[];
  close(): Promise<void>;
}

/** `false` when the real-server tests can run; else the reason they do not ("NOT RUN: …"). In CI never a reason: the tests run and fail. */
export function realClusterSkip(): false | string {
  if (realServerRequired()) return false;
  const reason = binaries().reason;
  return reason === undefined ? false : `NOT RUN — no real kube-apiserver: ${reason}`;
}

let prepared: { bin?: string; reason?: string } | undefined;
/** What test/run.mjs prepared, or (a test file run on its own) the same preparation here. */
function binaries(): { bin?: string; reason?: string } {
  if (prepared !== undefined) return prepared;
  const reason = process.env['GATEHOUSE_KUBE_UNAVAILABLE'];
  prepared = reason !== undefined && reason !== '' ? { reason } : prepareRealServer();
  return prepared;
}

/** A port free right now on 127.0.0.1 (etcd and kube-apiserver cannot listen on port 0 and report it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

interface Started {
  child: ChildProcess;
  log: () => string;
  exited: Promise<number | null>;
}

function startProcess(binary: string, args: string[]): Started {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  reapOnExit(child);
  let log = '';
  const append = (chunk: Buffer): void => {
    log += chunk.toString('utf8');
    if (log.length > 200_000) log = log.slice(-100_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(-1));
  });
  return { child, log: () => log, exited };
}

async function stopProcess(started: Started | undefined, graceMs: number): Promise<void> {
  if (started === undefined || !stillRunning(started.child)) return;
  started.child.kill('SIGTERM');
  const timer = setTimeout(() => started.child.kill('SIGKILL'), graceMs);
  await started.exited;
  clearTimeout(timer);
}

const tail = (text: string, lines = 25): string => text.trimEnd().split('\n').slice(-lines).join('\n');

function kubeconfig(url: string, caPem: string, user: string, token: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'real', cluster: { server: url, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: `${user}@real`, context: { cluster: 'real', user, namespace: 'default' } }],
    'current-context': `${user}@real`,
  });
}

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}
interface ClusterRole {
  metadata: { name: string; labels?: Record<string, string> };
  rules?: Rule[] | null;
  aggregationRule?: { clusterRoleSelectors?: { matchLabels?: Record<string, string> }[] };
}

/**
 * What the clusterrole-aggregation controller does, once: each role with an aggregationRule
 * gets the union of the rules of the roles its selectors match, repeated until nothing changes
 * (`edit` is itself aggregated into `admin`).
 */
export function aggregateClusterRoles(roles: ClusterRole[]): Map<string, Rule[]> {
  const rules = new Map(roles.map((role) => [role.metadata.name, role.rules ?? []]));
  const matches = (role: ClusterRole, selector: Record<string, string>): boolean =>
    Object.entries(selector).every(([key, value]) => role.metadata.labels?.[key] === value);
  const changed = new Map<string, Rule[]>();
  for (let round = 0; round < 10; round++) {
    let any = false;
    for (const role of roles) {
      const selectors = role.aggregationRule?.clusterRoleSelectors;
      if (selectors === undefined) continue;
      const union: Rule[] = [];
      const seen = new Set<string>();
      for (const other of roles) {
        if (other.metadata.name === role.metadata.name) continue;
        if (!selectors.some((s) => matches(other, s.matchLabels ?? {}))) continue;
        for (const rule of rules.get(other.metadata.name) ?? []) {
          const key = JSON.stringify(rule);
          if (!seen.has(key)) {
            seen.add(key);
            union.push(rule);
          }
        }
      }
      if (JSON.stringify(union) !== JSON.stringify(rules.get(role.metadata.name))) {
        rules.set(role.metadata.name, union);
        changed.set(role.metadata.name, union);
        any = true;
      }
    }
    if (!any) break;
  }
  return changed;
}

export async function startRealCluster(options: RealClusterOptions = {}): Promise<RealCluster> {
  const { bin, reason } = binaries();
  if (bin === undefined) throw new Error(`no real kube-apiserver: ${reason ?? 'unknown reason'}`);
  // The ports are picked free, then bound by etcd and kube-apiserver: another process may take one in between.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(bin, options);
    } catch (error) {
      if (attempt >= 3 || !/address already in use/.test((error as Error).message)) throw error;
    }
  }
}

async function startOnce(bin: string, options: RealClusterOptions): Promise<RealCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-kube-'));
  let etcd: Started | undefined;
  let apiserver: Started | undefined;
  const close = async (): Promise<void> => {
    await stopProcess(apiserver, 10_000);
    await stopProcess(etcd, 5_000);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const certs = await createTestCertificates('kube-apiserver');
    writeFileSync(join(dir, 'server.crt'), certs.certPem);
    writeFileSync(join(dir, 'server.key'), certs.keyPem, { mode: 0o600 });
    const serviceAccountKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(dir, 'sa.key'), serviceAccountKey.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(join(dir, 'sa.pub'), serviceAccountKey.publicKey.export({ type: 'spki', format: 'pem' }));
    const adminToken = randomBytes(24).toString('base64url');
    const gatehouseToken = randomBytes(24).toString('base64url');
    // token,user,uid,"group,…"
    writeFileSync(
      join(dir, 'tokens.csv'),
      `${adminToken},admin,admin-uid,"system:masters"\n${gatehouseToken},gatehouse,gatehouse-uid,"gatehouse:impersonators"\n`,
      { mode: 0o600 },
    );

    const etcdPort = await freePort();
    const peerPort = await freePort();
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    etcd = startProcess(join(bin, 'etcd'), [
      '--name=gatehouse-test',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=gatehouse-test=http://127.0.0.1:${peerPort}`,
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);

    const port = await freePort();
    const url = `https://127.0.0.1:${port}`;
    const auditLog = join(dir, 'audit.log');
    if (options.audit === true) {
      writeFileSync(join(dir, 'audit-policy.yaml'), 'apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: ["RequestReceived"]\nrules:\n  - level: Metadata\n');
    }
    apiserver = startProcess(join(bin, 'kube-apiserver'), [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${port}`,
      `--tls-cert-file=${join(dir, 'server.crt')}`,
      `--tls-private-key-file=${join(dir, 'server.key')}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--anonymous-auth=false',
      `--service-account-key-file=${join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      '--service-cluster-ip-range=10.96.0.0/16',
      '--endpoint-reconciler-type=none',
      `--cert-dir=${join(dir, 'certs')}`,
      '--profiling=false',
      '--v=1',
      ...(options.featureGates === undefined ? [] : [`--feature-gates=${Object.entries(options.featureGates).map(([gate, on]) => `${gate}=${on}`).join(',')}`]),
      ...(options.audit === true ? [`--audit-policy-file=${join(dir, 'audit-policy.yaml')}`, `--audit-log-path=${auditLog}`, '--audit-log-mode=blocking'] : []),
    ]);

    const caPem = certs.caPem;
    const admin = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
      const answer = await request(`${url}${path}`, {
        ca: caPem,
        method,
        headers: {
          authorization: `Bearer ${adminToken}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': method === 'PATCH' ? 'application/merge-patch+json' : 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      if (answer.status >= 300) throw new Error(`${method} ${path} as admin: ${answer.status} ${answer.text}`);
      return answer.json<T>();
    };

    await waitReady(url, caPem, adminToken, [etcd, apiserver]);

    for (const document of parseAllDocuments(readFileSync(IMPERSONATOR_MANIFEST, 'utf8'))) {
      const object = document.toJS() as { kind: string };
      await admin('POST', `/apis/rbac.authorization.k8s.io/v1/${object.kind === 'ClusterRole' ? 'clusterroles' : 'clusterrolebindings'}`, object);
    }
    const roles = await admin<{ items: ClusterRole[] }>('GET', '/apis/rbac.authorization.k8s.io/v1/clusterroles');
    for (const [name, rules] of aggregateClusterRoles(roles.items)) {
      await admin('PATCH', `/apis/rbac.authorization.k8s.io/v1/clusterroles/${name}`, { rules });
    }
    // The API server makes default, kube-system, kube-public and kube-node-lease itself.
    for (const namespace of options.namespaces ?? []) {
      await admin('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
    }
    for (const namespace of ['default', ...(options.namespaces ?? [])]) {
      await admin('POST', `/api/v1/namespaces/${namespace}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } });
    }
    for (const binding of options.bindings ?? []) await bind(admin, binding);

    const adminKubeconfigPath = join(dir, 'admin.kubeconfig');
    writeFileSync(adminKubeconfigPath, kubeconfig(url, caPem, 'admin', adminToken), { mode: 0o600 });
    const gatehouseKubeconfigPath = join(dir, 'gatehouse.kubeconfig');
    writeFileSync(gatehouseKubeconfigPath, kubeconfig(url, caPem, 'gatehouse', gatehouseToken), { mode: 0o600 });
    const version = (await admin<{ gitVersion: string }>('GET', '/version')).gitVersion;
    const log = apiserver.log;
    const pids = { etcd: etcd.child.pid ?? -1, apiserver: apiserver.child.pid ?? -1 };
    const auditEvents = (): AuditEvent[] =>
      options.audit === true
        ? readFileSync(auditLog, 'utf8')
            .split('\n')
            .filter((line) => line !== '')
            .map((line) => JSON.parse(line) as AuditEvent)
            .filter((event) => event.stage === 'ResponseComplete')
        : [];
    return { version, url, caPem, adminKubeconfigPath, adminToken, pids, gatehouseKubeconfigPath, gatehouseToken, dir, admin, logTail: () => tail(log()), auditEvents, close };
  } catch (error) {
    const logs = [etcd && `etcd:\n${tail(etcd.log())}`, apiserver && `kube-apiserver:\n${tail(apiserver.log())}`].filter(Boolean).join('\n');
    await close();
    throw new Error(`the real kube-apiserver did not start: ${(error as Error).message}\n${logs}`, { cause: error });
  }
}

async function bind(admin: RealCluster['admin'], binding: RoleBindingSpec): Promise<void> {
  const subject = binding.group !== undefined ? { kind: 'Group', name: binding.group } : { kind: 'User', name: binding.user ?? '' };
  await admin('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${binding.namespace}/rolebindings`, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: `${binding.role}-${subject.name.replace(/[^a-z0-9.-]/g, '-')}` },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: binding.role },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', ...subject }],
  });
}

/** Polls /readyz until the API server (RBAC bootstrap included) is ready; fails fast when a process exits. */
async function waitReady(url: string, ca: string, token: string, processes: Started[], timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    for (const started of processes) {
      if (!stillRunning(started.child)) throw new Error(`${started.child.spawnfile} exited (${started.child.exitCode ?? started.child.signalCode})`);
    }
    try {
      const answer = await request(`${url}/readyz`, { ca, headers: { authorization: `Bearer ${token}` } });
      if (answer.status === 200) return;
      last = `${answer.status} ${answer.text.slice(0, 500)}`;
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`not ready within ${timeoutMs / 1000} s: ${last}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
