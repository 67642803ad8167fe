/**
 * The recording store against the local S3 stand-in (s3rver, S3's wire protocol): durable at
 * open, the whole recording at close, fail closed when the store or the redaction source is
 * down, the end reason kept after an upstream failure.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { createS3RecordingObjects } from '../../src/adapters/s3-recordings.ts';
import { GatehouseError } from '../../src/errors.ts';
import { startLocalS3 } from '../../src/local/s3.ts';
import type { StreamSessionInfo } from '../../src/ports/recordings.ts';
import { parseCast } from '../../src/recordings/asciicast.ts';
import { readRecording } from '../../src/recordings/read.ts';
import { NO_REDACTION } from '../../src/recordings/redactor.ts';
import { secretValuesOf } from '../../src/recordings/secret-values.ts';
import { createRecordingStore, recordingKey } from '../../src/recordings/store.ts';
import { recordingColumns } from '../../src/records/build.ts';
import { startS3Fixture } from '../records/support.ts';
import type { S3Fixture } from '../records/support.ts';

const INFO: StreamSessionInfo = {
  requestId: '6f1c2d4e-0000-4000-8000-000000000001',
  kind: 'exec',
  user: 'alice@example.com',
  namespace: 'payments',
  pod: 'db-0',
  command: ['sh', '-i'],
  tty: true,
  size: { cols: 120, rows: 40 },
  startedAt: '2025-03-01T12:00:00.000Z',
};

let s3: S3Fixture;
before(async () => {
  s3 = await startS3Fixture();
});
after(async () => {
  await s3?.close();
});

function store(over: Partial<Parameters<typeof createRecordingStore>[0]> = {}) {
  const objects = createS3RecordingObjects({ bucket: s3.bucket, client: s3.client });
  return { objects, store: createRecordingStore({ objects, prefix: 'recordings/', maxBytes: 1 << 20, redactionFor: async () => NO_REDACTION, ...over }) };
}

async function objectText(key: string): Promise<string> {
  const object = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
  return gunzipSync(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()).toString('utf8');
}

describe('recording store over S3 (s3rver)', () => {
  test('open writes the header before it resolves; close replaces it with the whole recording', async () => {
    const { store: recordings, objects } = store();
    const key = recordingKey('recordings/', INFO.startedAt, INFO.requestId);
    assert.equal(key, 'recordings/dt=2025-03-01/6f1c2d4e-0000-4000-8000-000000000001.cast.gz');
    const recorder = await recordings.open(INFO);
    const opened = parseCast(await objectText(key));
    assert.equal(opened.header.gatehouse.end_reason, null);
    assert.equal(opened.header.width, 120);

    recorder.data('stdout', new TextEncoder().encode('$ '), 5);
    recorder.data('stdin', new TextEncoder().encode('id\r'), 900);
    recorder.data('stdout', new TextEncoder().encode('id\r\nuid=0(root)\r\n$ '), 910);
    const summary = await recorder.close('client closed', 2000);
    const cast = await readRecording(objects, key);
    assert.deepEqual(cast.events, [
      [0.005, 'o', '$ '],
      [0.9, 'i', 'id\r'],
      [0.91, 'o', 'id\r\nuid=0(root)\r\n$ '],
      [2, 'm', 'gatehouse: session ended: client closed'],
    ]);
    assert.equal(summary.key, key);
    assert.ok(summary.storedBytes > 0);
    assert.equal(recordingColumns(summary).recording_key, key);
    assert.equal(recordingColumns(summary).stream_stdout_bytes, 2 + 19);
  });

  test('a close after an upstream failure keeps the reason in the recording and the summary', async () => {
    const { store: recordings, objects } = store();
    const recorder = await recordings.open({ ...INFO, requestId: 'upstream-broke' });
    recorder.data('stdout', new TextEncoder().encode('working…'), 10);
    const summary = await recorder.close('upstream reset: read ECONNRESET', 1500);
    assert.equal(summary.reason, 'upstream reset: read ECONNRESET');
    assert.equal(recordingColumns(summary).stream_end_reason, 'upstream reset: read ECONNRESET');
    const cast = await readRecording(objects, summary.key);
    assert.equal(cast.header.gatehouse.end_reason, 'upstream reset: read ECONNRESET');
    assert.deepEqual(cast.events.at(-1), [1.5, 'm', 'gatehouse: session ended: upstream reset: read ECONNRESET']);
  });

  test('close twice writes once and answers the same summary', async () => {
    const { store: recordings } = store();
    const recorder = await recordings.open({ ...INFO, requestId: 'twice' });
    const [a, b] = await Promise.all([recorder.close('client closed', 10), recorder.close('terminated by lead@example.com', 20)]);
    assert.deepEqual(a, b);
    assert.equal(a.reason, 'client closed');
  });

  test('reading a recording that does not exist is ERR_NOT_FOUND', async () => {
    const { objects } = store();
    await assert.rejects(readRecording(objects, 'recordings/dt=2025-03-01/none.cast.gz'), (error: unknown) => {
      assert.ok(error instanceof GatehouseError);
      assert.equal(error.code, 'ERR_NOT_FOUND');
      assert.equal(error.message, `no recording at s3://${s3.bucket}/recordings/dt=2025-03-01/none.cast.gz`);
      return true;
    });
  });
});

describe('fail closed at open', () => {
  test('a store that is down refuses the session with ERR_RECORD_UNAVAILABLE, naming the session and the store', async () => {
    const down = await startLocalS3({ directory: s3.directory });
    const clientConfig = { ...down.clientConfig, maxAttempts: 1 };
    await down.close();
    const objects = createS3RecordingObjects({ bucket: s3.bucket, clientConfig });
    const recordings = createRecordingStore({ objects, prefix: 'recordings/', maxBytes: 1 << 20, redactionFor: async () => NO_REDACTION });
    await assert.rejects(recordings.open(INFO), (error: unknown) => {
      assert.ok(error instanceof GatehouseError);
      assert.equal(error.code, 'ERR_RECORD_UNAVAILABLE');
      assert.equal(error.httpStatus, 503);
      assert.match(
        error.message,
        /^the exec session into pod "db-0" in namespace "payments" was not started: it cannot be recorded \(recording store s3:\/\/gatehouse-records\/recordings\/dt=2025-03-01\/6f1c2d4e-0000-4000-8000-000000000001\.cast\.gz is unavailable \(.+\)\)$/,
      );
      return true;
    });
  });

  test('redaction values that cannot be read refuse the session before anything is written', async () => {
    const { store: recordings, objects } = store({
      redactionFor: async () => {
        throw new Error('the cluster answered 403');
      },
    });
    await assert.rejects(recordings.open({ ...INFO, requestId: 'no-redaction' }), (error: unknown) => {
      assert.ok(error instanceof GatehouseError);
      assert.equal(error.code, 'ERR_RECORD_UNAVAILABLE');
      assert.equal(error.message, 'the exec session into pod "db-0" in namespace "payments" was not started: it cannot be recorded (what to redact is unknown: the cluster answered 403)');
      return true;
    });
    await assert.rejects(objects.get(recordingKey('recordings/', INFO.startedAt, 'no-redaction')), { code: 'ERR_NOT_FOUND' });
  });
});

describe('Secret values to redact', () => {
  test('takes every data value decoded and as its base64 text, and stringData values', () => {
    const list = JSON.stringify({
      kind: 'SecretList',
      items: [
        { data: { password: Buffer.from('hunter2!').toString('base64') } },
        { stringData: { token: 'tok-123' }, data: {} },
      ],
    });
    assert.deepEqual(secretValuesOf(list).sort(), [Buffer.from('hunter2!').toString('base64'), 'hunter2!', 'tok-123'].sort());
  });
});
