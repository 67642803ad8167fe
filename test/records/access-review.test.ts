// An access review over records Gatehouse wrote: a month of calls (a frozen clock in March
// 2025) run through the real app — reads, a Secret read, a create, denials, a 401, a call held
// for approval then approved through the real approvals service — land in the local S3
// stand-in. Then the DOCUMENTED queries (src/records/queries.ts, the same text as in
// docs/records.md) run with DuckDB over the gzip JSON Lines objects, and `gatehouse sessions`
// lists and replays the sessions from the same state dir.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { createApp } from '../../src/app.ts';
import type { GatehouseDeps } from '../../src/app.ts';
import { createS3Records, recordsClientConfig } from '../../src/adapters/s3-records.ts';
import { loadDevIssuer } from '../../src/auth/dev-issuer.ts';
import type { DevIssuer } from '../../src/auth/dev-issuer.ts';
import { startLocalApprovals } from '../../src/local/approvals.ts';
import type { LocalApprovals } from '../../src/local/approvals.ts';
import { LOCAL_RECORDS_BUCKET, localRecordsDirectory, startLocalS3 } from '../../src/local/s3.ts';
import type { LocalS3 } from '../../src/local/s3.ts';
import { loadPolicyFile } from '../../src/policy/policy-file.ts';
import { closeUpstreamAgents } from '../../src/pipeline/forward.ts';
import { GENERATED_DOC_PATHS, withGeneratedSection } from '../../src/records/docs.ts';
import { ACCESS_REVIEW_QUERIES, RECORDS_DATABASE, RECORDS_TABLE } from '../../src/records/queries.ts';
import { JSON_COLUMNS } from '../../src/records/schema.ts';
import type { ColumnType } from '../../src/records/schema.ts';
import { createRecordSink } from '../../src/records/sink.ts';
import { startNodeServer } from '../../src/runtime/node-server.ts';
import type { NodeServer } from '../../src/runtime/node-server.ts';
import type { RecordSink } from '../../src/ports/records.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const POLICY = join(ROOT, 'policy/default.yaml');
const SECRET_B64 = Buffer.from('payments-db-password').toString('base64');
const T0 = Date.parse('2025-03-10T09:00:00.000Z');

/** An API server stand-in answering the few calls of the scenario. */
async function startUpstream(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const json = (status: number, body: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const url = req.url ?? '';
      if (url === '/api/v1/namespaces/payments/pods') return json(200, { kind: 'PodList', apiVersion: 'v1', metadata: {}, items: [{ metadata: { name: 'api-1' } }, { metadata: { name: 'api-2' } }] });
      if (url === '/api/v1/namespaces/payments/secrets/db') {
        return json(200, { kind: 'Secret', apiVersion: 'v1', metadata: { name: 'db', namespace: 'payments' }, data: { password: SECRET_B64 } });
      }
      if (req.method === 'POST') return json(201, JSON.parse(Buffer.concat(chunks).toString('utf8')));
      if (req.method === 'DELETE' && url === '/api/v1/namespaces/payments') {
        return json(200, { kind: 'Namespace', apiVersion: 'v1', metadata: { name: 'payments' }, status: { phase: 'Terminating' } });
      }
      json(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A clock in March 2025 that moves one second per reading, so calls have distinct, ordered times. */
function marchClock(): { now(): number } {
  let ticks = 0;
  return { now: () => T0 + 1000 * ticks++ };
}

const DUCKDB_TYPES: Record<ColumnType, string> = { string: 'VARCHAR', int: 'INTEGER', bigint: 'BIGINT', boolean: 'BOOLEAN', 'array<string>': 'VARCHAR[]' };

describe('access review over records Gatehouse wrote', () => {
  let stateDir: string;
  let downloads: string;
  let s3: LocalS3;
  let client: S3Client;
  let upstream: { url: string; close(): Promise<void> };
  let issuer: DevIssuer;
  let approvals: LocalApprovals;
  let server: NodeServer;
  let sink: RecordSink;
  let db: DuckDBInstance;

  async function as(user: string | null, groups: string[], method: string, path: string, session: string, command: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { 'kubectl-session': session, 'kubectl-command': command, 'user-agent': 'kubectl/v1.32.0 (linux/amd64)' };
    if (user !== null) headers['authorization'] = `Bearer ${await issuer.mint(user, groups)}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${server.url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    await response.arrayBuffer();
    return response;
  }

  function deps(records: RecordSink, clock: { now(): number }): GatehouseDeps {
    return {
      authenticator: issuer.authenticator,
      policy: loadPolicyFile(POLICY),
      upstream: { connection: async () => ({ server: new URL(upstream.url) }) },
      approvals: approvals.approvals,
      records,
      recordSettings: { maxBodyBytes: 2048, trustForwardedFor: false },
      clock,
      runtime: 'node',
      upstreamTimeoutSeconds: 5,
    };
  }

  before(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'gatehouse-access-review-'));
    downloads = join(stateDir, 'downloaded');
    s3 = await startLocalS3({ directory: localRecordsDirectory(stateDir) });
    client = new S3Client(recordsClientConfig(s3.clientConfig));
    upstream = await startUpstream();
    issuer = await loadDevIssuer(stateDir);
    approvals = await startLocalApprovals({ stateDir, host: '127.0.0.1', publicUrl: () => server.url, inMemory: true });
    const clock = marchClock();
    sink = createRecordSink(createS3Records({ bucket: LOCAL_RECORDS_BUCKET, client, clock }), { flushIntervalMs: 60_000 });
    server = await startNodeServer({ app: createApp(deps(sink, clock)), host: '127.0.0.1', port: 0 });

    // ── the month's calls ──
    assert.equal((await as('alice@example.com', ['developers'], 'GET', '/api/v1/namespaces/payments/pods', 's-alice-1', 'kubectl get')).status, 200);
    assert.equal((await as('alice@example.com', ['developers'], 'GET', '/api/v1/namespaces/payments/secrets/db', 's-alice-2', 'kubectl get')).status, 200);
    const secret = { kind: 'Secret', apiVersion: 'v1', metadata: { name: 'api-key', namespace: 'payments' }, data: { key: SECRET_B64 } };
    assert.equal((await as('alice@example.com', ['developers'], 'POST', '/api/v1/namespaces/payments/secrets', 's-alice-3', 'kubectl create', secret)).status, 201);
    assert.equal((await as('carol@example.com', ['developers'], 'GET', '/api/v1/namespaces/kube-system/secrets', 's-carol-1', 'kubectl get')).status, 403);
    assert.equal((await as(null, [], 'GET', '/api/v1/namespaces/payments/pods', 's-dave-1', 'kubectl get')).status, 401);

    // bob deletes the namespace: held for approval, approved by the platform lead, retried.
    assert.equal((await as('bob@example.com', ['ops'], 'DELETE', '/api/v1/namespaces/payments', 's-bob-1', 'kubectl delete')).status, 403);
    const mail = (await approvals.mail.messages('platform-leads@example.com')).at(-1);
    const link = /https?:\/\/\S+\/_gatehouse\/approvals\/([^?\s]+)\?t=([\w.-]+)/.exec(mail?.body.text ?? mail?.body.html ?? '');
    assert.ok(link, 'the approver was mailed a link');
    const opened = await approvals.approvals.open(decodeURIComponent(link[1] as string), link[2] as string);
    await approvals.approvals.decide({ approvalId: opened.approval.id, linkToken: link[2] as string, formToken: opened.formToken, verdict: 'approve', comment: '' });
    assert.equal((await as('bob@example.com', ['ops'], 'DELETE', '/api/v1/namespaces/payments', 's-bob-2', 'kubectl delete')).status, 200);
    await sink.flush();

    // A Gatehouse that dies after a create was forwarded: its intent is durable, its outcome was still buffered.
    const doomedSink = createRecordSink(createS3Records({ bucket: LOCAL_RECORDS_BUCKET, client }), { flushIntervalMs: 60_000 });
    const doomed = await startNodeServer({ app: createApp(deps(doomedSink, { now: () => T0 + 3_600_000 })), host: '127.0.0.1', port: 0 });
    const cm = { kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'flags', namespace: 'payments' }, data: { a: '1' } };
    const lost = await fetch(`${doomed.url}/api/v1/namespaces/payments/configmaps`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await issuer.mint('alice@example.com', ['developers'])}`, 'content-type': 'application/json', 'kubectl-session': 's-alice-4', 'kubectl-command': 'kubectl create' },
      body: JSON.stringify(cm),
    });
    assert.equal(lost.status, 201);
    await lost.arrayBuffer();
    await doomed.close(); // …and its buffered outcome is never flushed.

    // Download the objects as Athena would read them: the same keys under one folder.
    const page = await client.send(new ListObjectsV2Command({ Bucket: LOCAL_RECORDS_BUCKET, Prefix: 'records/' }));
    for (const object of page.Contents ?? []) {
      const got = await client.send(new GetObjectCommand({ Bucket: LOCAL_RECORDS_BUCKET, Key: object.Key }));
      const file = join(downloads, object.Key as string);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
    }
    db = await DuckDBInstance.create(':memory:');
    const connection = await db.connect();
    // As in the Glue table: a partition column comes from its folder (`cluster=…/`), not from the JSON.
    const columns = JSON_COLUMNS.map((column) => `${column.name}: '${DUCKDB_TYPES[column.type]}'`).join(', ');
    await connection.run(`CREATE SCHEMA ${RECORDS_DATABASE}`);
    await connection.run(
      `CREATE VIEW ${RECORDS_DATABASE}.${RECORDS_TABLE} AS SELECT * FROM read_json('${join(downloads, 'records')}/*/*/*.jsonl.gz', format = 'newline_delimited', compression = 'gzip', hive_partitioning = true, hive_types = {cluster: 'VARCHAR', dt: 'VARCHAR'}, columns = {${columns}})`,
    );
    connection.closeSync();
  });

  after(async () => {
    db?.closeSync();
    await server?.close();
    await sink?.close();
    await approvals?.close();
    await upstream?.close();
    closeUpstreamAgents();
    client?.destroy();
    await s3?.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  async function runQuery(id: string): Promise<Record<string, unknown>[]> {
    const query = ACCESS_REVIEW_QUERIES.find((q) => q.id === id);
    assert.ok(query, `query ${id} exists`);
    const connection = await db.connect();
    try {
      return (await connection.runAndReadAll(query.sql)).getRowObjectsJson() as Record<string, unknown>[];
    } finally {
      connection.closeSync();
    }
  }

  const pick = (rows: Record<string, unknown>[], ...keys: string[]): unknown[][] => rows.map((row) => keys.map((key) => row[key]));

  test('who ran what in a namespace', async () => {
    const rows = await runQuery('who-ran-what-in-a-namespace');
    assert.deepEqual(pick(rows, 'cluster', 'user_name', 'kubectl_command', 'verb', 'resource', 'object_name', 'decision', 'status_code'), [
      ['default', 'alice@example.com', 'kubectl get', 'list', 'pods', '', 'allow', 200],
      ['default', 'alice@example.com', 'kubectl get', 'get', 'secrets', 'db', 'allow', 200],
      ['default', 'alice@example.com', 'kubectl create', 'create', 'secrets', '', 'allow', 201],
      ['default', null, 'kubectl get', 'list', 'pods', '', null, 401],
      ['default', 'bob@example.com', 'kubectl delete', 'delete', 'namespaces', 'payments', 'review', 403],
      ['default', 'bob@example.com', 'kubectl delete', 'delete', 'namespaces', 'payments', 'review', 200],
    ]);
  });

  test('every approved call, with its approver', async () => {
    const rows = await runQuery('approved-calls');
    assert.deepEqual(pick(rows, 'user_name', 'verb', 'resource', 'object_name', 'policy_rule', 'approver', 'status_code'), [
      ['bob@example.com', 'delete', 'namespaces', 'payments', 'namespace-deletes-need-approval', 'platform-leads@example.com', 200],
    ]);
    assert.match(String(rows[0]?.['approval_id']), /\S/);
  });

  test('every denied call', async () => {
    const rows = await runQuery('denied-calls');
    assert.deepEqual(pick(rows, 'user_name', 'verb', 'resource', 'namespace', 'decision', 'policy_rule', 'status_code', 'error_code'), [
      ['carol@example.com', 'list', 'secrets', 'kube-system', 'deny', 'no-system-secrets', 403, 'ERR_POLICY_DENIED'],
      [null, 'list', 'pods', 'payments', null, null, 401, 'ERR_TOKEN_MISSING'],
      ['bob@example.com', 'delete', 'namespaces', 'payments', 'review', 'namespace-deletes-need-approval', 403, 'ERR_APPROVAL_REQUIRED'],
    ]);
  });

  test('all Secret reads', async () => {
    const rows = await runQuery('secret-reads');
    assert.deepEqual(pick(rows, 'user_name', 'verb', 'namespace', 'object_name', 'decision', 'status_code', 'unmasked_grant'), [
      ['alice@example.com', 'get', 'payments', 'db', 'allow', 200, false],
      ['carol@example.com', 'list', 'kube-system', '', 'deny', 403, false],
    ]);
  });

  test('changes that started but have no outcome', async () => {
    const rows = await runQuery('changes-without-outcome');
    assert.deepEqual(pick(rows, 'user_name', 'verb', 'resource', 'namespace'), [['alice@example.com', 'create', 'configmaps', 'payments']]);
  });

  test('no Secret value in any record object', () => {
    const page = readAllObjects(join(downloads, 'records'));
    assert.ok(page.length > 0);
    for (const file of page) {
      const text = gunzipSync(readFileSync(file)).toString('utf8');
      assert.ok(!text.includes(SECRET_B64) && !text.includes('payments-db-password'), `${file} carries no Secret value`);
    }
  });

  for (const path of GENERATED_DOC_PATHS) {
    test(`${relative(process.cwd(), path)} shows exactly the schema and queries the code has`, () => {
      const doc = readFileSync(path, 'utf8');
      assert.equal(doc, withGeneratedSection(doc), `${path} is stale: run \`npx tsx src/records/docs.ts --write\``);
    });
  }

  test('gatehouse sessions list shows each kubectl session of the local records', () => {
    const result = gatehouse(['sessions', 'list', '--local', stateDir, '--since', '2025-03-01', '--until', '2025-03-31', '--namespace', 'payments']);
    assert.equal(result.status, 0, result.stderr);
    const lines = result.stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /^SESSION\s+USER\s+FIRST CALL \(UTC\)\s+CALLS\s+CHANGES\s+REFUSED\s+COMMANDS\s+NAMESPACES$/);
    assert.deepEqual(
      lines.slice(1).map((line) => line.split(/\s{2,}/).slice(0, 2)),
      [
        ['s-alice-1', 'alice@example.com'],
        ['s-alice-2', 'alice@example.com'],
        ['s-alice-3', 'alice@example.com'],
        ['s-dave-1', '-'],
        ['s-bob-1', 'bob@example.com'],
        ['s-bob-2', 'bob@example.com'],
        ['s-alice-4', 'alice@example.com'],
      ],
    );
  });

  test('gatehouse sessions replay shows the commands in order with decisions and masked responses', () => {
    const result = gatehouse(['sessions', 'replay', 's-bob-2', '--local', stateDir]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^session s-bob-2: bob@example\.com \(ops\) from 127\.0\.0\.1, 1 calls, 2025-03-10T/);
    assert.match(result.stdout, /\n\$ kubectl delete\n {2}\d\d:\d\d:\d\d\.\d{3} {2}bob@example\.com {2}delete namespaces payments -n payments\n/);
    assert.match(result.stdout, /decision: review \(namespace-deletes-need-approval\) → approved by platform-leads@example\.com, grant used \[approval \S+\]\n/);
    assert.match(result.stdout, /response: 200 Namespace payments\n/);

    const secretRead = gatehouse(['sessions', 'replay', 's-alice-2', '--local', stateDir, '--bodies']);
    assert.equal(secretRead.status, 0, secretRead.stderr);
    assert.match(secretRead.stdout, /decision: allow \(read-everything\)/);
    assert.ok(!secretRead.stdout.includes(SECRET_B64), 'the replay shows no Secret value');

    const unknown = gatehouse(['sessions', 'replay', 'no-such-session', '--local', stateDir]);
    assert.equal(unknown.status, 1);
    assert.equal(unknown.stderr, `gatehouse sessions replay: no records of session "no-such-session" in the local records of ${stateDir}\n`);
  });
});

function gatehouse(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [join(ROOT, 'bin/gatehouse.mjs'), ...args], { encoding: 'utf8', cwd: ROOT, timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr.replace(/^\(node:\d+\) Warning: NodeVersionSupportWarning[\s\S]*?--trace-warnings[^\n]*\n/, '') };
}

function readAllObjects(directory: string): string[] {
  return readdirSync(directory, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.jsonl.gz'))
    .map((entry) => join(entry.parentPath, entry.name));
}
