/**
 * `gatehouse sessions replay` playing recordings: the timing (injected sleep: no real
 * waiting), and the built CLI as a real process over a local state dir holding records and a
 * recording written by the real store into the S3 stand-in.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { createS3Records } from '../../src/adapters/s3-records.ts';
import { createS3RecordingObjects } from '../../src/adapters/s3-recordings.ts';
import { LOCAL_RECORDS_BUCKET, localRecordsDirectory, startLocalS3 } from '../../src/local/s3.ts';
import type { Cast } from '../../src/recordings/asciicast.ts';
import { NO_REDACTION } from '../../src/recordings/redactor.ts';
import { createRecordingStore } from '../../src/recordings/store.ts';
import { playCast, terminalFilter } from '../../src/recordings/terminal-player.ts';
import { recordingColumns } from '../../src/records/build.ts';
import { toRecordLine } from '../../src/records/record-line.ts';
import { aRecord } from '../records/support.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function cast(events: Cast['events']): Cast {
  return { header: JSON.parse('{"version":2,"width":80,"height":24,"timestamp":0,"title":"t","env":{},"gatehouse":{}}') as Cast['header'], events };
}

const EVENTS: Cast['events'] = [
  [0.5, 'o', '$ '],
  [1.5, 'i', 'l'],
  [1.6, 'o', 'ls'],
  [11.6, 'o', '\r\nfile\r\n'],
  [12, 'r', '100x30'],
  [12.6, 'm', 'gatehouse: session ended: client closed'],
];

describe('playing a recording with its timing (injected sleep)', () => {
  const cases: { name: string; speed?: number; idleLimit?: number; sleeps: number[] }[] = [
    { name: 'waits the recorded pauses at speed 1', sleeps: [500, 1100, 10000, 1000] },
    { name: 'waits half as long at speed 2', speed: 2, sleeps: [250, 550, 5000, 500] },
    { name: 'shortens pauses longer than the idle limit', idleLimit: 2, sleeps: [500, 1100, 2000, 1000] },
    { name: 'applies the idle limit before the speed', idleLimit: 2, speed: 4, sleeps: [125, 275, 500, 250] },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const sleeps: number[] = [];
      let written = '';
      await playCast(cast(EVENTS), {
        ...(c.speed === undefined ? {} : { speed: c.speed }),
        ...(c.idleLimit === undefined ? {} : { idleLimit: c.idleLimit }),
        sleep: async (ms) => {
          sleeps.push(Math.round(ms));
        },
        write: (text) => {
          written += text;
        },
      });
      assert.deepEqual(sleeps, c.sleeps);
      assert.equal(written, '$ ls\r\nfile\r\n\r\n\x1b[2m[gatehouse: session ended: client closed]\x1b[0m\r\n', 'output and markers, never the input');
    });
  }

  test('control strings a terminal would act on are removed, drawing stays, also when split across events', () => {
    const filter = terminalFilter();
    const out = [
      filter('\x1b[31mred\x1b[0m \x1b]52;c;cHduZWQ=\x07after'),
      filter(' title: \x1b]0;evil'),
      filter(' still title\x1b'),
      filter('\\ shown \x1bPq#0;2;0;0;0\x1b\\ end'),
    ].join('');
    assert.equal(out, '\x1b[31mred\x1b[0m after title:  shown  end');
  });
});

describe('gatehouse sessions replay (the built CLI, a real process)', () => {
  let stateDir: string;
  before(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'gatehouse-replay-'));
    const s3 = await startLocalS3({ directory: localRecordsDirectory(stateDir) });
    try {
      const objects = createS3RecordingObjects({ bucket: LOCAL_RECORDS_BUCKET, clientConfig: s3.clientConfig });
      const store = createRecordingStore({ objects, prefix: 'recordings/', maxBytes: 1 << 20, redactionFor: async () => NO_REDACTION });
      const info = {
        requestId: 'exec-call-1',
        kind: 'exec' as const,
        user: 'alice@example.com',
        namespace: 'payments',
        pod: 'db-0',
        command: ['sh'],
        tty: true,
        startedAt: '2025-03-01T12:00:00.000Z',
      };
      const recorder = await store.open(info);
      recorder.data('stdout', Buffer.from('$ '), 100);
      recorder.data('stdin', Buffer.from('echo hi\r'), 2000);
      recorder.data('stdout', Buffer.from('echo hi\r\nhi\r\n\x1b]0;pwned\x07$ '), 2100);
      const summary = await recorder.close('client closed', 60_000);
      const record = aRecord({
        request_id: 'exec-call-1',
        kubectl_session: 'sess-exec',
        kubectl_command: 'kubectl exec',
        method: 'POST',
        path: '/api/v1/namespaces/payments/pods/db-0/exec',
        verb: 'create',
        resource: 'pods',
        subresource: 'exec',
        namespace: 'payments',
        object_name: 'db-0',
        status_code: 101,
        stream_end: 'upgraded',
        ...recordingColumns(summary),
      });
      // A later exec of the same session whose recording is missing (lost, or another bucket).
      const lost = aRecord({
        ...record,
        record_id: 'lost-record',
        request_id: 'exec-call-2',
        started_at: '2025-03-01T12:05:00.000Z',
        recording_key: 'recordings/dt=2025-03-01/exec-call-2.cast.gz',
      });
      await createS3Records({ bucket: LOCAL_RECORDS_BUCKET, clientConfig: s3.clientConfig }).put([toRecordLine(record), toRecordLine(lost)]);
    } finally {
      await s3.close();
    }
  });
  after(() => rmSync(stateDir, { recursive: true, force: true }));

  function replay(...args: string[]) {
    return spawnSync(process.execPath, [join(ROOT, 'bin/gatehouse.mjs'), 'sessions', 'replay', 'sess-exec', '--local', stateDir, ...args], { encoding: 'utf8', timeout: 60_000 });
  }

  test('lists the exec calls with their recordings and plays each recorded terminal, without its control strings; a missing one is said, not fatal', () => {
    // 60 s of recording at speed 100000 is well under a millisecond of waiting.
    const result = replay('--speed', '100000');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /create pods\/exec db-0 -n payments/);
    assert.match(result.stdout, /recording: recordings\/dt=2025-03-01\/exec-call-1\.cast\.gz \(\d+ bytes stored\), 60000 ms, ended: client closed/);
    assert.match(result.stdout, /streams: stdin 8 bytes, stdout \d+, stderr 0/);
    assert.match(result.stdout, /--- recording of create pods\/exec db-0 -n payments by alice@example.com \(exec-call-1\), 2025-03-01T12:00:00.000Z ---\n\$ echo hi\r\nhi\r\n\$ \r\n\x1b\[2m\[gatehouse: session ended: client closed\]\x1b\[0m\r\n\n--- end of recording \(client closed\) ---\n/);
    assert.doesNotMatch(result.stdout, /pwned/);
    assert.match(result.stdout, /--- recording of create pods\/exec db-0 -n payments by alice@example.com \(exec-call-2\), 2025-03-01T12:05:00.000Z ---\n\(not played: no recording at s3:\/\/gatehouse-records\/recordings\/dt=2025-03-01\/exec-call-2\.cast\.gz\)\n$/);
  });

  test('--no-play lists the recording without playing it', () => {
    const result = replay('--no-play');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /recording: recordings\/dt=2025-03-01\/exec-call-1\.cast\.gz/);
    assert.doesNotMatch(result.stdout, /--- recording of/);
  });

  test('a speed that is not a positive number is bad usage', () => {
    const result = replay('--speed', '0');
    assert.equal(result.status, 1 + 1, result.stdout);
    assert.match(result.stderr, /--speed must be a positive number/);
  });
});
