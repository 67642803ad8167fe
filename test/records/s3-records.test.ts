import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { createS3Records, recordsClientConfig } from '../../src/adapters/s3-records.ts';
import { GatehouseError } from '../../src/errors.ts';
import { LOCAL_RECORDS_BUCKET, startLocalS3 } from '../../src/local/s3.ts';
import { createRecordSink } from '../../src/records/sink.ts';
import type { SessionRecord } from '../../src/records/schema.ts';
import { toRecordLine } from '../../src/records/record-line.ts';
import type { RecordQuery } from '../../src/ports/records.ts';
import { aRecord, capturedLog, deadPort, startS3Fixture } from './support.ts';
import type { S3Fixture } from './support.ts';

const frozen = { now: () => Date.parse('2025-03-02T08:09:10.123Z') };

async function collect(iterable: AsyncIterable<SessionRecord>): Promise<SessionRecord[]> {
  const out: SessionRecord[] = [];
  for await (const record of iterable) out.push(record);
  return out;
}

async function keysUnder(fixture: S3Fixture, prefix: string): Promise<string[]> {
  const page = await fixture.client.send(new ListObjectsV2Command({ Bucket: fixture.bucket, Prefix: prefix }));
  return (page.Contents ?? []).map((object) => object.Key ?? '').sort();
}

describe('S3 records adapter (through the real SDK, against the local S3 stand-in)', () => {
  let fixture: S3Fixture;
  before(async () => {
    fixture = await startS3Fixture();
  });
  after(async () => {
    await fixture.close();
  });

  test('writes one gzip JSON Lines object per cluster and date partition, named by write time', async () => {
    const store = createS3Records({ bucket: fixture.bucket, prefix: 'layout/', client: fixture.client, clock: frozen });
    const first = aRecord({ started_at: '2025-03-01T23:59:59.999Z' });
    const second = aRecord({ started_at: '2025-03-02T00:00:00.000Z' });
    const third = aRecord({ started_at: '2025-03-02T00:00:01.000Z' });
    const onProd = aRecord({ started_at: '2025-03-02T00:00:02.000Z', cluster: 'prod' });
    const unrouted = aRecord({ started_at: '2025-03-02T00:00:03.000Z', cluster: null });
    await store.put([first, second, onProd, third, unrouted].map(toRecordLine));

    const keys = await keysUnder(fixture, 'layout/');
    assert.equal(keys.length, 4);
    const layout = /^layout\/(cluster=[^/]+\/dt=[\d-]+)\/20250302T080910\.123Z-[0-9a-f-]{36}\.jsonl\.gz$/;
    assert.deepEqual(keys.map((key) => layout.exec(key)?.[1]), ['cluster=_unrouted/dt=2025-03-02', 'cluster=default/dt=2025-03-01', 'cluster=default/dt=2025-03-02', 'cluster=prod/dt=2025-03-02']);
    const object = await fixture.client.send(new GetObjectCommand({ Bucket: fixture.bucket, Key: keys[2] }));
    const lines = gunzipSync(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray())
      .toString('utf8')
      .split('\n');
    assert.deepEqual(lines, [JSON.stringify(second), JSON.stringify(third), '']);
  });

  test('reads back the records of the chosen dates only', async () => {
    const store = createS3Records({ bucket: fixture.bucket, prefix: 'range/', client: fixture.client, clock: frozen });
    const days = ['2025-01-30', '2025-01-31', '2025-02-01'].map((day) => aRecord({ started_at: `${day}T10:00:00.000Z` }));
    await store.put(days.map(toRecordLine));
    const ids = async (query: { fromDate?: string; toDate?: string }): Promise<string[]> =>
      (await collect(store.read(query))).map((r) => r.started_at.slice(0, 10)).sort();
    assert.deepEqual(await ids({}), ['2025-01-30', '2025-01-31', '2025-02-01']);
    assert.deepEqual(await ids({ fromDate: '2025-01-31', toDate: '2025-02-01' }), ['2025-01-31', '2025-02-01']);
    assert.deepEqual(await ids({ fromDate: '2025-02-01' }), ['2025-02-01']);
    assert.deepEqual(await ids({ toDate: '2025-01-30' }), ['2025-01-30']);
  });

  test('reads back the records of the chosen clusters only, by date range or open-ended', async () => {
    const store = createS3Records({ bucket: fixture.bucket, prefix: 'by-cluster/', client: fixture.client, clock: frozen });
    const records = [
      aRecord({ cluster: 'dev', started_at: '2025-01-30T10:00:00.000Z' }),
      aRecord({ cluster: 'prod', started_at: '2025-01-30T11:00:00.000Z' }),
      aRecord({ cluster: 'prod', started_at: '2025-01-31T10:00:00.000Z' }),
      aRecord({ cluster: null, started_at: '2025-01-31T11:00:00.000Z' }),
    ];
    await store.put(records.map(toRecordLine));
    const read = async (query: RecordQuery): Promise<string[]> => (await collect(store.read(query))).map((r) => `${r.cluster ?? '(none)'} ${r.started_at.slice(0, 10)}`).sort();
    assert.deepEqual(await read({}), ['(none) 2025-01-31', 'dev 2025-01-30', 'prod 2025-01-30', 'prod 2025-01-31']);
    assert.deepEqual(await read({ clusters: ['prod'] }), ['prod 2025-01-30', 'prod 2025-01-31']);
    assert.deepEqual(await read({ clusters: ['prod', null], fromDate: '2025-01-31', toDate: '2025-01-31' }), ['(none) 2025-01-31', 'prod 2025-01-31']);
    assert.deepEqual(await read({ clusters: ['dev'], fromDate: '2025-01-31' }), []);
  });

  test('reads back every record of a prefix holding more objects than one listing page (1,000)', async () => {
    const store = createS3Records({ bucket: fixture.bucket, prefix: 'many/', client: fixture.client, clock: frozen });
    const records = Array.from({ length: 1005 }, (_, i) => aRecord({ request_id: `many-${String(i).padStart(4, '0')}`, started_at: '2025-03-02T10:00:00.000Z' }));
    // One put, one object: each record its own object.
    for (let at = 0; at < records.length; at += 50) await Promise.all(records.slice(at, at + 50).map((record) => store.put([toRecordLine(record)])));
    const read = (await collect(store.read({}))).map((record) => record.request_id).sort();
    assert.equal(read.length, 1005);
    assert.deepEqual(read, records.map((record) => record.request_id));
  });

  test('turns an unreachable store into ERR_RECORD_UNAVAILABLE naming the location', async () => {
    const port = await deadPort();
    const store = createS3Records({
      bucket: 'gatehouse-records',
      clientConfig: { endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } },
    });
    await assert.rejects(store.put([toRecordLine(aRecord())]), (error: unknown) => {
      assert.ok(error instanceof GatehouseError);
      assert.equal(error.code, 'ERR_RECORD_UNAVAILABLE');
      assert.equal(error.httpStatus, 503);
      assert.match(error.message, /^session record store s3:\/\/gatehouse-records\/records\/ is unavailable \(.*ECONNREFUSED.*\)$/);
      return true;
    });
  });
});

describe('record sink', () => {
  let fixture: S3Fixture;
  before(async () => {
    fixture = await startS3Fixture();
  });
  after(async () => {
    await fixture.close();
  });

  test('buffers reads until a batch is full, then writes them as one object', async () => {
    const store = createS3Records({ bucket: fixture.bucket, prefix: 'batch/', client: fixture.client });
    const sink = createRecordSink(store, { maxBatchRecords: 3, flushIntervalMs: 60_000 });
    sink.write(aRecord());
    sink.write(aRecord());
    await sink.flush();
    assert.equal((await keysUnder(fixture, 'batch/')).length, 1, 'an explicit flush writes what is buffered');
    sink.write(aRecord());
    sink.write(aRecord());
    assert.equal((await keysUnder(fixture, 'batch/')).length, 1, 'two records do not fill a batch of three');
    sink.write(aRecord());
    await sink.close();
    const keys = await keysUnder(fixture, 'batch/');
    assert.equal(keys.length, 2);
    assert.equal((await collect(store.read({}))).length, 5);
  });

  test('waits at close for records still held by streams, then writes them', async () => {
    const store = createS3Records({ bucket: fixture.bucket, prefix: 'held/', client: fixture.client });
    const sink = createRecordSink(store, { flushIntervalMs: 60_000 });
    const release = sink.hold();
    let closed = false;
    const closing = sink.close().then(() => (closed = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(closed, false, 'close waits while a record is held');
    sink.write(aRecord({ request_id: 'streamed' }));
    release();
    await closing;
    assert.deepEqual((await collect(store.read({}))).map((r) => r.request_id), ['streamed']);
  });

  test('gives up on held records after the grace period, and says so', async () => {
    const store = createS3Records({ bucket: fixture.bucket, prefix: 'held-forever/', client: fixture.client });
    const { lines, log } = capturedLog();
    const sink = createRecordSink(store, { flushIntervalMs: 60_000, closeGraceMs: 1, log });
    sink.hold();
    await sink.close();
    assert.equal(lines.at(-1)?.['message'], '1 streamed calls had not ended when the session record sink closed; their records are lost');
  });

  test('writes a durable record at once and rejects when it cannot', async () => {
    const store = createS3Records({ bucket: fixture.bucket, prefix: 'durable/', client: fixture.client });
    const sink = createRecordSink(store, { flushIntervalMs: 60_000 });
    await sink.writeDurable(aRecord({ phase: 'intent' }));
    assert.equal((await keysUnder(fixture, 'durable/')).length, 1);
    await sink.close();

    const port = await deadPort();
    const dead = createS3Records({
      bucket: 'gatehouse-records',
      clientConfig: { endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } },
    });
    const deadSink = createRecordSink(dead, { flushIntervalMs: 60_000, log: capturedLog().log });
    await assert.rejects(deadSink.writeDurable(aRecord({ phase: 'intent' })), { code: 'ERR_RECORD_UNAVAILABLE' });
    await deadSink.close();
  });

  test('keeps reads buffered while the store is down, logs it, drops the oldest beyond the bound, and catches up', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'gatehouse-records-down-'));
    const port = await deadPort();
    const clientConfig = recordsClientConfig({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    const client = new S3Client(clientConfig);
    const store = createS3Records({ bucket: LOCAL_RECORDS_BUCKET, prefix: 'down/', client });
    const { lines, log } = capturedLog();
    const sink = createRecordSink(store, { maxBatchRecords: 2, maxBufferedRecords: 3, flushIntervalMs: 60_000, log });
    try {
      const records = [1, 2, 3, 4, 5].map((n) => aRecord({ request_id: `call-${n}` }));
      for (const r of records) sink.write(r);
      await sink.flush();
      assert.equal(sink.stats.storeDown, true);
      assert.equal(sink.stats.dropped, 2);
      const failure = lines.find((line) => line['event'] === 'records_flush_failed');
      assert.ok(failure, 'a failed flush is logged');
      assert.equal(failure['level'], 'error');
      assert.match(
        String(failure['message']),
        /^session records could not be written to s3:\/\/gatehouse-records\/down\/: .*; still serving reads, 3 records buffered for retry, 2 dropped so far$/,
      );

      const s3 = await startLocalS3({ directory, port });
      try {
        await sink.flush();
        assert.equal(sink.stats.storeDown, false);
        const kept = (await collect(store.read({}))).map((r) => r.request_id).sort();
        assert.deepEqual(kept, ['call-3', 'call-4', 'call-5'], 'the oldest records were the ones dropped');
        const recovered = lines.find((line) => line['event'] === 'records_store_recovered');
        assert.equal(recovered?.['message'], 'session records reach s3://gatehouse-records/down/ again; 2 records were dropped while it was down');
        await sink.close();
      } finally {
        client.destroy();
        await s3.close();
      }
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
