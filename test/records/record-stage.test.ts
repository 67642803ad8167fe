// The record stages in the real app (createApp), served by the real Node runtime, with records
// written through the real S3 SDK into the local S3 stand-in: allowed, denied, unauthenticated,
// review, failed and streamed calls; records of intent before mutating calls; store down.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../src/app.ts';
import { createS3Records } from '../../src/adapters/s3-records.ts';
import { loadDevIssuer } from '../../src/auth/dev-issuer.ts';
import type { DevIssuer } from '../../src/auth/dev-issuer.ts';
import { loadPolicyFile } from '../../src/policy/policy-file.ts';
import { closeUpstreamAgents } from '../../src/pipeline/forward.ts';
import { createRecordSink } from '../../src/records/sink.ts';
import type { SessionRecord } from '../../src/records/schema.ts';
import { COLUMN_NAMES } from '../../src/records/schema.ts';
import type { RecordSink } from '../../src/ports/records.ts';
import { startNodeServer } from '../../src/runtime/node-server.ts';
import type { NodeServer } from '../../src/runtime/node-server.ts';
import { capturedLog, deadPort, startS3Fixture } from './support.ts';
import type { S3Fixture } from './support.ts';

const POLICY = new URL('../../policy/default.yaml', import.meta.url).pathname;
const SECRET_VALUE = 'hunter2-s3cr3t';
const SECRET_B64 = Buffer.from(SECRET_VALUE).toString('base64');

interface Received {
  method: string;
  url: string;
  body: string;
  /** Records of intent already in the store when the upstream got the call. */
  intentsBefore: number;
}

/** A plain HTTP API server stand-in that answers a few paths and notes what reached it. */
class Upstream {
  server: http.Server;
  received: Received[] = [];
  url = '';
  countIntents: () => Promise<number> = async () => 0;
  watchClosed: Promise<void>;
  private markWatchClosed: () => void = () => {};

  constructor() {
    this.watchClosed = new Promise((resolve) => (this.markWatchClosed = resolve));
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = req.url ?? '';
    this.received.push({ method: req.method ?? '', url, body: Buffer.concat(chunks).toString('utf8'), intentsBefore: await this.countIntents() });
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.startsWith('/api/v1/namespaces/default/secrets?watch=true')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      const event = (n: number): string =>
        `${JSON.stringify({ type: 'ADDED', object: { kind: 'Secret', apiVersion: 'v1', metadata: { name: `s${n}`, namespace: 'default' }, data: { password: SECRET_B64 } } })}\n`;
      res.write(event(1));
      res.write(event(2));
      res.on('close', () => this.markWatchClosed());
      return; // stays open until the client goes away
    }
    if (url === '/api/v1/namespaces/default/pods') return json(200, { kind: 'PodList', apiVersion: 'v1', metadata: {}, items: [{ metadata: { name: 'web-1' } }] });
    if (url === '/api/v1/namespaces/default/secrets/db') {
      return json(200, { kind: 'Secret', apiVersion: 'v1', metadata: { name: 'db', namespace: 'default' }, data: { password: SECRET_B64, user: 'YWRtaW4=' } });
    }
    if (url === '/api/v1/namespaces/default/pods/crashing') return json(500, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'etcd timeout', code: 500 });
    if (req.method === 'POST' && url === '/api/v1/namespaces/default/secrets') {
      const created = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      return json(201, created);
    }
    json(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 });
  }
}

interface Gatehouse {
  server: NodeServer;
  sink: RecordSink;
  close(): Promise<void>;
}

async function startGatehouse(sink: RecordSink, upstreamUrl: string, issuer: DevIssuer): Promise<Gatehouse> {
  const app = createApp({
    authenticator: issuer.authenticator,
    policy: loadPolicyFile(POLICY),
    upstream: { connection: async () => ({ server: new URL(upstreamUrl) }) },
    records: sink,
    recordSettings: { maxBodyBytes: 4096, trustForwardedFor: false },
    runtime: 'node',
    upstreamTimeoutSeconds: 5,
  });
  const server = await startNodeServer({ app, host: '127.0.0.1', port: 0 });
  return {
    server,
    sink,
    async close() {
      await server.close();
      await sink.close();
    },
  };
}

async function allRecords(fixture: S3Fixture, prefix: string): Promise<SessionRecord[]> {
  const archive = createS3Records({ bucket: fixture.bucket, prefix, client: fixture.client });
  const out: SessionRecord[] = [];
  for await (const r of archive.read({})) out.push(r);
  return out;
}

describe('record stages in the app', () => {
  let fixture: S3Fixture;
  let upstream: Upstream;
  let issuer: DevIssuer;
  let gatehouse: Gatehouse;
  let stateDir: string;
  let token: string;
  const prefix = 'stage/';

  before(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'gatehouse-record-stage-'));
    fixture = await startS3Fixture();
    upstream = new Upstream();
    await upstream.listen();
    issuer = await loadDevIssuer(stateDir);
    token = await issuer.mint('alice@example.com', ['developers', 'oncall']);
    const store = createS3Records({ bucket: fixture.bucket, prefix, client: fixture.client });
    upstream.countIntents = async () => (await allRecords(fixture, prefix)).filter((r) => r.phase === 'intent').length;
    gatehouse = await startGatehouse(createRecordSink(store, { flushIntervalMs: 60_000 }), upstream.url, issuer);
  });
  after(async () => {
    await gatehouse.close();
    await upstream.close();
    closeUpstreamAgents();
    await fixture.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  async function call(path: string, init: RequestInit & { bearer?: string | null } = {}): Promise<{ response: Response; text: string }> {
    const headers = new Headers(init.headers);
    if (init.bearer !== null) headers.set('authorization', `Bearer ${init.bearer ?? token}`);
    const response = await fetch(`${gatehouse.server.url}${path}`, { ...init, headers });
    return { response, text: await response.text() };
  }

  /** The records of one call, after flushing the sink: [intent?, outcome]. */
  async function recordsOf(requestId: string | null): Promise<SessionRecord[]> {
    assert.ok(requestId, 'the response carries an Audit-Id');
    await gatehouse.sink.flush();
    return (await allRecords(fixture, prefix))
      .filter((r) => r.request_id === requestId)
      .sort((a, b) => (a.phase === 'intent' ? -1 : b.phase === 'intent' ? 1 : 0));
  }

  test('records an allowed read with who, what, the decision and the response', async () => {
    const { response } = await call('/api/v1/namespaces/default/pods', {
      headers: { 'kubectl-session': 'sess-1', 'kubectl-command': 'kubectl get', 'user-agent': 'kubectl/v1.32.0', 'x-forwarded-for': '203.0.113.9' },
    });
    assert.equal(response.status, 200);
    const [outcome, ...rest] = await recordsOf(response.headers.get('audit-id'));
    assert.equal(rest.length, 0, 'a read has no record of intent');
    assert.ok(outcome);
    assert.deepEqual(Object.keys(outcome), [...COLUMN_NAMES], 'every column, in schema order');
    const expected: Partial<SessionRecord> = {
      schema_version: 1,
      phase: 'outcome',
      kubectl_session: 'sess-1',
      kubectl_command: 'kubectl get',
      user_name: 'alice@example.com',
      user_groups: ['developers', 'oncall'],
      source_ip: '127.0.0.1',
      forwarded_for: '203.0.113.9',
      user_agent: 'kubectl/v1.32.0',
      runtime: 'node',
      method: 'GET',
      path: '/api/v1/namespaces/default/pods',
      query: null,
      is_resource_request: true,
      verb: 'list',
      api_group: '',
      api_version: 'v1',
      resource: 'pods',
      subresource: '',
      namespace: 'default',
      object_name: '',
      decision: 'allow',
      policy_rule: 'read-everything',
      unmasked_grant: false,
      approval_id: null,
      status_code: 200,
      upstream_status: 200,
      error_code: null,
      error_message: null,
      request_body: null,
      request_body_bytes: 0,
      response_content_type: 'application/json',
      response_body: JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: {}, items: [{ metadata: { name: 'web-1' } }] }),
      response_body_truncated: false,
      masked: false,
      stream_end: 'complete',
    };
    for (const [key, value] of Object.entries(expected)) assert.deepEqual(outcome[key as keyof SessionRecord], value, key);
    assert.equal(typeof outcome.latency_ms, 'number');
  });

  test('records a read of a Secret as the masked answer that was sent, cut to size', async () => {
    const { response, text } = await call('/api/v1/namespaces/default/secrets/db');
    assert.equal(response.status, 200);
    assert.ok(!text.includes(SECRET_B64), 'the caller got the Secret masked');
    const [outcome] = await recordsOf(response.headers.get('audit-id'));
    assert.ok(outcome);
    assert.equal(outcome.response_body, text, 'the record holds what was sent');
    assert.equal(outcome.response_body_bytes, Buffer.byteLength(text));
    assert.equal(outcome.response_body_truncated, false);
    assert.equal(outcome.masked, true);
    assert.equal(outcome.stream_end, 'complete');
    assert.ok(!JSON.stringify(outcome).includes(SECRET_B64) && !JSON.stringify(outcome).includes(SECRET_VALUE), 'no Secret value in the record');
  });

  test('records a denied call with the rule and the error, and forwards nothing', async () => {
    const before = upstream.received.length;
    const { response, text } = await call('/api/v1/namespaces/kube-system/secrets/admin-token');
    assert.equal(response.status, 403);
    const status = JSON.parse(text) as { message: string };
    const [outcome] = await recordsOf(response.headers.get('audit-id'));
    assert.ok(outcome);
    assert.equal(upstream.received.length, before);
    assert.equal(outcome.decision, 'deny');
    assert.equal(outcome.policy_rule, 'no-system-secrets');
    assert.equal(outcome.error_code, 'ERR_POLICY_DENIED');
    assert.equal(outcome.error_message, status.message);
    assert.equal(outcome.status_code, 403);
    assert.equal(outcome.upstream_status, null);
    assert.equal(outcome.object_name, 'admin-token');
  });

  test('records an unauthenticated call with what it targeted', async () => {
    const { response } = await call('/api/v1/namespaces/default/secrets/db', { bearer: null });
    assert.equal(response.status, 401);
    const [outcome] = await recordsOf(response.headers.get('audit-id'));
    assert.ok(outcome);
    assert.equal(outcome.user_name, null);
    assert.equal(outcome.user_groups, null);
    assert.equal(outcome.error_code, 'ERR_TOKEN_MISSING');
    assert.equal(outcome.verb, 'get');
    assert.equal(outcome.resource, 'secrets');
    assert.equal(outcome.decision, null);
  });

  test('records a call held for review with its decision', async () => {
    const { response } = await call('/api/v1/namespaces/team-a', { method: 'DELETE' });
    assert.equal(response.status, 403);
    const records = await recordsOf(response.headers.get('audit-id'));
    const outcome = records.find((r) => r.phase === 'outcome');
    assert.ok(outcome);
    assert.equal(outcome.decision, 'review');
    assert.equal(outcome.policy_rule, 'namespace-deletes-need-approval');
    assert.equal(outcome.error_code, 'ERR_APPROVAL_REQUIRED');
  });

  test('records an upstream failure with the upstream status and its Status body', async () => {
    const { response } = await call('/api/v1/namespaces/default/pods/crashing');
    assert.equal(response.status, 500);
    const [outcome] = await recordsOf(response.headers.get('audit-id'));
    assert.ok(outcome);
    assert.equal(outcome.upstream_status, 500);
    assert.equal(outcome.status_code, 500);
    assert.equal(outcome.error_code, null);
    assert.match(outcome.response_body ?? '', /etcd timeout/);
  });

  test('makes the record of intent durable before a create reaches the upstream, then records the outcome, masked', async () => {
    const body = JSON.stringify({ kind: 'Secret', apiVersion: 'v1', metadata: { name: 'db', namespace: 'default' }, data: { password: SECRET_B64 } });
    const { response } = await call('/api/v1/namespaces/default/secrets', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'kubectl-command': 'kubectl create' },
    });
    assert.equal(response.status, 201);
    const received = upstream.received.at(-1);
    assert.equal(received?.method, 'POST');
    assert.equal(received?.body, body, 'the upstream got the body unchanged');
    assert.ok((received?.intentsBefore ?? 0) >= 1, 'the intent was in the store when the upstream got the call');
    const [intent, outcome] = await recordsOf(response.headers.get('audit-id'));
    assert.ok(intent && outcome);
    assert.equal(intent.phase, 'intent');
    assert.equal(intent.verb, 'create');
    assert.equal(intent.decision, 'allow');
    assert.equal(intent.policy_rule, 'ordinary-writes');
    assert.equal(intent.status_code, null);
    assert.equal(intent.finished_at, null);
    assert.equal(intent.request_body_bytes, Buffer.byteLength(body));
    assert.equal(outcome.phase, 'outcome');
    assert.equal(outcome.status_code, 201);
    assert.equal(outcome.kubectl_command, 'kubectl create');
    for (const r of [intent, outcome]) {
      const text = JSON.stringify(r);
      assert.ok(!text.includes(SECRET_VALUE) && !text.includes(SECRET_B64), `no Secret value in the ${r.phase} record`);
      assert.equal(r.masked, true);
      assert.equal(r.request_body_truncated, false);
      const recorded = JSON.parse(r.request_body ?? 'null') as { metadata: { name: string }; data: Record<string, string> };
      assert.equal(recorded.metadata.name, 'db', 'the recorded body keeps what is not secret');
      assert.deepEqual(Object.keys(recorded.data), ['password'], 'and the keys of the Secret');
    }
  });

  test('writes the record of a watch when the client goes away, with the start of the stream, masked', async () => {
    const controller = new AbortController();
    const response = await fetch(`${gatehouse.server.url}/api/v1/namespaces/default/secrets?watch=true`, {
      headers: { authorization: `Bearer ${token}` },
      signal: controller.signal,
    });
    assert.equal(response.status, 200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let seen = '';
    while (seen.split('\n').length < 3) {
      const { value } = await reader.read();
      seen += Buffer.from(value ?? new Uint8Array()).toString('utf8');
    }
    controller.abort();
    await upstream.watchClosed;
    const requestId = response.headers.get('audit-id');
    let outcome: SessionRecord | undefined;
    // The record is written once the runtime has cancelled the body; wait for that, not for time.
    while (outcome === undefined) {
      [outcome] = await recordsOf(requestId);
      if (outcome === undefined) await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(outcome.verb, 'watch');
    assert.equal(outcome.stream_end, 'client_gone');
    assert.ok((outcome.response_body_bytes ?? 0) > 0);
    const text = JSON.stringify(outcome);
    assert.ok(!text.includes(SECRET_B64), 'no Secret value in the watch record');
  });
});

describe('record stages when the record store is down', () => {
  let upstream: Upstream;
  let gatehouse: Gatehouse;
  let stateDir: string;
  let token: string;
  const logged = capturedLog();

  before(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'gatehouse-record-down-'));
    upstream = new Upstream();
    await upstream.listen();
    const issuer = await loadDevIssuer(stateDir);
    token = await issuer.mint('bob@example.com', ['developers']);
    const port = await deadPort();
    const store = createS3Records({
      bucket: 'gatehouse-records',
      clientConfig: { endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } },
    });
    gatehouse = await startGatehouse(createRecordSink(store, { flushIntervalMs: 60_000, log: logged.log }), upstream.url, issuer);
  });
  after(async () => {
    await gatehouse.close();
    await upstream.close();
    closeUpstreamAgents();
    rmSync(stateDir, { recursive: true, force: true });
  });

  test('keeps serving reads and logs that records are not written', async () => {
    const response = await fetch(`${gatehouse.server.url}/api/v1/namespaces/default/pods`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 200);
    assert.match(await response.text(), /web-1/);
    await gatehouse.sink.flush();
    const failure = logged.lines.find((line) => line['event'] === 'records_flush_failed');
    assert.ok(failure, 'the failed write is logged');
    assert.match(String(failure['message']), /^session records could not be written to s3:\/\/gatehouse-records\/records\/: .*still serving reads, 1 records buffered for retry/);
  });

  test('refuses a mutating call with 503 and forwards nothing', async () => {
    const before = upstream.received.length;
    const response = await fetch(`${gatehouse.server.url}/api/v1/namespaces/default/secrets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'Secret', apiVersion: 'v1', metadata: { name: 'x' }, data: { a: SECRET_B64 } }),
    });
    assert.equal(response.status, 503);
    const status = (await response.json()) as { reason: string; message: string; code: number };
    assert.equal(status.reason, 'ServiceUnavailable');
    assert.equal(status.code, 503);
    assert.match(
      status.message,
      /^user "bob@example\.com" may not create secrets in namespace "default" right now: its record of intent could not be written, and no change goes unrecorded \(session record store s3:\/\/gatehouse-records\/records\/ is unavailable \(.*\)\); nothing was forwarded, retry later$/,
    );
    assert.equal(upstream.received.length, before, 'the upstream received nothing');
  });

  test('refuses an exec (a GET that opens a shell) with 503 too', async () => {
    const before = upstream.received.length;
    const response = await fetch(`${gatehouse.server.url}/api/v1/namespaces/default/pods/web-1/exec?command=sh&stdin=true`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(response.status, 503);
    assert.equal(upstream.received.length, before);
  });
});

describe('source IP in records', () => {
  let fixture: S3Fixture;
  let stateDir: string;
  let issuer: DevIssuer;
  before(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'gatehouse-record-ip-'));
    fixture = await startS3Fixture();
    issuer = await loadDevIssuer(stateDir);
  });
  after(async () => {
    await fixture.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const cases: { name: string; runtime: 'node' | 'lambda'; trust: boolean; env: unknown; expected: string | null }[] = [
    {
      name: 'takes the Function URL view of the caller on Lambda, not X-Forwarded-For',
      runtime: 'lambda',
      trust: false,
      env: { event: { rawPath: '/api/v1/pods', rawQueryString: '', requestContext: { http: { method: 'GET', sourceIp: '198.51.100.7' } } } },
      expected: '198.51.100.7',
    },
    {
      name: 'takes the last X-Forwarded-For entry only when configured to trust it',
      runtime: 'lambda',
      trust: true,
      env: { event: { rawPath: '/api/v1/pods', rawQueryString: '', requestContext: { http: { method: 'GET', sourceIp: '198.51.100.7' } } } },
      expected: '192.0.2.44',
    },
    { name: 'records no address when the runtime gives none', runtime: 'node', trust: false, env: {}, expected: null },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const prefix = `ip-${crypto.randomUUID()}/`;
      const sink = createRecordSink(createS3Records({ bucket: fixture.bucket, prefix, client: fixture.client }), { flushIntervalMs: 60_000 });
      const app = createApp({
        authenticator: issuer.authenticator,
        policy: loadPolicyFile(POLICY),
        upstream: { connection: async () => ({ server: new URL('http://127.0.0.1:1') }) },
        records: sink,
        recordSettings: { maxBodyBytes: 1024, trustForwardedFor: c.trust },
        runtime: c.runtime,
        upstreamTimeoutSeconds: 5,
      });
      const response = await app.request('/api/v1/pods', { headers: { 'x-forwarded-for': '203.0.113.1, 192.0.2.44' } }, c.env);
      assert.equal(response.status, 401);
      await response.arrayBuffer();
      await sink.close();
      const [recorded] = await allRecords(fixture, prefix);
      assert.equal(recorded?.source_ip, c.expected);
      assert.equal(recorded?.forwarded_for, '203.0.113.1, 192.0.2.44');
      assert.equal(recorded?.runtime, c.runtime);
    });
  }
});
