/**
 * The record sink the pipeline writes to, over a RecordStore.
 *
 * - `writeDurable` (records of intent) goes straight to the store and rejects if it cannot
 *   be written: the caller refuses the call. The buffered records ride along in the same
 *   object (that PUT is made anyway, and waited for): one object instead of two. If it fails
 *   they go back to the buffer.
 * - `write` (outcome records) only buffers: nothing on the response path waits for S3.
 *   Each record is serialised to its JSON line as it is written (a few µs), so a flush only
 *   joins lines: stringifying a whole 500-record batch at once blocked the loop ~14 ms.
 *   The buffer is flushed when it holds `maxBatchRecords`, every `flushIntervalMs`, and on
 *   close. When the store is down the records stay buffered for the next attempt; the
 *   buffer is bounded (`maxBufferedRecords`), the oldest records are dropped first, and
 *   every failed flush logs one JSON line on stderr with the buffered and dropped counts.
 * - `flushIfDue` (the Lambda handler, after each invocation) writes the buffer only when a
 *   batch is full or its oldest record has waited `maxAgeMs`; otherwise the records wait for
 *   a later invocation of the same execution environment, the next record of intent, or the
 *   flush on SIGTERM at shutdown (functions/handler.ts says when Lambda sends it).
 */
import type { RecordLine, RecordSink, RecordStore } from '../ports/records.ts';
import type { Clock } from '../types.ts';
import { systemClock } from '../types.ts';
import { toRecordLine } from './record-line.ts';

export type RecordsLog = (event: Record<string, unknown>) => void;

/** One JSON line on stderr per event: operators grep and alert on `"component":"records"`. */
export const stderrLog: RecordsLog = (event) => {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), component: 'records', ...event })}\n`);
};

export interface RecordSinkOptions {
  /** Flush when this many records are buffered (also the most records in one object). */
  maxBatchRecords?: number;
  /** Flush at least this often; 0 flushes after every write (still not awaited by the caller). */
  flushIntervalMs?: number;
  /** At most this many records wait in memory; beyond it the oldest are dropped (and counted). */
  maxBufferedRecords?: number;
  /** `flushIfDue` writes the buffer once its oldest record has waited this long (default 0: always). */
  maxAgeMs?: number;
  /** How long close() waits for held records (streams ending as the listener closes). */
  closeGraceMs?: number;
  log?: RecordsLog;
  clock?: Clock;
}

export function createRecordSink(store: RecordStore, options: RecordSinkOptions = {}): RecordSink & { readonly stats: SinkStats } {
  const maxBatch = options.maxBatchRecords ?? 500;
  const intervalMs = options.flushIntervalMs ?? 5000;
  const maxBuffered = Math.max(options.maxBufferedRecords ?? 10_000, maxBatch);
  const log = options.log ?? stderrLog;
  const clock = options.clock ?? systemClock;

  const maxAgeMs = options.maxAgeMs ?? 0;

  /** A buffered record with the time it was buffered (for `flushIfDue`). */
  interface Buffered {
    line: RecordLine;
    at: number;
  }
  let buffer: Buffered[] = [];
  let flushing: Promise<void> | null = null;
  let closed = false;
  let held = 0;
  let released: (() => void) | null = null;
  const stats: SinkStats = { written: 0, dropped: 0, failedFlushes: 0, storeDown: false };

  const timer = intervalMs > 0 ? setInterval(() => void flush(), intervalMs) : null;
  // The timer must not keep a CLI or a test process alive.
  timer?.unref();

  function keepBounded(): void {
    const excess = buffer.length - maxBuffered;
    if (excess <= 0) return;
    buffer = buffer.slice(excess);
    stats.dropped += excess;
  }

  /**
   * `drain` writes what is buffered when it starts; beyond that (and without `drain`) only full
   * batches are written. Records that arrive while a batch is written wait for the next full
   * batch, the timer or the next flush — else a busy Gatehouse writes a small object per PUT
   * round-trip, and every PUT costs CPU (signing, HTTP).
   */
  async function flushOnce(drain: boolean): Promise<void> {
    let owed = drain ? buffer.length : 0;
    while (buffer.length > 0 && (owed > 0 || buffer.length >= maxBatch)) {
      const batch = buffer.slice(0, maxBatch);
      buffer = buffer.slice(batch.length);
      owed -= batch.length;
      try {
        await store.put(batch.map((entry) => entry.line));
      } catch (error) {
        // Back to the front, oldest first, so a recovered store receives them in order.
        buffer = [...batch, ...buffer];
        keepBounded();
        stats.failedFlushes += 1;
        stats.storeDown = true;
        log({
          level: 'error',
          event: 'records_flush_failed',
          message: `session records could not be written to ${store.location}: ${messageOf(error)}; still serving reads, ${buffer.length} records buffered for retry, ${stats.dropped} dropped so far`,
          buffered: buffer.length,
          dropped: stats.dropped,
          at: new Date(clock.now()).toISOString(),
        });
        return;
      }
      stats.written += batch.length;
      if (stats.storeDown) {
        stats.storeDown = false;
        log({
          level: 'info',
          event: 'records_store_recovered',
          message: `session records reach ${store.location} again; ${stats.dropped} records were dropped while it was down`,
          dropped: stats.dropped,
        });
      }
    }
  }

  function flush(drain = true): Promise<void> {
    if (flushing !== null) {
      // Records may have arrived after the running flush took its batch: chain one more pass.
      return flushing.then(() => (buffer.length > 0 ? flush(drain) : undefined));
    }
    flushing = flushOnce(drain).finally(() => {
      flushing = null;
    });
    return flushing;
  }

  return {
    stats,
    async writeDurable(record) {
      const along = buffer.slice(0, maxBatch - 1);
      buffer = buffer.slice(along.length);
      try {
        await store.put([...along.map((entry) => entry.line), toRecordLine(record)]);
      } catch (error) {
        buffer = [...along, ...buffer];
        keepBounded();
        throw error;
      }
      stats.written += along.length + 1;
    },
    write(record) {
      buffer.push({ line: toRecordLine(record), at: clock.now() });
      keepBounded();
      // While the store is down only the timer retries, so a burst of reads does not hammer it.
      if (closed || intervalMs === 0) void flush();
      // A running flush goes on while full batches are buffered; only an idle sink needs starting.
      else if (flushing === null && buffer.length >= maxBatch && !stats.storeDown) void flush(false);
    },
    flush,
    flushIfDue() {
      const oldest = buffer[0];
      if (oldest === undefined || (buffer.length < maxBatch && clock.now() - oldest.at < maxAgeMs)) return flushing ?? Promise.resolve();
      return flush();
    },
    hold() {
      held += 1;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        held -= 1;
        if (held === 0) released?.();
      };
    },
    async close() {
      closed = true;
      if (timer !== null) clearInterval(timer);
      if (held > 0) {
        // Streams the closing listener ended write their records a moment later; give them that moment.
        let grace: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          released = resolve;
          grace = setTimeout(resolve, options.closeGraceMs ?? 2000);
        });
        clearTimeout(grace);
        if (held > 0) {
          log({ level: 'error', event: 'records_unfinished_at_close', message: `${held} streamed calls had not ended when the session record sink closed; their records are lost`, lost: held });
        }
      }
      await flush();
      if (buffer.length > 0) {
        log({
          level: 'error',
          event: 'records_lost_at_close',
          message: `${buffer.length} session records could not be written to ${store.location} before shutdown and are lost`,
          lost: buffer.length,
          dropped: stats.dropped,
        });
      }
    },
  };
}

export interface SinkStats {
  written: number;
  dropped: number;
  failedFlushes: number;
  storeDown: boolean;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
