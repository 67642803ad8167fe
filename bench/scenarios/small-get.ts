/**
 * Benchmark 1 — proxy overhead on a small GET (`get pod`, ~2 KB JSON): the same request,
 * closed loop, keep-alive, against three fronts of one upstream: direct, kubectl proxy, and
 * Gatehouse with its whole pipeline on. Fronts run one after the other, each warmed up first,
 * in a fixed order (direct, kubectl proxy, Gatehouse):
 *
 * - loaded: `connections` connections for `seconds` — requests/s, p50, p99, and each front's
 *   CPU time per request (from /proc: holds even when other work shares the cores);
 * - unloaded: one connection for `unloadedSeconds` — the latency a single caller sees, where
 *   the added p99 is the front's own work and not queueing behind 31 other connections.
 */
import { POD_PATH } from '../fixtures.ts';
import { runLoad } from '../load.ts';
import type { LoadResult } from '../load.ts';
import { cpuSeconds } from '../proc.ts';
import type { Stand } from '../stand.ts';

export type FrontName = 'direct' | 'kubectl proxy' | 'gatehouse' | 'gatehouse workers';

export interface SmallGetOptions {
  connections: number;
  seconds: number;
  warmupSeconds: number;
  unloadedSeconds: number;
}

/** The small GET's run lengths from the bench's flags (`--quick`: short runs, to check the bench itself). */
export function smallGetOptions(flags: { connections?: string; seconds?: string; quick?: boolean }): SmallGetOptions {
  const quick = flags.quick === true;
  return {
    connections: Number(flags.connections ?? '32'),
    seconds: quick ? 3 : Number(flags.seconds ?? '15'),
    warmupSeconds: quick ? 1 : 3,
    unloadedSeconds: quick ? 1 : 5,
  };
}

export interface FrontResult extends LoadResult {
  front: FrontName;
  /** Upstream requests during the measured run (and how many carried Impersonate-User). */
  upstreamRequests: number;
  upstreamImpersonated: number;
  /** CPU time of the front process per answered request, µs (0 for direct). */
  frontCpuMicrosPerRequest: number;
  /** CPU time of the upstream per answered request, µs. */
  upstreamCpuMicrosPerRequest: number;
  /** One connection: latency of 2xx answers, ms. */
  unloaded: LoadResult;
}

export interface SmallGetResult {
  connections: number;
  seconds: number;
  path: string;
  fronts: FrontResult[];
  /** Gatehouse requests/s over kubectl proxy's, and over direct (loaded). */
  throughputVsKubectlProxy: number;
  /** The same with Gatehouse on every core (`--workers`), as kubectl proxy (Go) uses every core. */
  workers: number;
  workersThroughputVsKubectlProxy: number;
  workersAddedP99Ms: number;
  throughputVsDirect: number;
  /** Gatehouse p99 / p50 minus direct's, ms: loaded, and with one connection. */
  addedP99Ms: number;
  addedP50Ms: number;
  unloadedAddedP99Ms: number;
  unloadedAddedP50Ms: number;
}

interface Front {
  front: FrontName;
  /** Every process serving the front (CPU is summed over them); empty for direct. */
  pids: number[];
  url: string;
  headers: Record<string, string>;
}

export async function smallGet(stand: Stand, options: SmallGetOptions, log: (line: string) => void): Promise<SmallGetResult> {
  const accept = { accept: 'application/json' };
  const fronts: Front[] = [
    { front: 'direct', pids: [], url: stand.upstream.ready.url, headers: accept },
    { front: 'kubectl proxy', pids: [stand.kubectlProxy.pid], url: stand.kubectlProxy.ready.url, headers: accept },
    { front: 'gatehouse', pids: stand.gatehouse.ready.pids, url: stand.gatehouse.ready.url, headers: { ...accept, authorization: `Bearer ${stand.token}` } },
    {
      front: 'gatehouse workers',
      pids: stand.gatehouseWorkers.ready.pids,
      url: stand.gatehouseWorkers.ready.url,
      headers: { ...accept, authorization: `Bearer ${stand.token}` },
    },
  ];
  const results: FrontResult[] = [];
  for (const { front, pids, url, headers } of fronts) {
    const measured = await measureFront({ front, url: `${url}${POD_PATH}`, headers, pids, upstreamPid: stand.upstream.pid }, options, log, () => upstreamStats(stand));
    const { upstream, ...rest } = measured;
    const result: FrontResult = { ...rest, front, upstreamRequests: upstream?.requests ?? 0, upstreamImpersonated: upstream?.impersonated ?? 0 };
    if (front.startsWith('gatehouse') && result.upstreamImpersonated !== result.upstreamRequests) {
      throw new Error(`Gatehouse sent ${result.upstreamRequests - result.upstreamImpersonated} upstream requests without impersonation`);
    }
    results.push(result);
  }
  const [direct, proxy, gatehouse, workers] = results as [FrontResult, FrontResult, FrontResult, FrontResult];
  return {
    connections: options.connections,
    seconds: options.seconds,
    path: POD_PATH,
    fronts: results,
    throughputVsKubectlProxy: gatehouse.rps / proxy.rps,
    workers: stand.gatehouseWorkers.ready.pids.length,
    workersThroughputVsKubectlProxy: workers.rps / proxy.rps,
    workersAddedP99Ms: workers.latencyMs.p99 - direct.latencyMs.p99,
    throughputVsDirect: gatehouse.rps / direct.rps,
    addedP99Ms: gatehouse.latencyMs.p99 - direct.latencyMs.p99,
    addedP50Ms: gatehouse.latencyMs.p50 - direct.latencyMs.p50,
    unloadedAddedP99Ms: gatehouse.unloaded.latencyMs.p99 - direct.unloaded.latencyMs.p99,
    unloadedAddedP50Ms: gatehouse.unloaded.latencyMs.p50 - direct.unloaded.latencyMs.p50,
  };
}

export interface UpstreamCount {
  requests: number;
  impersonated: number;
}

export interface MeasuredFront extends LoadResult {
  frontCpuMicrosPerRequest: number;
  upstreamCpuMicrosPerRequest: number;
  unloaded: LoadResult;
  /** Upstream requests during the loaded run, when the upstream counts them. */
  upstream?: UpstreamCount;
}

/**
 * One front, measured: warm-up, the loaded run (with the CPU time of the front's processes and
 * of the upstream around it), then the unloaded run. Fails when any answer was not 2xx.
 * `countUpstream`, when given, is read around the loaded run.
 */
export async function measureFront(
  target: { front: string; url: string; headers: Record<string, string>; pids: number[]; upstreamPid: number },
  options: SmallGetOptions,
  log: (line: string) => void,
  countUpstream?: () => Promise<UpstreamCount>,
): Promise<MeasuredFront> {
  const { front, url, headers, pids, upstreamPid } = target;
  const cpuOf = (): number => pids.reduce((total, pid) => total + cpuSeconds(pid), 0);
  await runLoad({ url, connections: options.connections, seconds: options.warmupSeconds, headers });
  const countBefore = await countUpstream?.();
  const cpuBefore = { front: cpuOf(), upstream: cpuSeconds(upstreamPid) };
  const loaded = await runLoad({ url, connections: options.connections, seconds: options.seconds, headers });
  const cpuAfter = { front: cpuOf(), upstream: cpuSeconds(upstreamPid) };
  const countAfter = await countUpstream?.();
  const unloaded = await runLoad({ url, connections: 1, seconds: options.unloadedSeconds, headers });
  for (const [label, run] of [['loaded', loaded], ['unloaded', unloaded]] as const) {
    if (run.non2xx > 0 || run.errors > 0) {
      throw new Error(`${front} (${label}): ${run.non2xx} non-2xx answers and ${run.errors} errors; the numbers would be meaningless`);
    }
  }
  const perRequest = (seconds: number): number => (seconds * 1e6) / Math.max(1, loaded.ok);
  const measured = {
    ...loaded,
    frontCpuMicrosPerRequest: perRequest(cpuAfter.front - cpuBefore.front),
    upstreamCpuMicrosPerRequest: perRequest(cpuAfter.upstream - cpuBefore.upstream),
    unloaded,
    ...(countBefore === undefined || countAfter === undefined
      ? {}
      : { upstream: { requests: countAfter.requests - countBefore.requests, impersonated: countAfter.impersonated - countBefore.impersonated } }),
  };
  log(
    `  ${front.padEnd(16)} ${loaded.rps.toFixed(0)} req/s, p50 ${loaded.latencyMs.p50.toFixed(2)} ms, p99 ${loaded.latencyMs.p99.toFixed(2)} ms, ` +
      `CPU ${measured.frontCpuMicrosPerRequest.toFixed(0)} µs/req (upstream ${measured.upstreamCpuMicrosPerRequest.toFixed(0)}); ` +
      `1 connection: p50 ${unloaded.latencyMs.p50.toFixed(2)} ms, p99 ${unloaded.latencyMs.p99.toFixed(2)} ms`,
  );
  return measured;
}

export async function upstreamStats(stand: Stand): Promise<UpstreamCount> {
  const response = await fetch(`${stand.upstream.ready.url}/_bench/stats`);
  return (await response.json()) as UpstreamCount;
}
