/**
 * Benchmark 3 — watch: the added latency per event on a watch stream of Secrets (masked).
 * Two watches of the same upstream stream are open at once, one direct and one through
 * Gatehouse; the upstream writes each event to both in the same instant, and this process
 * notes when each copy arrives. The added latency of an event is the Gatehouse copy's
 * arrival minus the direct copy's — measured on one clock, event by event.
 */
import * as http from 'node:http';
import { WATCH_PATH, holdsSecretValue } from '../fixtures.ts';
import { distribution } from '../stats.ts';
import type { Distribution } from '../stats.ts';
import type { Stand } from '../stand.ts';

export interface WatchOptions {
  events: number;
  intervalMs: number;
}

export interface WatchResult {
  events: number;
  intervalMs: number;
  eventBytes: number;
  /** Gatehouse arrival minus direct arrival per event, milliseconds. */
  addedMs: Distribution;
  maskedEvents: number;
}

const RESOURCE_VERSION = /"resourceVersion":"(\d+)"/;

interface Watcher {
  arrivals: Map<string, number>;
  maskedEvents: number;
  bytes: number;
  close(): void;
}

export async function watchLatency(stand: Stand, options: WatchOptions, log: (line: string) => void): Promise<WatchResult> {
  const direct = await openWatch(`${stand.upstream.ready.url}${WATCH_PATH}`, {});
  const gatehouse = await openWatch(`${stand.gatehouse.ready.url}${WATCH_PATH}`, { authorization: `Bearer ${stand.token}` });
  try {
    // Warm-up events (the first ones through a fresh stream compile the masker's hot paths).
    await emit(stand, 200, options.intervalMs);
    await waitFor(() => direct.arrivals.size >= 200 && gatehouse.arrivals.size >= 200, 10_000);
    direct.arrivals.clear();
    gatehouse.arrivals.clear();
    gatehouse.maskedEvents = 0;

    await emit(stand, options.events, options.intervalMs);
    await waitFor(() => direct.arrivals.size >= options.events && gatehouse.arrivals.size >= options.events, 10_000);
    const added: number[] = [];
    for (const [version, at] of direct.arrivals) {
      const through = gatehouse.arrivals.get(version);
      if (through !== undefined) added.push(through - at);
    }
    if (added.length < options.events) throw new Error(`only ${added.length} of ${options.events} watch events arrived through both fronts`);
    if (gatehouse.maskedEvents !== options.events) throw new Error(`${options.events - gatehouse.maskedEvents} watch events left Gatehouse with Secret values`);
    const result: WatchResult = {
      events: added.length,
      intervalMs: options.intervalMs,
      eventBytes: Math.round(direct.bytes / Math.max(1, direct.arrivals.size + 200)),
      addedMs: distribution(added),
      maskedEvents: gatehouse.maskedEvents,
    };
    log(`  ${result.events} events: added p50 ${result.addedMs.p50.toFixed(3)} ms, p99 ${result.addedMs.p99.toFixed(3)} ms, max ${result.addedMs.max.toFixed(3)} ms`);
    return result;
  } finally {
    direct.close();
    gatehouse.close();
  }
}

async function emit(stand: Stand, count: number, intervalMs: number): Promise<void> {
  const response = await fetch(`${stand.upstream.ready.url}/_bench/watch?count=${count}&intervalMs=${intervalMs}`, { method: 'POST' });
  const { watchers } = (await response.json()) as { watchers: number };
  if (watchers !== 2) throw new Error(`the upstream had ${watchers} watches open, expected 2 (direct and Gatehouse's)`);
}

/** Opens a watch and notes, per event (by resourceVersion), when its last byte arrived. */
function openWatch(url: string, headers: Record<string, string>): Promise<Watcher> {
  return new Promise((resolve, reject) => {
    const arrivals = new Map<string, number>();
    let pending = '';
    const request = http.get(url, { headers: { accept: 'application/json', ...headers }, agent: false }, (response) => {
      if (response.statusCode !== 200) {
        reject(new Error(`watch ${url} answered ${response.statusCode}`));
        response.resume();
        return;
      }
      response.setEncoding('utf8');
      const watcher: Watcher = {
        arrivals,
        maskedEvents: 0,
        bytes: 0,
        close: () => request.destroy(),
      };
      response.on('data', (chunk: string) => {
        const now = performance.now();
        watcher.bytes += chunk.length;
        pending += chunk;
        let newline = pending.indexOf('\n');
        while (newline !== -1) {
          const line = pending.slice(0, newline);
          pending = pending.slice(newline + 1);
          newline = pending.indexOf('\n');
          if (line.trim() === '') continue;
          // A regex, not JSON.parse: the other watch's arrival must not wait behind a parse.
          const version = RESOURCE_VERSION.exec(line)?.[1];
          if (version !== undefined) arrivals.set(version, now);
          if (!holdsSecretValue(line)) watcher.maskedEvents++;
        }
      });
      response.once('error', () => undefined);
      resolve(watcher);
    });
    request.once('error', reject);
  });
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('watch events did not all arrive in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
