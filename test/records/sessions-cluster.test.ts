/**
 * `gatehouse sessions list|replay --cluster`: on a Gatehouse that fronts several clusters the
 * records are partitioned `cluster=<name>/dt=…`; the filter reads only the chosen partitions.
 * Records of three partitions (dev, prod, and `_unrouted`: a path that named no configured
 * cluster) are written by the real S3 records adapter into the S3 stand-in (s3rver); the built
 * CLI reads them as a real process — from a local state dir, and from the bucket by URL
 * (`--source s3://… --endpoint`) as it reads a deployment's.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { createS3Records } from '../../src/adapters/s3-records.ts';
import { LOCAL_RECORDS_BUCKET, localRecordsDirectory, startLocalS3, type LocalS3 } from '../../src/local/s3.ts';
import { toRecordLine } from '../../src/records/record-line.ts';
import { runProcess, type ProcessResult } from '../support/run-process.ts';
import { aRecord } from './support.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** One kubectl session per partition, each of one call. */
const SESSIONS = [
  { session: 's-dev', cluster: 'dev', user: 'alice@example.com', command: 'kubectl get' },
  { session: 's-prod', cluster: 'prod', user: 'bob@example.com', command: 'kubectl delete' },
  { session: 's-unrouted', cluster: null, user: 'carol@example.com', command: 'kubectl get' },
];

let stateDir: string;
let s3: LocalS3;

before(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'gatehouse-sessions-cluster-'));
  s3 = await startLocalS3({ directory: localRecordsDirectory(stateDir) });
  const records = SESSIONS.map((s, i) =>
    aRecord({ cluster: s.cluster, kubectl_session: s.session, kubectl_command: s.command, user_name: s.user, started_at: `2025-03-01T12:0${i}:00.000Z` }),
  );
  await createS3Records({ bucket: LOCAL_RECORDS_BUCKET, clientConfig: s3.clientConfig }).put(records.map(toRecordLine));
});

after(async () => {
  await s3?.close();
  rmSync(stateDir, { recursive: true, force: true });
});

/** The built CLI (a child process: the S3 stand-in runs in this one) over the bucket by URL, with the stand-in's endpoint and keys, or over the local state dir. */
function gatehouse(from: 'source' | 'local', args: string[]): Promise<ProcessResult> {
  const source = from === 'source' ? ['--source', `s3://${LOCAL_RECORDS_BUCKET}/records/`, '--endpoint', s3.endpoint, '--region', 'us-east-1'] : ['--local', stateDir];
  const env = Object.fromEntries(Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined));
  return runProcess(process.execPath, [join(ROOT, 'bin/gatehouse.mjs'), 'sessions', ...args, ...source, '--since', '2025-03-01'], {
    cwd: ROOT,
    env: { ...env, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' },
  });
}

function listedSessions(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (JSON.parse(line) as { sessionId: string }).sessionId);
}

const cases: { name: string; clusters: string[]; expected: string[] }[] = [
  { name: 'without --cluster every partition is listed', clusters: [], expected: ['s-dev', 's-prod', 's-unrouted'] },
  { name: '--cluster prod lists only the sessions of prod', clusters: ['prod'], expected: ['s-prod'] },
  { name: '--cluster given twice lists both clusters', clusters: ['dev', 'prod'], expected: ['s-dev', 's-prod'] },
  { name: '--cluster _unrouted lists the calls whose path named no configured cluster', clusters: ['_unrouted'], expected: ['s-unrouted'] },
  { name: 'a cluster with no records lists nothing', clusters: ['staging'], expected: [] },
];

for (const from of ['local', 'source'] as const) {
  describe(`gatehouse sessions --cluster, records read from ${from === 'local' ? 'a local state dir' : 'the bucket by s3:// URL'}`, () => {
    for (const c of cases) {
      test(c.name, async () => {
        const result = await gatehouse(from, ['list', '--json', ...c.clusters.flatMap((name) => ['--cluster', name])]);
        assert.equal(result.code, 0, result.stderr);
        assert.deepEqual(listedSessions(result.stdout), c.expected);
      });
    }

    test('replay finds a session only in its own cluster, and says which clusters it searched', async () => {
      const found = await gatehouse(from, ['replay', 's-prod', '--cluster', 'prod', '--no-play']);
      assert.equal(found.code, 0, found.stderr);
      assert.match(found.stdout, /^\$ kubectl delete$/m);
      const missing = await gatehouse(from, ['replay', 's-prod', '--cluster', 'dev', '--cluster', '_unrouted', '--no-play']);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /^gatehouse sessions replay: no records of session "s-prod" for cluster dev, _unrouted in .* since 2025-03-01T00:00:00\.000Z$/m);
    });
  });
}

test('a --cluster that is no cluster name is a usage error naming it', async () => {
  const result = await gatehouse('local', ['list', '--cluster', 'prod/../dev']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /option '--cluster <name>' argument 'prod\/\.\.\/dev' is invalid\. "prod\/\.\.\/dev" is not a cluster name \(letters, digits, "-" and "_", starting with a letter or digit\), nor _unrouted/);
  assert.equal(result.stdout, '');
});
