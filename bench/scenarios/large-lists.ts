/**
 * Benchmark 2 — masking large lists: `get secrets` answers of 1,000 and 10,000 Secrets (5
 * keys of 1 KiB each), direct and through Gatehouse, one request at a time: total time and
 * time to first body byte (medians of several runs), and Gatehouse's peak resident memory
 * growth during one such answer (the kernel's high-water mark, reset before each request),
 * against the size of the answer. Every Gatehouse answer is checked to hold no Secret value,
 * and every direct one to hold them (so the check can fail).
 */
import * as http from 'node:http';
import { LIST_SIZES, holdsSecretValue, listPath } from '../fixtures.ts';
import { memory, resetPeakMemory } from '../proc.ts';
import { median } from '../stats.ts';
import type { Stand } from '../stand.ts';

export interface ListRun {
  totalMs: number;
  firstByteMs: number;
  bytes: number;
  holdsSecretValues: boolean;
}

export interface ListResult {
  secrets: number;
  /** Size of the upstream's answer. */
  responseBytes: number;
  /** Size of Gatehouse's (masked) answer. */
  maskedBytes: number;
  runs: number;
  direct: { totalMs: number; firstByteMs: number };
  gatehouse: { totalMs: number; firstByteMs: number };
  addedTotalMs: number;
  addedFirstByteMs: number;
  /** Largest growth of Gatehouse's resident memory over its size before the request, bytes. */
  peakRssGrowthBytes: number;
  /** peakRssGrowthBytes / responseBytes. */
  peakRssGrowthRatio: number;
  /** False when the kernel refused to reset the peak (then the growth is an upper bound over the process life). */
  peakResetWorked: boolean;
}

/** Runs per size: enough for a stable median without making the bench long. */
const RUNS: Record<number, number> = { 1000: 9, 10000: 3 };

export async function largeLists(stand: Stand, log: (line: string) => void): Promise<ListResult[]> {
  const results: ListResult[] = [];
  for (const size of LIST_SIZES) {
    const runs = RUNS[size] ?? 3;
    const path = listPath(size);
    const directUrl = `${stand.upstream.ready.url}${path}`;
    const gatehouseUrl = `${stand.gatehouse.ready.url}${path}`;
    const auth = { authorization: `Bearer ${stand.token}` };
    // Warm-up: one of each, not counted.
    await fetchOnce(directUrl, {});
    await fetchOnce(gatehouseUrl, auth);

    const direct: ListRun[] = [];
    const gatehouse: ListRun[] = [];
    let peakGrowth = 0;
    let resetWorked = true;
    // Interleaved, so a slow moment of the machine hurts both sides alike.
    for (let i = 0; i < runs; i++) {
      direct.push(await fetchOnce(directUrl, {}));
      resetWorked = resetPeakMemory(stand.gatehouse.pid) && resetWorked;
      const before = memory(stand.gatehouse.pid).rss;
      gatehouse.push(await fetchOnce(gatehouseUrl, auth));
      peakGrowth = Math.max(peakGrowth, memory(stand.gatehouse.pid).peak - before);
    }
    if (direct.some((run) => !run.holdsSecretValues)) throw new Error(`the direct list of ${size} Secrets holds no Secret value: the masking check is broken`);
    if (gatehouse.some((run) => run.holdsSecretValues)) throw new Error(`Gatehouse let a Secret value through in the list of ${size} Secrets`);

    const responseBytes = direct[0]?.bytes ?? 0;
    const d = { totalMs: median(direct.map((r) => r.totalMs)), firstByteMs: median(direct.map((r) => r.firstByteMs)) };
    const g = { totalMs: median(gatehouse.map((r) => r.totalMs)), firstByteMs: median(gatehouse.map((r) => r.firstByteMs)) };
    const result: ListResult = {
      secrets: size,
      responseBytes,
      maskedBytes: gatehouse[0]?.bytes ?? 0,
      runs,
      direct: d,
      gatehouse: g,
      addedTotalMs: g.totalMs - d.totalMs,
      addedFirstByteMs: g.firstByteMs - d.firstByteMs,
      peakRssGrowthBytes: peakGrowth,
      peakRssGrowthRatio: peakGrowth / responseBytes,
      peakResetWorked: resetWorked,
    };
    results.push(result);
    log(
      `  ${size} Secrets (${(responseBytes / 1e6).toFixed(1)} MB): direct ${d.totalMs.toFixed(1)} ms, Gatehouse ${g.totalMs.toFixed(1)} ms ` +
        `(+${result.addedTotalMs.toFixed(1)} ms, first byte +${result.addedFirstByteMs.toFixed(1)} ms), peak RSS +${(peakGrowth / 1e6).toFixed(1)} MB (${result.peakRssGrowthRatio.toFixed(2)}×)`,
    );
  }
  return results;
}

/** One GET on a fresh connection; the body is counted and scanned, never kept whole. */
function fetchOnce(url: string, headers: Record<string, string>): Promise<ListRun> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    let firstByte = Number.NaN;
    let bytes = 0;
    let holds = false;
    let tail = '';
    const request = http.get(url, { headers: { accept: 'application/json', ...headers }, agent: false }, (response) => {
      if (response.statusCode !== 200) {
        reject(new Error(`GET ${url} answered ${response.statusCode}`));
        response.resume();
        return;
      }
      response.on('data', (chunk: Buffer) => {
        if (bytes === 0) firstByte = performance.now() - start;
        bytes += chunk.length;
        // Scan with the end of the previous chunk in front, so a value split across chunks is still seen.
        const text = tail + chunk.toString('latin1');
        if (!holds && holdsSecretValue(text)) holds = true;
        tail = text.slice(-128);
      });
      response.once('end', () => resolve({ totalMs: performance.now() - start, firstByteMs: firstByte, bytes, holdsSecretValues: holds }));
      response.once('error', reject);
    });
    request.once('error', reject);
  });
}
