/**
 * The bench stand: everything the benchmarks run against, started together and stopped
 * together — the IdP (in this process), the upstream and the S3 emulator (own processes),
 * and the two fronts to that one upstream: kubectl proxy and Gatehouse. Scratch files live
 * in `bench/.tmp/<run id>/` and are removed by close().
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTsChild } from './children.ts';
import type { Child } from './children.ts';
import type { FrontSettings } from './gatehouse-front.ts';
import { startBenchIdp } from './idp.ts';
import type { BenchIdp } from './idp.ts';
import { startKubectlProxy } from './kubectl-proxy.ts';
import { BENCH_GROUPS, BENCH_USER, benchPolicy, policyYaml } from './policy-rules.ts';

export const SCRATCH_ROOT = fileURLToPath(new URL('./.tmp/', import.meta.url));
export const RECORDS_BUCKET = 'gatehouse-bench-records';

export interface UpstreamReady {
  url: string;
  podBytes: number;
  listBytes: Record<string, number>;
}

/** What a Gatehouse front announces: its URL and every process that serves it. */
export interface GatehouseReady {
  url: string;
  pids: number[];
}

/** Worker processes of the multi-process Gatehouse front: one per core. */
export const GATEHOUSE_WORKERS = 2;

export interface Stand {
  scratch: string;
  idp: BenchIdp;
  /** An ID token of the bench caller, for Gatehouse. */
  token: string;
  upstream: Child<UpstreamReady>;
  s3: Child<{ endpoint: string }>;
  kubectlProxy: Child<{ url: string }>;
  gatehouse: Child<GatehouseReady>;
  /** The same Gatehouse served by two node:cluster workers (`gatehouse serve --workers 2`), for the small GET. */
  gatehouseWorkers: Child<GatehouseReady>;
  kubeconfigPath: string;
  policyFile: string;
  policyRules: number;
  /** Stops the fronts and the upstream, keeps the S3 emulator (records are counted after). */
  stopFronts(): Promise<void>;
  close(): Promise<void>;
}

export interface StandOptions {
  runId: string;
  /** Generated rules in front of the bench caller's own (≥ 200). */
  policyRules: number;
  /** Write a CPU profile of the Gatehouse process into this directory (`node --cpu-prof`). */
  profileDir?: string;
}

export async function startStand(options: StandOptions): Promise<Stand> {
  const scratch = join(SCRATCH_ROOT, options.runId);
  mkdirSync(join(scratch, 'home'), { recursive: true });
  const started: { stop(): Promise<void> }[] = [];
  const stopAll = async (): Promise<void> => {
    while (started.length > 0) await started.pop()?.stop();
  };
  try {
    const idp = await startBenchIdp();
    started.push({ stop: () => idp.close() });
    const [upstream, s3] = await Promise.all([
      startTsChild<UpstreamReady>('bench upstream', './upstream.ts'),
      startTsChild<{ endpoint: string }>('S3 emulator', './s3.ts', [join(scratch, 's3'), RECORDS_BUCKET]),
    ]);
    started.push(s3, upstream);

    const kubeconfigPath = join(scratch, 'upstream-kubeconfig.json');
    writeFileSync(kubeconfigPath, upstreamKubeconfig(upstream.ready.url), { mode: 0o600 });
    const policy = benchPolicy(options.policyRules);
    const policyFile = join(scratch, 'policy.yaml');
    writeFileSync(policyFile, policyYaml(policy));

    const frontSettings: FrontSettings = {
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audience: idp.audience,
      upstreamKubeconfig: kubeconfigPath,
      policyFile,
      s3Endpoint: s3.ready.endpoint,
      bucket: RECORDS_BUCKET,
    };
    const [gatehouse, gatehouseWorkers, kubectlProxy] = await Promise.all([
      startTsChild<GatehouseReady>('Gatehouse', './gatehouse-front.ts', [JSON.stringify(frontSettings)], {
        nodeOptions: options.profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`],
      }),
      startTsChild<GatehouseReady>(`Gatehouse ×${GATEHOUSE_WORKERS}`, './gatehouse-front.ts', [JSON.stringify({ ...frontSettings, workers: GATEHOUSE_WORKERS })]),
      startKubectlProxy(kubeconfigPath, join(scratch, 'home')),
    ]);
    started.push(kubectlProxy, gatehouse, gatehouseWorkers);
    const token = await idp.mint(BENCH_USER, BENCH_GROUPS, 3600);

    let frontsStopped = false;
    const stopFronts = async (): Promise<void> => {
      if (frontsStopped) return;
      frontsStopped = true;
      await Promise.all([gatehouse.stop(), gatehouseWorkers.stop(), kubectlProxy.stop()]);
      await upstream.stop();
    };
    return {
      scratch,
      idp,
      token,
      upstream,
      s3,
      kubectlProxy,
      gatehouse,
      gatehouseWorkers,
      kubeconfigPath,
      policyFile,
      policyRules: policy.rules.length,
      stopFronts,
      async close() {
        await stopFronts();
        await stopAll();
        rmSync(scratch, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await stopAll();
    rmSync(scratch, { recursive: true, force: true });
    throw error;
  }
}

/**
 * A kubeconfig for the bench upstream; both proxies use it (the upstream ignores the token).
 * In JSON form (kubeconfig files may be JSON): the Lambda bundle of the cold start reads no YAML.
 */
function upstreamKubeconfig(server: string): string {
  return `${JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'bench-upstream', cluster: { server } }],
      users: [{ name: 'bench-proxy', user: { token: 'bench-upstream-token' } }],
      contexts: [{ name: 'bench', context: { cluster: 'bench-upstream', user: 'bench-proxy' } }],
      'current-context': 'bench',
    },
    null,
    2,
  )}\n`;
}
