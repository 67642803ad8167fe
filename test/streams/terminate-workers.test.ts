/**
 * An approver's Terminate reaches the session whichever worker of `gatehouse serve --workers 2`
 * serves the approval page: the real command line with a config file (an OIDC issuer on loopback,
 * approvals on dynalite and the SES emulator, records and recordings on s3rver), the real kubectl in a terminal with a
 * shell through it, and the page fetched and posted over a connection the kernel says is held by
 * the worker that does NOT carry the session (test/support/socket-owner.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createApprovalsTable } from '../../src/adapters/dynamodb-approvals.ts';
import { createS3RecordingObjects } from '../../src/adapters/s3-recordings.ts';
import { startLocalDynamoDb, type LocalDynamoDb } from '../../src/local/dynamodb.ts';
import { startLocalMail, type LocalMailServer } from '../../src/local/mail.ts';
import { LOCAL_RECORDS_BUCKET, startLocalS3, type LocalS3 } from '../../src/local/s3.ts';
import { readRecording } from '../../src/recordings/read.ts';
import { GATEHOUSE_BIN } from '../../src/runtime/local.ts';
import { startIssuer, type TestIssuer } from '../functions/issuer.ts';
import { startFakeApiServer, type FakeApiServer } from '../stand-in/apiserver.ts';
import { kubectlBinary } from '../support/harness.ts';
import { DISCOVERY_RULES } from '../support/kubectl-fixtures.ts';
import { socketOwner } from '../support/socket-owner.ts';
import { runInTerminal } from '../support/terminal.ts';
import { streamPod } from './support.ts';

const POLICY = `${DISCOVERY_RULES}  - name: shells-need-review
    effect: review
    resources: [pods/exec]
    shells: true
    reason: "a shell runs anything"
    review: { approvers: [lead@example.com], grant: once }
  - name: reads
    effect: allow
    verbs: [get, list, watch]
    resources: ["*"]
`;

let dir: string;
let api: FakeApiServer;
let db: LocalDynamoDb;
let mail: LocalMailServer;
let s3: LocalS3;
let idp: TestIssuer;
let serve: ChildProcess;
let output = '';
let url = '';
let ca = '';
let pids: number[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-terminate-workers-'));
  api = await startFakeApiServer();
  api.store.put(streamPod('web'));
  db = await startLocalDynamoDb();
  await createApprovalsTable(db.client(), 'approvals');
  mail = await startLocalMail();
  s3 = await startLocalS3({ directory: join(dir, 's3') });
  idp = await startIssuer();
  writeFileSync(join(dir, 'policy.yaml'), POLICY);
  writeFileSync(
    join(dir, 'gatehouse.yaml'),
    stringify({
      oidc: { issuer: idp.issuer, audience: 'gatehouse' },
      upstream: { kind: 'kubeconfig', kubeconfig: api.kubeconfigPath },
      policy: { file: join(dir, 'policy.yaml') },
      approvals: {
        tableName: 'approvals',
        publicUrl: 'https://gatehouse.example.com',
        mailFrom: 'gatehouse@example.com',
        region: 'us-east-1',
        dynamodbEndpoint: db.endpoint,
        sesEndpoint: mail.endpoint,
        signingKeyFile: join(dir, 'approval-link.key'),
      },
      records: { bucket: LOCAL_RECORDS_BUCKET, region: 'us-east-1', endpoint: s3.endpoint, flushIntervalSeconds: 1 },
    }),
  );
  serve = spawn(
    process.execPath,
    [GATEHOUSE_BIN, 'serve', '--config', join(dir, 'gatehouse.yaml'), '--workers', '2', '--port', '0', '--state-dir', join(dir, 'state')],
    // s3rver's own keys, as the S3 SDK reads them (a records endpoint gets no dummy credentials).
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' } },
  );
  await new Promise<void>((resolve, reject) => {
    const read = (chunk: Buffer): void => {
      output += chunk.toString();
      const workers = /workers: 2 processes \(pids (\d+), (\d+)\)/.exec(output);
      if (workers !== null) {
        pids = [Number(workers[1]), Number(workers[2])];
        resolve();
      }
    };
    serve.stdout?.on('data', read);
    serve.stderr?.on('data', read);
    serve.once('exit', () => reject(new Error(`serve exited:\n${output}`)));
  });
  url = /Gatehouse is listening on (https:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1] ?? '';
  ca = readFileSync(join(dir, 'state', 'ca.crt'), 'utf8');
  const token = await idp.sign({ sub: 'u-sam', email: 'sam@example.com', groups: ['developers'] });
  writeFileSync(
    join(dir, 'kubeconfig'),
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'gatehouse', cluster: { server: url, 'certificate-authority-data': Buffer.from(ca).toString('base64') } }],
      users: [{ name: 'sam', user: { token } }],
      contexts: [{ name: 'gatehouse', context: { cluster: 'gatehouse', user: 'sam', namespace: 'default' } }],
      'current-context': 'gatehouse',
    }),
  );
});

after(async () => {
  if (serve !== undefined && serve.exitCode === null) serve.kill('SIGKILL');
  await Promise.all([api?.close(), db?.close(), mail?.close(), s3?.close(), idp?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

function kubectlInTerminal(args: string[]): ReturnType<typeof runInTerminal> {
  const argv = [kubectlBinary('1.33'), '--kubeconfig', join(dir, 'kubeconfig'), '--cache-dir', join(dir, 'home', 'cache'), ...args];
  return runInTerminal(argv, { env: { PATH: process.env['PATH'] ?? '', HOME: join(dir, 'home'), TERM: 'xterm' }, cols: 80, rows: 24 });
}

interface PageReply {
  status: number;
  text: string;
  /** The test's end of the connection the reply came over. */
  localPort: number;
}

/** The approval page at `path` (GET, or POST of `form` as the page's own form does) over `agent`. */
function page(agent: Agent, path: string, form?: Record<string, string>): Promise<PageReply> {
  const body = form === undefined ? '' : new URLSearchParams(form).toString();
  const headers: Record<string, string> = form === undefined ? {} : { origin: url, 'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)) };
  return new Promise((resolve, reject) => {
    const req = httpsRequest(new URL(path, url), { method: form === undefined ? 'GET' : 'POST', ca, agent, headers }, (res) => {
      // Read now: once the reply ended, a keep-alive socket goes back to the agent.
      const localPort = res.socket.localPort ?? 0;
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, localPort }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const formTokenOf = (html: string): string => /name="formToken" value="([^"]+)"/.exec(html)?.[1] ?? '';

async function mailedPath(approvalId: string): Promise<string> {
  const text = (await mail.messages('lead@example.com')).map((m) => m.body.text ?? '').find((t) => t.includes(approvalId)) ?? '';
  const link = /https:\/\/\S+\/_gatehouse\/approvals\/\S+/.exec(text)?.[0];
  assert.ok(link !== undefined, `a mail with the link of approval ${approvalId}`);
  const parsed = new URL(link);
  return parsed.pathname + parsed.search;
}

/** A keep-alive connection (one socket) to Gatehouse that the kernel says `worker` holds; tries fresh connections until one is. */
async function connectionTo(worker: number, path: string): Promise<{ agent: Agent; opened: PageReply }> {
  const gatehousePort = Number(new URL(url).port);
  const seen: (number | undefined)[] = [];
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const opened = await page(agent, path);
    const owner = socketOwner(pids, gatehousePort, opened.localPort);
    if (owner === worker) return { agent, opened };
    seen.push(owner);
    agent.destroy();
  }
  throw new Error(`20 connections, none held by worker ${worker}: ${seen.join(', ')}`);
}

describe('gatehouse serve --workers 2: Terminate', () => {
  test('a Terminate served by the worker not carrying the session ends it; kubectl and the recording say who ended it', async () => {
    const args = ['exec', '-it', 'web', '-c', 'main', '--', 'sh'];
    const asked = await kubectlInTerminal(args).exited;
    const approvalId = /approval ([0-9a-f]+) is pending/.exec(asked.output)?.[1];
    assert.ok(approvalId !== undefined, asked.output);
    const path = await mailedPath(approvalId);
    const decide = new Agent({ keepAlive: false });
    const opened = await page(decide, path);
    assert.equal(opened.status, 200, opened.text);
    const approved = await page(decide, path, { formToken: formTokenOf(opened.text), verdict: 'approve' });
    assert.equal(approved.status, 303, approved.text);

    const terminal = kubectlInTerminal(args);
    await terminal.waitFor('web:/# ');
    terminal.type('echo still here\r');
    await terminal.waitFor('still here\r\n');
    const upstream = api.upgradedPeerPorts();
    assert.equal(upstream.length, 1, 'one session open upstream');
    const carrier = socketOwner(pids, upstream[0] ?? 0, Number(new URL(api.url).port));
    assert.ok(carrier !== undefined, `one of the workers ${pids.join(', ')} carries the session`);
    const other = pids.find((pid) => pid !== carrier) ?? 0;

    const { agent, opened: live } = await connectionTo(other, path);
    try {
      assert.match(live.text, /The session this approval let in is running now\./, 'the other worker counts the session');
      assert.match(live.text, /Terminate session/);
      const ended = await page(agent, path, { formToken: formTokenOf(live.text), verdict: 'terminate' });
      assert.equal(ended.localPort, live.localPort, 'the Terminate went over the same connection, to the worker not carrying the session');
      assert.equal(ended.status, 200, ended.text);
      assert.match(ended.text, /Ended the session this approval let in; its recording says lead@example.com ended it\./);
    } finally {
      agent.destroy();
    }
    const exited = await terminal.exited;
    assert.notEqual(exited.code, 0);
    assert.match(exited.output, /Gatehouse ended the session: terminated by lead@example.com/);

    const objects = createS3RecordingObjects({ bucket: LOCAL_RECORDS_BUCKET, clientConfig: s3.clientConfig });
    const reason = await waitFor(async () => {
      const { keys } = await objects.list('recordings/', { maxKeys: 10 });
      const key = keys[0];
      if (key === undefined) return undefined;
      return (await readRecording(objects, key)).header.gatehouse.end_reason ?? undefined;
    });
    assert.equal(reason, 'terminated by lead@example.com');

    const again = await page(decide, path, { formToken: formTokenOf(live.text), verdict: 'terminate' });
    assert.equal(again.status, 400);
    assert.match(again.text, new RegExp(`no session let in by approval ${approvalId} is running on this Gatehouse`));
    const afterwards = await page(decide, path);
    assert.doesNotMatch(afterwards.text, /Terminate session/, 'nothing left to terminate on any worker');
  });
});

async function waitFor<T>(read: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
