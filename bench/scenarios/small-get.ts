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
  const cpuOf = (pids: number[]): number => pids.reduce((total, pid) => total + cpuSeconds(pid), 0);
  const results: FrontResult[] = [];
  for (const { front, pids, url, headers } of fronts) {
    const target = `${url}${POD_PATH}`;
    await runLoad({ url: target, connections: options.connections, seconds: options.warmupSeconds, headers });
    const before = await upstreamStats(stand);
    const cpuBefore = { front: cpuOf(pids), upstream: cpuSeconds(stand.upstream.pid) };
    const loaded = await runLoad({ url: target, connections: options.connections, seconds: options.seconds, headers });
    const cpuAfter = { front: cpuOf(pids), upstream: cpuSeconds(stand.upstream.pid) };
    const after = await upstreamStats(stand);
    const unloaded = await runLoad({ url: target, connections: 1, seconds: options.unloadedSeconds, headers });
    for (const [label, run] of [['loaded', loaded], ['unloaded', unloaded]] as const) {
      if (run.non2xx > 0 || run.errors > 0) {
        throw new Error(`${front} (${label}): ${run.non2xx} non-2xx answers and ${run.errors} errors; the numbers would be meaningless`);
      }
    }
    const perRequest = (seconds: number): number => (seconds * 1e6) / Math.max(1, loaded.ok);
    const result: FrontResult = {
      front,
      ...loaded,
      upstreamRequests: after.requests - before.requests,
      upstreamImpersonated: after.impersonated - before.impersonated,
      frontCpuMicrosPerRequest: perRequest(cpuAfter.front - cpuBefore.front),
      upstreamCpuMicrosPerRequest: perRequest(cpuAfter.upstream - cpuBefore.upstream),
      unloaded,
    };
    if (front.startsWith('gatehouse') && result.upstreamImpersonated !== result.upstreamRequests) {
      throw new Error(`Gatehouse sent ${result.upstreamRequests - result.upstreamImpersonated} upstream requests without impersonation`);
    }
    results.push(result);
    log(
      `  ${front.padEnd(14)} ${loaded.rps.toFixed(0)} req/s, p50 ${loaded.latencyMs.p50.toFixed(2)} ms, p99 ${loaded.latencyMs.p99.toFixed(2)} ms, ` +
        `CPU ${result.frontCpuMicrosPerRequest.toFixed(0)} µs/req (upstream ${result.upstreamCpuMicrosPerRequest.toFixed(0)}); ` +
        `1 connection: p50 ${unloaded.latencyMs.p50.toFixed(2)} ms, p99 ${unloaded.latencyMs.p99.toFixed(2)} ms`,
    );
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

export async function upstreamStats(stand: Stand): Promise<{ requests: number; impersonated: number }> {
  const response = await fetch(`${stand.upstream.ready.url}/_bench/stats`);
  return (await response.json()) as { requests: number; impersonated: number };
}
