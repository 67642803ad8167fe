// The record sink's batching under load: records that arrive while a batch is being written
// wait for a full batch (or the timer, or an explicit flush), so a busy Gatehouse writes few
// large objects instead of one small object per PUT round-trip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRecordSink } from '../../src/records/sink.ts';
import type { RecordLine, RecordStore, SessionRecord } from '../../src/ports/records.ts';

/** A store whose writes finish only when the test lets them: batch sizes are what is checked. */
function gatedStore(): RecordStore & { batches: number[]; written: RecordLine[]; finish(): void; pending: number } {
  const waiting: (() => void)[] = [];
  const store = {
    location: 'memory://records/',
    batches: [] as number[],
    written: [] as RecordLine[],
    get pending() {
      return waiting.length;
    },
    put(lines: readonly RecordLine[]): Promise<void> {
      store.batches.push(lines.length);
      store.written.push(...lines);
      return new Promise<void>((resolve) => waiting.push(resolve));
    },
    finish() {
      waiting.shift()?.();
    },
  };
  return store;
}

const record = (i: number): SessionRecord => ({ record_id: `r${i}` }) as unknown as SessionRecord;
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('writes only full batches while busy; the rest waits for the next full batch or a flush', async () => {
  const store = gatedStore();
  const sink = createRecordSink(store, { maxBatchRecords: 3, flushIntervalMs: 60_000, log: () => undefined });
  for (let i = 0; i < 3; i++) sink.write(record(i));
  await settle();
  assert.deepEqual(store.batches, [3], 'a full batch starts a write');

  sink.write(record(3));
  sink.write(record(4));
  store.finish();
  await settle();
  assert.deepEqual(store.batches, [3], 'two records arriving during the write do not make an object of their own');

  sink.write(record(5));
  await settle();
  assert.deepEqual(store.batches, [3, 3], 'the next full batch is written');
  store.finish();

  sink.write(record(6));
  const flushed = sink.flush();
  await settle();
  assert.deepEqual(store.batches, [3, 3, 1], 'an explicit flush writes what is left');
  store.finish();
  await flushed;
  await sink.close();
});

test('a flush writes what was buffered when it began, not what keeps arriving while it writes', async () => {
  const store = gatedStore();
  const sink = createRecordSink(store, { maxBatchRecords: 3, flushIntervalMs: 60_000, log: () => undefined });
  sink.write(record(0));
  sink.write(record(1));
  const flushed = sink.flush();
  await settle();
  sink.write(record(2));
  sink.write(record(3));
  store.finish();
  await flushed;
  await settle();
  assert.deepEqual(store.batches, [2], 'the records that arrived during the write wait');
  const closing = sink.close();
  await settle();
  assert.deepEqual(store.batches, [2, 2], 'closing writes them');
  store.finish();
  await closing;
});

test('hands the store each record as the JSON line it was when written, serialised once', async () => {
  const store = gatedStore();
  const sink = createRecordSink(store, { maxBatchRecords: 2, flushIntervalMs: 60_000, log: () => undefined });
  const first = { record_id: 'r0', started_at: '2025-03-01T10:00:00.000Z', response_body: 'before' } as unknown as SessionRecord;
  sink.write(first);
  (first as unknown as { response_body: string }).response_body = 'changed after it was written';
  sink.write({ record_id: 'r1', started_at: '2025-03-02T10:00:00.000Z' } as unknown as SessionRecord);
  await settle();
  // What a line is to a store: its date and its JSON (the bytes kept beside them are the writer's business).
  assert.deepEqual(store.written.map(({ startedAt, json }) => ({ startedAt, json })), [
    { startedAt: '2025-03-01T10:00:00.000Z', json: '{"record_id":"r0","started_at":"2025-03-01T10:00:00.000Z","response_body":"before"}' },
    { startedAt: '2025-03-02T10:00:00.000Z', json: '{"record_id":"r1","started_at":"2025-03-02T10:00:00.000Z"}' },
  ]);
  store.finish();
  await sink.close();
});
