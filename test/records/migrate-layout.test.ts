/**
 * `gatehouse records migrate-layout`: records written before clusters (`records/dt=…/`, no
 * `cluster` field) are moved under `records/cluster=<name>/dt=…/`, where `gatehouse sessions`
 * (and the Glue table) read them. The built CLI runs as a real process against the S3 stand-in
 * (s3rver) by URL, as it would against a deployment's bucket; each prefix of the bucket is one
 * scenario's fixture. The cases of a scenario run in order: dry run, run, re-run.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { after, before, describe, test } from 'node:test';
import { LOCAL_RECORDS_BUCKET, startLocalS3, type LocalS3 } from '../../src/local/s3.ts';
import type { SessionRecord } from '../../src/records/schema.ts';
import { runProcess, type ProcessResult } from '../support/run-process.ts';
import { aRecord, deadPort } from './support.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BUCKET = LOCAL_RECORDS_BUCKET;

let directory: string;
let s3: LocalS3;
let client: S3Client;

/** A record as Gatehouse wrote it before clusters: no `cluster` field. */
function oldRecord(session: string, startedAt: string): Omit<SessionRecord, 'cluster'> {
  const { cluster: _cluster, ...old } = aRecord({ kubectl_session: session, kubectl_command: 'kubectl get', started_at: startedAt });
  return old;
}

function gzipRecords(records: object[]): Buffer {
  return gzipSync(records.map((record) => `${JSON.stringify(record)}\n`).join(''));
}

async function put(key: string, body: Buffer | string): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, ContentType: 'application/x-ndjson' }));
}

/** Every object under `prefix`: key → its bytes (hex). */
async function snapshot(prefix: string): Promise<Record<string, string>> {
  const listed = await client.send(new ListObjectsCommand({ Bucket: BUCKET, Prefix: prefix }));
  const objects: Record<string, string> = {};
  for (const { Key } of listed.Contents ?? []) {
    if (Key === undefined) continue;
    const object = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key }));
    objects[Key] = Buffer.from((await object.Body?.transformToByteArray()) ?? []).toString('hex');
  }
  return objects;
}

function gatehouse(args: string[], endpoint = s3.endpoint): Promise<ProcessResult> {
  const env = Object.fromEntries(Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined));
  return runProcess(process.execPath, [join(ROOT, 'bin/gatehouse.mjs'), ...args, '--endpoint', endpoint, '--region', 'us-east-1'], {
    cwd: ROOT,
    env: { ...env, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' },
  });
}

function migrate(prefix: string, ...flags: string[]): Promise<ProcessResult> {
  return gatehouse(['records', 'migrate-layout', '--source', `s3://${BUCKET}/${prefix}`, '--cluster', 'prod', ...flags]);
}

const OLD = {
  day1: 'records/dt=2025-03-01/20250301T120000.000Z-a.jsonl.gz',
  day1b: 'records/dt=2025-03-01/20250301T130000.000Z-b.jsonl.gz',
  day2: 'records/dt=2025-03-02/20250302T090000.000Z-c.jsonl.gz',
};
const NEW = {
  day1: 'records/cluster=prod/dt=2025-03-01/20250301T120000.000Z-a.jsonl.gz',
  day1b: 'records/cluster=prod/dt=2025-03-01/20250301T130000.000Z-b.jsonl.gz',
  day2: 'records/cluster=prod/dt=2025-03-02/20250302T090000.000Z-c.jsonl.gz',
};
const NOT_A_RECORD = 'records/dt=2025-03-01/README.txt';
const BODIES = {
  day1: gzipRecords([oldRecord('s-1', '2025-03-01T12:00:00.000Z')]),
  day1b: gzipRecords([oldRecord('s-2', '2025-03-01T13:00:00.000Z')]),
  day2: gzipRecords([oldRecord('s-3', '2025-03-02T09:00:00.000Z'), oldRecord('s-3', '2025-03-02T09:00:01.000Z')]),
};
const hex = (body: Buffer): string => body.toString('hex');

before(async () => {
  directory = mkdtempSync(join(tmpdir(), 'gatehouse-migrate-layout-'));
  s3 = await startLocalS3({ directory });
  client = new S3Client(s3.clientConfig);
  for (const name of ['day1', 'day1b', 'day2'] as const) await put(OLD[name], BODIES[name]);
  // A run stopped after copying day1b and before deleting its old object.
  await put(NEW.day1b, BODIES.day1b);
  await put(NOT_A_RECORD, 'notes');
});

after(async () => {
  client?.destroy();
  await s3?.close();
  rmSync(directory, { recursive: true, force: true });
});

async function listedSessions(...flags: string[]): Promise<string[]> {
  const result = await gatehouse(['sessions', 'list', '--json', '--since', '2025-03-01', '--source', `s3://${BUCKET}/records/`, ...flags]);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (JSON.parse(line) as { sessionId: string }).sessionId);
}

describe('gatehouse records migrate-layout over records of the layout before clusters', () => {
  test('gatehouse sessions sees only the records already under a cluster, not those of the old layout', async () => {
    assert.deepEqual(await listedSessions(), ['s-2']);
  });

  test('a dry run prints what it would copy and delete and changes nothing', async () => {
    const before = await snapshot('records/');
    const result = await migrate('records/', '--dry-run');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^would copy s3://${BUCKET}/${OLD.day1} → s3://${BUCKET}/${NEW.day1} \\(\\d+ bytes\\)$`, 'm'));
    assert.match(result.stdout, new RegExp(`^already copied: s3://${BUCKET}/${OLD.day1b} → s3://${BUCKET}/${NEW.day1b} \\(same \\d+ bytes\\)$`, 'm'));
    assert.match(result.stdout, new RegExp(`^would delete s3://${BUCKET}/${OLD.day2}$`, 'm'));
    assert.match(result.stdout, new RegExp(`^skipped s3://${BUCKET}/${NOT_A_RECORD}: not a records object of the old layout`, 'm'));
    assert.match(result.stdout, /^dry run: 3 object\(s\) of the old layout .* for cluster=prod: 2 would be copied, 1 already copied, 3 old would be deleted, 0 conflict\(s\), 1 other key\(s\) left alone$/m);
    assert.deepEqual(await snapshot('records/'), before);
  });

  test('a run copies each old object to its cluster folder under the same file name, verified, deletes the old ones, and gatehouse sessions then sees them', async () => {
    const result = await migrate('records/');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^copied s3://${BUCKET}/${OLD.day2} → s3://${BUCKET}/${NEW.day2} \\(\\d+ bytes, verified\\)$`, 'm'));
    assert.match(result.stdout, new RegExp(`^deleted s3://${BUCKET}/${OLD.day1}$`, 'm'));
    assert.match(result.stdout, /^3 object\(s\) of the old layout .* for cluster=prod: 2 copied, 1 already copied, 3 old deleted, 0 conflict\(s\), 1 other key\(s\) left alone$/m);
    assert.deepEqual(await snapshot('records/'), {
      [NEW.day1]: hex(BODIES.day1),
      [NEW.day1b]: hex(BODIES.day1b),
      [NEW.day2]: hex(BODIES.day2),
      [NOT_A_RECORD]: Buffer.from('notes').toString('hex'),
    });
    assert.deepEqual(await listedSessions(), ['s-1', 's-2', 's-3']);
    // The moved records are the cluster's, though they carry no `cluster` field.
    assert.deepEqual(await listedSessions('--cluster', 'prod'), ['s-1', 's-2', 's-3']);
    assert.deepEqual(await listedSessions('--cluster', 'dev'), []);
  });

  test('a re-run copies and deletes nothing', async () => {
    const before = await snapshot('records/');
    const result = await migrate('records/');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^0 object\(s\) of the old layout .* for cluster=prod: 0 copied, 0 already copied, 0 old deleted, 0 conflict\(s\), 1 other key\(s\) left alone$/m);
    assert.doesNotMatch(result.stdout, /^(copied|deleted) /m);
    assert.deepEqual(await snapshot('records/'), before);
  });
});

test('an old object whose new key holds other content is reported, exits 1 naming it, and neither object is changed; the others are moved', async () => {
  const clash = 'clash/dt=2025-03-01/20250301T120000.000Z-x.jsonl.gz';
  const clashNew = 'clash/cluster=prod/dt=2025-03-01/20250301T120000.000Z-x.jsonl.gz';
  const fine = 'clash/dt=2025-03-01/20250301T130000.000Z-y.jsonl.gz';
  await put(clash, BODIES.day1);
  await put(clashNew, BODIES.day2);
  await put(fine, BODIES.day1b);
  const result = await migrate('clash/');
  assert.equal(result.code, 1);
  assert.match(result.stdout, new RegExp(`^conflict: s3://${BUCKET}/${clashNew} already exists with different content \\(${BODIES.day2.length} bytes, the old object s3://${BUCKET}/${clash} has ${BODIES.day1.length}\\); neither was changed$`, 'm'));
  assert.match(result.stderr, new RegExp(`^gatehouse records migrate-layout: 1 old object\\(s\\) not moved, their new key holds other content: s3://${BUCKET}/${clash}; both were left in place$`, 'm'));
  assert.deepEqual(await snapshot('clash/'), {
    [clash]: hex(BODIES.day1),
    [clashNew]: hex(BODIES.day2),
    'clash/cluster=prod/dt=2025-03-01/20250301T130000.000Z-y.jsonl.gz': hex(BODIES.day1b),
  });
});

test('--keep copies and verifies but leaves the old objects', async () => {
  const old = 'kept/dt=2025-03-01/20250301T120000.000Z-k.jsonl.gz';
  await put(old, BODIES.day1);
  const result = await migrate('kept/', '--keep');
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^1 object\(s\) of the old layout .* 1 copied, 0 already copied, 0 old deleted \(--keep\), 0 conflict\(s\)/m);
  assert.deepEqual(await snapshot('kept/'), { [old]: hex(BODIES.day1), 'kept/cluster=prod/dt=2025-03-01/20250301T120000.000Z-k.jsonl.gz': hex(BODIES.day1) });
});

const usage: { name: string; args: string[]; message: RegExp }[] = [
  { name: 'without --cluster it refuses to guess the cluster', args: ['--source', `s3://${BUCKET}/records/`], message: /required option '--cluster <name>' not specified/ },
  { name: 'a --cluster that is no cluster name is refused', args: ['--source', `s3://${BUCKET}/records/`, '--cluster', '../prod'], message: /"\.\.\/prod" is not a cluster name/ },
  { name: 'a --source that is no S3 URL is refused', args: ['--source', 'records/', '--cluster', 'prod'], message: /^gatehouse records migrate-layout: not an S3 location: "records\/" \(expected s3:\/\/bucket\/prefix\/\)$/m },
];
for (const c of usage) {
  test(`usage: ${c.name} (exit 2)`, async () => {
    const result = await gatehouse(['records', 'migrate-layout', ...c.args]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, c.message);
    assert.equal(result.stdout, '');
  });
}

test('a store that cannot be reached fails with exit 1 naming what could not be listed', async () => {
  const result = await gatehouse(['records', 'migrate-layout', '--source', `s3://${BUCKET}/records/`, '--cluster', 'prod'], `http://127.0.0.1:${await deadPort()}`);
  assert.equal(result.code, 1);
  assert.match(result.stderr, new RegExp(`^gatehouse records migrate-layout: could not list s3://${BUCKET}/records/dt= \\(.+\\)$`, 'm'));
});
