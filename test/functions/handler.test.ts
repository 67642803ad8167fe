/**
 * The Lambda handler, driven with realistic Function URL 2.0 events through the streaming
 * path (the `awslambda` shim), configured from environment variables as on AWS, in front of
 * the kube-apiserver stand-in (kubeconfig upstream) with a real OIDC issuer on loopback.
 * The same requests also go to the Node runtime over real HTTP, and both must end the same:
 * same status, same body, same request arriving upstream.
 */
import { test, describe, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../src/app.ts';
import { placeholderBase64 } from '../../src/masking/placeholder.ts';
import { createDepsFromConfig } from '../../src/compose.ts';
import { configFromEnv, type Env } from '../../src/config-env.ts';
import { loadDevIssuer } from '../../src/auth/dev-issuer.ts';
import { startNodeServer, type NodeServer } from '../../src/runtime/node-server.ts';
import { createLambdaHandler, streamLimit, type CallObservation, type StreamingHandler } from '../../functions/lambda-handler.ts';
import { createRecordsFromConfig } from '../../src/records/from-config.ts';
import { createS3Records } from '../../src/adapters/s3-records.ts';
import type { SessionRecord } from '../../src/records/schema.ts';
import { startS3Fixture, type S3Fixture } from '../records/support.ts';
import { startFakeApiServer, type FakeApiServer } from '../stand-in/apiserver.ts';
import { installAwsLambdaShim, invoke, STREAMING_MARK, type DecodedResponse } from './awslambda-shim.ts';
import { functionUrlEvent, type RawRequest } from './function-url-event.ts';
import { assertRefusalStatus, lambdaRefusalCases, sameOutcomeCases } from './lambda-cases.ts';
import { startIssuer, type TestIssuer } from './issuer.ts';

installAwsLambdaShim();

const REPO = new URL('../../', import.meta.url).pathname;
const POLICY = join(REPO, 'policy', 'default.yaml');

let api: FakeApiServer;
let idp: TestIssuer;
let env: Env;
let lambda: StreamingHandler;
let node: NodeServer;
let aliceToken: string;
let stateDir: string;

before(async () => {
  // A frozen clock for the cluster: Table cells such as Age must not tick between the two runtimes' calls.
  const frozen = Date.now();
  [api, idp] = await Promise.all([startFakeApiServer({ clock: { now: () => frozen } }), startIssuer()]);
  api.store.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default' }, spec: { containers: [{ name: 'web', image: 'nginx' }] } });
  env = {
    GATEHOUSE_OIDC_ISSUER: idp.issuer,
    GATEHOUSE_OIDC_AUDIENCE: 'gatehouse',
    GATEHOUSE_UPSTREAM: 'kubeconfig',
    GATEHOUSE_KUBECONFIG: api.kubeconfigPath,
    GATEHOUSE_POLICY_FILE: POLICY,
  };
  const config = configFromEnv(env, { runtime: 'lambda', defaultPolicyFile: '/nonexistent/policy.yaml' });
  lambda = createLambdaHandler(createApp(await createDepsFromConfig(config)));
  node = await startNodeServer({ app: createApp(await createDepsFromConfig({ ...config, runtime: 'node' })), host: '127.0.0.1', port: 0 });
  aliceToken = await idp.sign({ sub: 'u-alice', email: 'alice@example.com', groups: ['developers', 'oncall'] });
  stateDir = mkdtempSync(join(tmpdir(), 'gatehouse-lambda-'));
});

after(async () => {
  await Promise.all([api.close(), idp.close(), node.close()]);
  rmSync(stateDir, { recursive: true, force: true });
});

interface Outcome {
  status: number;
  contentType: string;
  body: string;
}

async function viaLambda(request: RawRequest): Promise<Outcome & { decoded: DecodedResponse }> {
  const decoded = await invoke(lambda, functionUrlEvent(request)).done;
  assert.ok(decoded.metadata, 'the response starts with the metadata prelude');
  return { status: decoded.metadata.statusCode, contentType: decoded.metadata.headers['content-type'] ?? '', body: decoded.body.toString('utf8'), decoded };
}

function viaNode(request: RawRequest): Promise<Outcome> {
  const url = new URL(node.url);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string[]> = {};
    for (const [name, value] of request.headers) (headers[name] ??= []).push(value); // repeated lines, as sent
    const req = httpRequest({ host: url.hostname, port: url.port, method: request.method, path: request.target, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(request.body);
  });
}

const bearer = (): [string, string] => ['Authorization', `Bearer ${aliceToken}`];

/** The parts of a stand-in request that must not depend on the runtime. */
function upstreamView(index: number) {
  const r = api.received[index];
  if (r === undefined) return undefined;
  return { method: r.method, path: r.path, query: r.query, user: r.user, groups: r.groups, body: r.body, authorization: r.headers.authorization };
}

/** Status bodies carry no per-request ids; list bodies are compared whole. */
function comparable(outcome: Outcome) {
  return { status: outcome.status, contentType: outcome.contentType.split(';')[0], body: outcome.body };
}

describe('Lambda handler and Node runtime give the same outcome', () => {
  for (const { name, request, status, message } of sameOutcomeCases(bearer)) {
    test(name, async () => {
      const before = api.received.length;
      const fromLambda = await viaLambda(request());
      const lambdaUpstream = api.received.length > before ? upstreamView(api.received.length - 1) : undefined;
      const middle = api.received.length;
      const fromNode = await viaNode(request());
      const nodeUpstream = api.received.length > middle ? upstreamView(api.received.length - 1) : undefined;

      assert.equal(fromLambda.status, status, fromLambda.body);
      assert.deepEqual(comparable(fromLambda), comparable(fromNode));
      assert.deepEqual(lambdaUpstream, nodeUpstream);
      if (status === 200) {
        assert.equal(lambdaUpstream?.user, 'alice@example.com');
        assert.deepEqual(lambdaUpstream?.groups, ['developers', 'oncall']);
      } else {
        const parsed = JSON.parse(fromLambda.body) as { kind: string; code: number; message: string };
        assert.equal(parsed.kind, 'Status');
        assert.equal(parsed.code, status);
        if (message !== undefined) assert.match(parsed.message, message);
      }
    });
  }

  test('creates an object from a base64-encoded body, sending upstream the same bytes', async () => {
    const manifest = (name: string) => Buffer.from(JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { greeting: 'héllo ✓' } }));
    const headers = (): [string, string][] => [bearer(), ['Content-Type', 'application/json'], ['Accept', 'application/json']];
    const fromLambda = await viaLambda({ method: 'POST', target: '/api/v1/namespaces/default/configmaps?fieldManager=kubectl-create', headers: headers(), body: manifest('from-lambda'), base64: true });
    const lambdaUpstream = upstreamView(api.received.length - 1);
    const fromNode = await viaNode({ method: 'POST', target: '/api/v1/namespaces/default/configmaps?fieldManager=kubectl-create', headers: headers(), body: manifest('from-node') });
    const nodeUpstream = upstreamView(api.received.length - 1);
    assert.equal(fromLambda.status, 201, fromLambda.body);
    assert.equal(fromNode.status, 201);
    assert.equal(lambdaUpstream?.body, manifest('from-lambda').toString('utf8'));
    assert.equal(nodeUpstream?.body, manifest('from-node').toString('utf8'));
    assert.equal((JSON.parse(fromLambda.body) as { data: { greeting: string } }).data.greeting, 'héllo ✓');
  });
});

describe('restoring placeholders on Lambda', () => {
  test('a patch carrying a placeholder costs one read of the live object; a patch without one costs none', async () => {
    const value = Buffer.from('correct-horse-battery-staple').toString('base64');
    api.store.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'lambda-db', namespace: 'default' }, type: 'Opaque', data: { password: value } });
    const patch = (password: string): RawRequest => ({
      method: 'PATCH',
      target: '/api/v1/namespaces/default/secrets/lambda-db',
      headers: [bearer(), ['Content-Type', 'application/merge-patch+json'], ['Accept', 'application/json']],
      body: Buffer.from(JSON.stringify({ metadata: { labels: { a: 'b' } }, data: { password } })),
    });
    let from = api.received.length;
    const restored = await viaLambda(patch(placeholderBase64(28)));
    assert.equal(restored.status, 200, restored.body);
    assert.deepEqual(api.received.slice(from).map((r) => r.method), ['GET', 'PATCH']);
    assert.equal(api.store.get('secrets', 'default', 'lambda-db')?.['data']?.['password' as never], value, 'the live value was kept');
    assert.ok(!restored.body.includes(value), 'the answer is masked');
    from = api.received.length;
    const plain = await viaLambda(patch(Buffer.from('rotated').toString('base64')));
    assert.equal(plain.status, 200, plain.body);
    assert.deepEqual(api.received.slice(from).map((r) => r.method), ['PATCH']);
  });
});

describe('several clusters behind one function', () => {
  let second: FakeApiServer;
  let fleet: StreamingHandler;
  before(async () => {
    second = await startFakeApiServer();
    const clusters = [
      { name: 'first', upstream: { kind: 'kubeconfig', kubeconfig: api.kubeconfigPath } },
      { name: 'second', upstream: { kind: 'kubeconfig', kubeconfig: second.kubeconfigPath } },
    ];
    const { GATEHOUSE_UPSTREAM: _kind, GATEHOUSE_KUBECONFIG: _kubeconfig, ...common } = env;
    const config = configFromEnv({ ...common, GATEHOUSE_CLUSTERS: JSON.stringify(clusters), GATEHOUSE_MCP_PUBLIC_URL: 'https://gatehouse.example' }, { runtime: 'lambda', defaultPolicyFile: '/nonexistent/policy.yaml' });
    fleet = createLambdaHandler(createApp(await createDepsFromConfig(config)));
  });
  after(async () => second.close());

  const viaFleet = async (target: string): Promise<{ status: number; body: string }> => {
    const decoded = await invoke(fleet, functionUrlEvent({ method: 'GET', target, headers: [bearer(), ['Accept', 'application/json']] })).done;
    return { status: decoded.metadata?.statusCode ?? 0, body: decoded.body.toString('utf8') };
  };

  test('each cluster answers under its own prefix, which the cluster never sees', async () => {
    const [firstBefore, secondBefore] = [api.received.length, second.received.length];
    const onFirst = await viaFleet('/clusters/first/api/v1/namespaces/default/pods/web');
    assert.equal(onFirst.status, 200, onFirst.body);
    assert.equal(api.received.at(-1)?.path, '/api/v1/namespaces/default/pods/web');
    const onSecond = await viaFleet('/clusters/second/api/v1/namespaces/default/pods/web');
    assert.equal(onSecond.status, 404, onSecond.body);
    assert.equal((JSON.parse(onSecond.body) as { message: string }).message, 'pods "web" not found');
    assert.equal(second.received.at(-1)?.path, '/api/v1/namespaces/default/pods/web');
    assert.deepEqual([api.received.length - firstBefore, second.received.length - secondBefore], [1, 1]);
  });

  test('an MCP tool call at /clusters/<name>/mcp reaches that cluster only, on Lambda', async () => {
    const [firstBefore, secondBefore] = [api.received.length, second.received.length];
    const call = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'get_resource', arguments: { resource: 'pods', namespace: 'default', name: 'web' } } };
    const decoded = await invoke(
      fleet,
      functionUrlEvent({
        method: 'POST',
        target: '/clusters/second/mcp',
        headers: [bearer(), ['Content-Type', 'application/json'], ['Accept', 'application/json, text/event-stream']],
        body: Buffer.from(JSON.stringify(call)),
      }),
    ).done;
    assert.equal(decoded.metadata?.statusCode, 200, decoded.body.toString('utf8'));
    const answer = JSON.parse(decoded.body.toString('utf8')) as { result: { isError?: boolean; content: { text: string }[] } };
    assert.equal(answer.result.isError, true, 'the second cluster has no pod web');
    assert.match(answer.result.content.map((block) => block.text).join('\n'), /pods "web" not found/);
    assert.deepEqual([api.received.length - firstBefore, second.received.length - secondBefore], [0, 1]);
    assert.equal(second.received.at(-1)?.path, '/api/v1/namespaces/default/pods/web');
  });

  const refused = [
    { name: 'a cluster nobody configured', target: '/clusters/third/api', code: 404, message: 'cluster "third" is not one this Gatehouse fronts (request path "/clusters/third/api"); names are matched exactly as configured, never decoded' },
    { name: 'an encoded slash in the cluster segment', target: '/clusters/first%2F..%2Fsecond/api', code: 404, message: 'cluster "first%2F..%2Fsecond" is not one this Gatehouse fronts (request path "/clusters/first%2F..%2Fsecond/api"); names are matched exactly as configured, never decoded' },
    { name: 'a ".." after the cluster segment', target: '/clusters/first/../second/api', code: 400, message: 'request path "/../second/api" has a ".." segment; refused because the API server could read it differently' },
    { name: 'a path at the root', target: '/api/v1/namespaces', code: 404, message: 'request path "/api/v1/namespaces" names no cluster: this Gatehouse fronts several clusters, each under /clusters/<name> (the server of its kubeconfig context)' },
  ];
  for (const { name, target, code, message } of refused) {
    test(`refuses ${name} on Lambda, reaching no cluster`, async () => {
      const [firstBefore, secondBefore] = [api.received.length, second.received.length];
      const outcome = await viaFleet(target);
      const status = JSON.parse(outcome.body) as { kind: string; code: number; message: string };
      assert.deepEqual({ status: outcome.status, kind: status.kind, code: status.code, message: status.message }, { status: code, kind: 'Status', code, message });
      assert.deepEqual([api.received.length - firstBefore, second.received.length - secondBefore], [0, 0]);
    });
  }
});

describe('Lambda-only behaviour', () => {
  const statusOf = (outcome: Outcome) => JSON.parse(outcome.body) as { kind: string; reason: string; code: number; message: string };

  for (const refusal of lambdaRefusalCases(bearer)) {
    test(refusal.name, async () => {
      const before = api.received.length;
      const outcome = await viaLambda(refusal.request());
      assert.equal(outcome.status, refusal.code);
      assert.equal(outcome.contentType, 'application/json');
      assertRefusalStatus(outcome.body, refusal);
      assert.equal(api.received.length, before, 'nothing reached the cluster');
    });
  }

  test('refuses a token from the local development issuer', async () => {
    const dev = await loadDevIssuer(stateDir);
    const token = await dev.mint('mallory@example.com', ['admins']);
    const outcome = await viaLambda({ method: 'GET', target: '/api/v1/pods', headers: [['Authorization', `Bearer ${token}`]] });
    const status = statusOf(outcome);
    assert.equal(outcome.status, 401);
    assert.equal(status.reason, 'Unauthorized');
    // Its key is not in the configured issuer's JWKS (and its issuer is not the configured one).
    assert.match(status.message, /^no key in the issuer's JWKS matches kid "[\w-]+" \(algorithm "ES256"\)$/);
  });

  test('refuses an event that is not a Function URL 2.0 event', async () => {
    const apiGatewayV1 = { version: '1.0', httpMethod: 'GET', path: '/api/v1/pods', headers: {}, body: null, isBase64Encoded: false, requestContext: {} };
    const decoded = await invoke(lambda, apiGatewayV1 as unknown as Parameters<StreamingHandler>[0]).done;
    assert.equal(decoded.metadata?.statusCode, 400);
    assert.equal(statusOf({ status: 400, contentType: '', body: decoded.body.toString('utf8') }).message, 'Gatehouse on Lambda accepts only Function URL events (payload format 2.0)');
  });

  test('runs afterResponse once the response has been written, before the invocation ends', async () => {
    const { Hono } = await import('hono');
    const events: string[] = [];
    const tiny = new Hono().get('*', (c) => c.text('streamed'));
    const handler = createLambdaHandler(tiny, {
      afterResponse: async () => {
        events.push(`afterResponse (response ended: ${invocation.stream.writableEnded})`);
      },
    });
    const invocation = invoke(handler, functionUrlEvent({ method: 'GET', target: '/anything', headers: [] }));
    const response = await invocation.done;
    events.push('invocation done');
    assert.equal(response.body.toString(), 'streamed');
    assert.deepEqual(events, ['afterResponse (response ended: true)', 'invocation done']);
  });

  test('answers its own health path without authentication', async () => {
    const outcome = await viaLambda({ method: 'GET', target: '/_gatehouse/healthz', headers: [] });
    assert.equal(outcome.status, 200);
    assert.equal(outcome.body, 'ok');
  });

  test('streams a watch: events reach the response stream while the upstream stays open', async () => {
    const watchApi = await startFakeApiServer();
    try {
      watchApi.store.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'first', namespace: 'default' }, spec: { containers: [] } });
      const config = configFromEnv({ ...env, GATEHOUSE_KUBECONFIG: watchApi.kubeconfigPath }, { runtime: 'lambda', defaultPolicyFile: POLICY });
      const handler = createLambdaHandler(createApp(await createDepsFromConfig(config)));
      const running = invoke(handler, functionUrlEvent({ method: 'GET', target: '/api/v1/namespaces/default/pods?watch=true', headers: [bearer(), ['Accept', 'application/json']] }));
      let finished = false;
      void running.done.then(() => (finished = true));

      await running.stream.waitFor((body) => body.includes('"name":"first"'));
      assert.equal(finished, false);
      watchApi.store.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'second', namespace: 'default' }, spec: { containers: [] } });
      const body = await running.stream.waitFor((b) => b.includes('"name":"second"'));
      assert.equal(finished, false, 'the response streams; it is not buffered until the end');
      assert.deepEqual(
        body.trim().split('\n').map((line) => (JSON.parse(line) as { type: string; object: { metadata: { name: string } } }).object.metadata.name),
        ['first', 'second'],
      );
      await watchApi.close(); // the cluster ends the watch; the invocation then completes
      const decoded = await running.done;
      assert.equal(decoded.metadata?.statusCode, 200);
    } finally {
      await watchApi.close();
    }
  });
});

describe('calls on Lambda end on time', () => {
  const limitCases: { name: string; remainingMs: number; marginMs: number; maxStreamMs?: number; ms: number; reason: string }[] = [
    {
      name: 'a call ends the margin before the deadline',
      remainingMs: 900_000,
      marginMs: 10_000,
      ms: 890_000,
      reason: "Gatehouse on AWS Lambda ended the call 10s before the function's deadline (900s were left when it started), so its record is written in time; the client may reconnect",
    },
    {
      name: 'the configured longest stream wins when it is shorter',
      remainingMs: 900_000,
      marginMs: 10_000,
      maxStreamMs: 300_000,
      ms: 300_000,
      reason: 'Gatehouse on AWS Lambda ends a call after 300s (the configured longest stream); the client may reconnect',
    },
    {
      name: 'the deadline wins when the longest stream would pass it',
      remainingMs: 120_500,
      marginMs: 10_000,
      maxStreamMs: 300_000,
      ms: 110_500,
      reason: "Gatehouse on AWS Lambda ended the call 10s before the function's deadline (120.5s were left when it started), so its record is written in time; the client may reconnect",
    },
    {
      name: 'an invocation with less time than the margin is ended at once',
      remainingMs: 4_000,
      marginMs: 10_000,
      ms: 0,
      reason: "Gatehouse on AWS Lambda ended the call 10s before the function's deadline (4s were left when it started), so its record is written in time; the client may reconnect",
    },
  ];
  for (const { name, remainingMs, marginMs, maxStreamMs, ms, reason } of limitCases) {
    test(name, () => {
      assert.deepEqual(streamLimit({ getRemainingTimeInMillis: () => remainingMs }, marginMs, maxStreamMs), { ms, reason });
    });
  }

  let s3: S3Fixture;
  let watchApi: FakeApiServer;
  /** How each call ended, as the adapter tells its `observe` (the metrics' source). */
  const observed: CallObservation[] = [];
  beforeEach(() => {
    observed.length = 0;
  });
  /** A handler whose records go to S3 under a prefix of its own. */
  let watchHandler: (marginMs: number, maxStreamMs?: number) => Promise<{ handler: StreamingHandler; prefix: string }>;
  before(async () => {
    [s3, watchApi] = await Promise.all([startS3Fixture(), startFakeApiServer()]);
    watchApi.store.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'first', namespace: 'default' }, spec: { containers: [] } });
    watchHandler = async (marginMs, maxStreamMs) => {
      const config = configFromEnv(
        { ...env, GATEHOUSE_KUBECONFIG: watchApi.kubeconfigPath, GATEHOUSE_RECORDS_BUCKET: s3.bucket, GATEHOUSE_RECORDS_PREFIX: `${crypto.randomUUID()}/` },
        { runtime: 'lambda', defaultPolicyFile: POLICY },
      );
      const records = createRecordsFromConfig(config.records!, { clientConfig: s3.s3.clientConfig });
      const deps = await createDepsFromConfig(config, { records: records.sink, recordSettings: records.settings });
      const options = {
        afterResponse: () => records.sink.flush(),
        deadlineMarginMs: marginMs,
        observe: (call: CallObservation) => observed.push(call),
        ...(maxStreamMs === undefined ? {} : { maxStreamMs }),
      };
      return { handler: createLambdaHandler(createApp(deps), options), prefix: config.records!.prefix };
    };
  });
  after(async () => {
    await Promise.all([s3.close(), watchApi.close()]);
  });

  /** The outcome records written under the handler's prefix, read back from S3. */
  async function outcomes(prefix: string): Promise<SessionRecord[]> {
    const archive = createS3Records({ bucket: s3.bucket, prefix, clientConfig: s3.s3.clientConfig });
    const found: SessionRecord[] = [];
    for await (const r of archive.read({})) if (r.phase === 'outcome') found.push(r);
    return found;
  }

  const watchEvent = () => functionUrlEvent({ method: 'GET', target: '/api/v1/namespaces/default/pods?watch=true', headers: [bearer(), ['Accept', 'application/json']] });

  test('ends a watch cleanly at the time limit and has its record in S3 before the invocation returns', async () => {
    const { handler, prefix } = await watchHandler(1000);
    const running = invoke(handler, watchEvent(), 3000); // 2 s before the margin: time for the first event on a loaded machine
    await running.stream.waitFor((body) => body.includes('"name":"first"'));
    const decoded = await running.done;
    const records = await outcomes(prefix); // read at once: written before the handler returned
    assert.equal(decoded.metadata?.statusCode, 200);
    assert.ok(running.stream.writableFinished, 'the response stream ended normally');
    assert.deepEqual(
      decoded.body.toString('utf8').trim().split('\n').map((line) => (JSON.parse(line) as { type: string }).type),
      ['ADDED'],
      'the body is whole watch events, ended between two',
    );
    assert.equal(records.length, 1);
    assert.equal(records[0]?.stream_end, 'time_limit');
    assert.equal(records[0]?.verb, 'watch');
    assert.equal(records[0]?.status_code, 200);
    assert.equal(watchApi.store.subscribers, 0, 'the upstream watch was closed too');
    assert.deepEqual(observed, [{ statusCode: 200, ended: 'time_limit' }]);
  });

  test('ends a watch at the configured longest stream when that comes first', async () => {
    const { handler, prefix } = await watchHandler(10_000, 2000);
    const running = invoke(handler, watchEvent(), 900_000);
    await running.stream.waitFor((body) => body.includes('"name":"first"'));
    const decoded = await running.done;
    assert.equal(decoded.metadata?.statusCode, 200);
    assert.deepEqual((await outcomes(prefix)).map((r) => r.stream_end), ['time_limit']);
    assert.equal(watchApi.store.subscribers, 0);
  });

  test('tells its observer of a refusal, and of a call that ended completely', async () => {
    const { handler } = await watchHandler(1000);
    await invoke(handler, functionUrlEvent({ method: 'GET', target: '/api/v1/pods', headers: [bearer()], body: Buffer.from('{}') })).done;
    await invoke(handler, functionUrlEvent({ method: 'GET', target: '/api/v1/namespaces/default/pods/first', headers: [bearer()] })).done;
    await invoke(handler, functionUrlEvent({ method: 'GET', target: '/api/v1/namespaces/default/pods/absent', headers: [bearer()] })).done;
    assert.deepEqual(observed, [
      { statusCode: 400, ended: 'refused' },
      { statusCode: 200, ended: 'complete' },
      { statusCode: 404, ended: 'complete' },
    ]);
  });

  test('sends the status and headers of a watch before its first event', async () => {
    const { handler } = await watchHandler(1000, 60_000);
    const running = invoke(
      handler,
      functionUrlEvent({ method: 'GET', target: '/api/v1/namespaces/empty/pods?watch=true', headers: [bearer(), ['Accept', 'application/json']] }),
    );
    const early = await running.stream.waitUntil((d) => d.metadata !== undefined);
    assert.equal(early.metadata?.statusCode, 200);
    assert.equal(early.body.byteLength, 0, 'no event yet');
    running.stream.destroy();
    await running.done;
  });

  test('stops the upstream and records client_gone when the response stream closes under it', async () => {
    const { handler, prefix } = await watchHandler(1000);
    const running = invoke(handler, watchEvent(), 900_000);
    await running.stream.waitFor((body) => body.includes('"name":"first"'));
    running.stream.destroy(); // the runtime's connection to the client is gone
    await running.done;
    assert.deepEqual((await outcomes(prefix)).map((r) => r.stream_end), ['client_gone']);
    assert.equal(watchApi.store.subscribers, 0, 'the upstream watch was closed');
    assert.deepEqual(observed, [{ statusCode: 200, ended: 'client_gone' }]);
  });
});

describe('the entry module (functions/handler.ts)', () => {
  test('builds the app from the environment at import and serves through the streaming runtime', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      const { handler } = (await import('../../functions/handler.ts')) as { handler: StreamingHandler & { [STREAMING_MARK]?: string } };
      assert.equal(handler[STREAMING_MARK], 'response');
      const decoded = await invoke(handler, functionUrlEvent({ method: 'GET', target: '/api/v1/namespaces/default/pods/web', headers: [bearer(), ['Accept', 'application/json']] })).done;
      assert.equal(decoded.metadata?.statusCode, 200);
      assert.equal((JSON.parse(decoded.body.toString('utf8')) as { metadata: { name: string } }).metadata.name, 'web');
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    }
  });
});
