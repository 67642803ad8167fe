/**
 * Closed-loop HTTP load with autocannon (fixed connections, keep-alive), with every
 * response's latency kept at full precision: autocannon's own histogram rounds to whole
 * milliseconds, too coarse for a 2 ms budget, so the bench records each `response` event's
 * time (autocannon measures it with process.hrtime) and computes percentiles itself.
 */
import autocannon from 'autocannon';
import { Samples, distribution } from './stats.ts';
import type { Distribution } from './stats.ts';

export interface LoadOptions {
  url: string;
  connections: number;
  seconds: number;
  headers?: Record<string, string>;
}

export interface LoadResult {
  seconds: number;
  /** 2xx answers per second. */
  rps: number;
  /** Latency of 2xx answers, milliseconds. */
  latencyMs: Distribution;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Bytes of one answer as autocannon counted them (headers and body). */
  bytesPerResponse: number;
}

export function runLoad(options: LoadOptions): Promise<LoadResult> {
  const samples = new Samples();
  let bytes = 0;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        duration: options.seconds,
        timeout: 10,
        headers: options.headers ?? {},
      },
      (error, result) => {
        if (error !== null) {
          reject(error);
          return;
        }
        resolve({
          seconds: result.duration,
          rps: samples.length / result.duration,
          latencyMs: distribution(samples.values()),
          ok: samples.length,
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          bytesPerResponse: samples.length === 0 ? 0 : bytes / samples.length,
        });
      },
    );
    instance.on('response', (_client: unknown, statusCode: number, responseBytes: number, responseTimeMs: number) => {
      if (statusCode < 200 || statusCode > 299) return;
      samples.push(responseTimeMs);
      bytes += responseBytes;
    });
  });
}
