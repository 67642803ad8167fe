/**
 * End-to-end harness: the kube-apiserver stand-in plus a local Gatehouse in front of it
 * (upstream = the stand-in's kubeconfig, static dev-issuer token for the user), and helpers
 * that run a REAL kubectl binary of a given version against Gatehouse.
 *
 *   const h = await startHarness({ policy: '…yaml…' });
 *   const r = await h.kubectl('1.33', ['get', 'pods']);        // { code, stdout, stderr }
 *   const w = h.startKubectl('1.33', ['get', 'pods', '-w']);   // long-running
 *   await w.waitFor(/web/); … await w.stop();
 *   await h.close();
 *
 * `startGatehouseFront(upstreamKubeconfig)` is the same without the stand-in (a real cluster,
 * test/kube/cluster.ts). Every harness has its own temp HOME (so kubectl's discovery and OpenAPI caches never
 * leak between runs) and cleans up all it started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { createS3Records } from '../../src/adapters/s3-records.ts';
import { LOCAL_RECORDS_BUCKET, localRecordsDirectory, startLocalS3 } from '../../src/local/s3.ts';
import type { SessionRecord } from '../../src/records/schema.ts';
import type { Clock } from '../../src/types.ts';
import { startLocalGatehouse, type LocalGatehouse } from '../../src/runtime/local.ts';
import { MemoryRecordings } from './memory-recordings.ts';
import { startFakeApiServer, type DenyRule, type FakeApiServer, type ReceivedRequest } from '../stand-in/apiserver.ts';

export interface KubectlResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface KubectlOptions {
  /** Written to kubectl's stdin (e.g. a manifest for `apply -f -`). */
  input?: string;
  /** Kill kubectl after this long; default 30 s. */
  timeoutMs?: number;
  /** Another kubeconfig (default: the Gatehouse users' kubeconfig). */
  kubeconfig?: string;
  /** More environment for kubectl (e.g. `EDITOR` for `kubectl edit`). */
  env?: Record<string, string>;
}

export interface RunningKubectl {
  /** Resolves with stdout so far once it matches; rejects if kubectl exits first or time runs out. */
  waitFor(pattern: RegExp | string, timeoutMs?: number): Promise<string>;
  /** The same for stderr (e.g. kubectl's `-v=6` line saying its watch request was answered). */
  waitForStderr(pattern: RegExp | string, timeoutMs?: number): Promise<string>;
  stdout(): string;
  stderr(): string;
  /** Ends kubectl (SIGTERM) and resolves with what it printed. */
  stop(): Promise<KubectlResult>;
  exited: Promise<KubectlResult>;
}

export interface HarnessOptions {
  /** Policy YAML text for Gatehouse; default the repo's policy/default.yaml. */
  policy?: string;
  user?: string;
  groups?: string[];
  /** Cluster RBAC the stand-in emulates on top of Gatehouse's policy. */
  deny?: DenyRule[];
  /** Kubernetes version the stand-in reports. */
  serverVersion?: string;
  clock?: Clock;
  /** Seed the stand-in as the demo cluster (test/stand-in/demo.ts). */
  demo?: boolean;
  /** The per-user cap on long streams (default: the local runtime's, 10). */
  streams?: { maxPerUser?: number; leaseSeconds?: number };
  /** Where exec/attach/cp/port-forward sessions are recorded; default a fresh MemoryRecordings. */
  recordings?: MemoryRecordings;
}

/** A local Gatehouse in front of some upstream, and the real kubectl pointed at it. */
export interface GatehouseFront {
  gatehouse: LocalGatehouse;
  /** The users' kubeconfig: Gatehouse's URL, its CA, a dev-issuer token. */
  kubeconfigPath: string;
  /** The user and groups that kubeconfig's token names. */
  user: string;
  groups: string[];
  /** A temp dir for the test's own files; removed on close. */
  dir: string;
  kubectl(version: string, args: string[], options?: KubectlOptions): Promise<KubectlResult>;
  startKubectl(version: string, args: string[], options?: KubectlOptions): RunningKubectl;
  /** Every session record so far (flushed first), read through the S3 adapter from the state dir. */
  records(): Promise<SessionRecord[]>;
  /** The stream recordings (exec, attach, cp, port-forward) as the tunnel reported them. */
  recordings: MemoryRecordings;
  close(): Promise<void>;
}

export type GatehouseFrontOptions = Pick<HarnessOptions, 'policy' | 'user' | 'groups' | 'streams' | 'recordings'>;

export interface Harness extends GatehouseFront {
  api: FakeApiServer;
  /** Requests the stand-in received since `mark()` returned `from`. */
  receivedSince(from: number): ReceivedRequest[];
  mark(): number;
}

/** The folder of the real kubectl binary, where the per-version `kubectl.1.NN` live. */
export function kubectlDir(): string {
  for (const entry of (process.env['PATH'] ?? '').split(delimiter)) {
    const candidate = join(entry, 'kubectl');
    if (entry !== '' && existsSync(candidate)) return dirname(realpathSync(candidate));
  }
  throw new Error('kubectl is not on the PATH');
}

/** Installed per-version kubectl binaries, oldest first: ["1.27", …, "1.33"]. */
export function installedKubectlVersions(): string[] {
  return readdirSync(kubectlDir())
    .map((f) => /^kubectl\.(\d+\.\d+)$/.exec(f)?.[1])
    .filter((v): v is string => v !== undefined)
    .sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1]));
}

/**
 * The kubectl versions an end-to-end suite runs: every installed one in CI (CI=true) or with
 * `E2E_KUBECTL=all`, the ones named by `E2E_KUBECTL=1.29,1.31`, else the oldest and newest.
 */
export function kubectlVersionsUnderTest(): string[] {
  const installed = installedKubectlVersions();
  const oldest = installed[0];
  const newest = installed[installed.length - 1];
  if (oldest === undefined || newest === undefined) throw new Error(`no per-version kubectl binaries (kubectl.1.NN) in ${kubectlDir()}`);
  const asked = process.env['E2E_KUBECTL'] ?? (process.env['CI'] === 'true' ? 'all' : '');
  if (asked === 'all') return installed;
  if (asked !== '') return asked.split(',').map((v) => v.trim());
  return [...new Set([oldest, newest])];
}

export function kubectlBinary(version: string): string {
  const path = join(kubectlDir(), version === 'default' ? 'kubectl' : `kubectl.${version}`);
  if (!existsSync(path)) throw new Error(`no kubectl ${version} at ${path}`);
  return path;
}

function spawnKubectl(binary: string, args: string[], home: string, options: KubectlOptions, kubeconfig: string): ChildProcess {
  const child = spawn(binary, ['--kubeconfig', kubeconfig, '--cache-dir', join(home, 'cache'), ...args], {
    env: { PATH: process.env['PATH'] ?? '', HOME: home, KUBECACHEDIR: join(home, 'cache'), ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin?.end(options.input ?? '');
  return child;
}

/** Runs kubectl to completion with a time limit. */
function collect(child: ChildProcess, timeoutMs: number): { exited: Promise<KubectlResult>; out: () => string; err: () => string } {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<KubectlResult>((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { exited, out: () => stdout, err: () => stderr };
}

/** The stand-in, and a Gatehouse in front of it. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const api = await startFakeApiServer({
    ...(options.deny !== undefined ? { deny: options.deny } : {}),
    ...(options.serverVersion !== undefined ? { version: options.serverVersion } : {}),
    ...(options.clock !== undefined ? { clock: options.clock } : {}),
    ...(options.demo === true ? { demo: true } : {}),
  });
  let front: GatehouseFront;
  try {
    front = await startGatehouseFront(api.kubeconfigPath, options);
  } catch (error) {
    await api.close();
    throw error;
  }
  return {
    ...front,
    api,
    mark: () => api.received.length,
    receivedSince: (from) => api.received.slice(from),
    async close() {
      await front.close();
      await api.close();
    },
  };
}

/**
 * A local Gatehouse whose upstream is `upstreamKubeconfig` (the stand-in's, or a real
 * cluster's Gatehouse identity) — or several embedded demo clusters, each under
 * /clusters/<name> — with a static dev-issuer token in the users' kubeconfig.
 */
export async function startGatehouseFront(upstream: string | { demoClusters: string[] }, options: GatehouseFrontOptions = {}): Promise<GatehouseFront> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-e2e-'));
  const recordings = options.recordings ?? new MemoryRecordings();
  const children = new Set<ChildProcess>();
  let gatehouse: LocalGatehouse | undefined;
  const cleanup = async (): Promise<void> => {
    for (const child of children) child.kill('SIGKILL');
    await gatehouse?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    let policyFile: string | undefined;
    if (options.policy !== undefined) {
      policyFile = join(dir, 'policy.yaml');
      writeFileSync(policyFile, options.policy);
    }
    gatehouse = await startLocalGatehouse({
      stateDir: join(dir, 'state'),
      port: 0,
      ...(typeof upstream === 'string' ? { upstreamKubeconfig: upstream } : { demoClusters: upstream.demoClusters }),
      auth: 'token',
      ...(policyFile !== undefined ? { policyFile } : {}),
      ...(options.user !== undefined ? { user: options.user } : {}),
      ...(options.groups !== undefined ? { groups: options.groups } : {}),
      ...(options.streams !== undefined ? { streams: options.streams } : {}),
      overrides: { recordings },
    });
  } catch (error) {
    await cleanup();
    throw error;
  }
  const home = join(dir, 'home');
  const started = gatehouse;
  const run = (version: string, args: string[], runOptions: KubectlOptions = {}): { child: ChildProcess; result: ReturnType<typeof collect> } => {
    const child = spawnKubectl(kubectlBinary(version), args, home, runOptions, runOptions.kubeconfig ?? started.kubeconfigPath);
    children.add(child);
    child.once('close', () => children.delete(child));
    return { child, result: collect(child, runOptions.timeoutMs ?? 30_000) };
  };

  return {
    gatehouse: started,
    recordings,
    kubeconfigPath: started.kubeconfigPath,
    user: started.user,
    groups: started.groups,
    dir,
    kubectl: (version, args, runOptions) => run(version, args, runOptions).result.exited,
    startKubectl(version, args, runOptions) {
      const { child, result } = run(version, args, { timeoutMs: 60_000, ...runOptions });
      let exitedWith: KubectlResult | undefined;
      void result.exited.then((r) => (exitedWith = r));
      const waitForOutput = (stream: 'stdout' | 'stderr', pattern: RegExp | string, timeoutMs = 15_000): Promise<string> => {
        const text = stream === 'stdout' ? result.out : result.err;
        const matches = (): boolean => (typeof pattern === 'string' ? text().includes(pattern) : pattern.test(text()));
        return new Promise<string>((resolve, reject) => {
          const check = (): void => {
            if (matches()) {
              finish();
              resolve(text());
            } else if (exitedWith !== undefined) {
              finish();
              reject(new Error(`kubectl ${args.join(' ')} exited (${exitedWith.code}) before printing ${String(pattern)} on ${stream}; stdout: ${result.out()} stderr: ${result.err()}`));
            }
          };
          const timer = setTimeout(() => {
            finish();
            reject(new Error(`kubectl ${args.join(' ')} did not print ${String(pattern)} on ${stream} within ${timeoutMs} ms; stdout: ${result.out()} stderr: ${result.err()}`));
          }, timeoutMs);
          const finish = (): void => {
            clearTimeout(timer);
            child[stream]?.off('data', check);
            child.off('close', onClose);
          };
          const onClose = (): void => {
            setImmediate(check);
          };
          child[stream]?.on('data', check);
          child.once('close', onClose);
          check();
        });
      };
      return {
        exited: result.exited,
        stdout: result.out,
        stderr: result.err,
        waitFor: (pattern, timeoutMs) => waitForOutput('stdout', pattern, timeoutMs),
        waitForStderr: (pattern, timeoutMs) => waitForOutput('stderr', pattern, timeoutMs),
        async stop() {
          if (exitedWith === undefined) child.kill('SIGTERM');
          return result.exited;
        },
      };
    },
    async records() {
      await started.records?.flush();
      const s3 = await startLocalS3({ directory: localRecordsDirectory(join(dir, 'state')) });
      try {
        const out: SessionRecord[] = [];
        for await (const r of createS3Records({ bucket: LOCAL_RECORDS_BUCKET, clientConfig: s3.clientConfig }).read({})) out.push(r);
        return out;
      } finally {
        await s3.close();
      }
    },
    close: cleanup,
  };
}

/** The client's bearer token, as the users' kubeconfig holds it (for requests made without kubectl). */
export function clientToken(h: Harness): string {
  const config = parseYaml(readFileSync(h.kubeconfigPath, 'utf8')) as { users: { user: { token?: string } }[] };
  const token = config.users[0]?.user.token;
  if (token === undefined || token.length <= 20) throw new Error('the users kubeconfig carries no static token');
  return token;
}
