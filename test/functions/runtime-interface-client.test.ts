/**
 * The Lambda function as AWS runs it: the bundle that ships (infra/lambda-bundle.ts, with
 * its policy.json beside it) loaded by the real runtime interface client — `aws-lambda-ric`
 * from npm, the client the Node.js runtime images are built on, with its native Runtime API
 * client — in a child process, talking to a loopback Runtime API (runtime-api.ts) that
 * answers as Lambda's does, response streaming included. Configured from the environment as
 * the stack configures it, in front of the kube-apiserver stand-in, a loopback OIDC issuer
 * and S3 (s3rver) for records.
 *
 * The same request tables as the shim-driven tests (lambda-cases.ts) run here, so what the
 * shim accepts and the runtime does not (a response without its prelude) fails a test.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { build } from 'esbuild';
import { parse as parseYaml } from 'yaml';
import { LAMBDA_ENTRY, LAMBDA_ESBUILD, POLICY_JSON_NAME, writePolicyJson } from '../../infra/lambda-bundle.ts';
import { createS3Records } from '../../src/adapters/s3-records.ts';
import type { SessionRecord } from '../../src/records/schema.ts';
import { startFakeApiServer, type FakeApiServer } from '../stand-in/apiserver.ts';
import { startS3Fixture, type S3Fixture } from '../records/support.ts';
import { functionUrlEvent, type RawRequest } from './function-url-event.ts';
import { assertRefusalStatus, lambdaRefusalCases, sameOutcomeCases } from './lambda-cases.ts';
import { startIssuer, type TestIssuer } from './issuer.ts';
import { startRuntimeApi, type InvocationResult, type RuntimeApi } from './runtime-api.ts';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const REPO = new URL('../../', import.meta.url).pathname;
const RIC = join(REPO, 'node_modules', 'aws-lambda-ric', 'index.mjs');
/** The margin the function is configured with: calls end this long before the deadline. */
const MARGIN_SECONDS = 1;

interface Runtime {
  api: RuntimeApi;
  child: ChildProcess;
  output: () => string;
  /** Rejects with the runtime's output if it exits (a crash must fail the test, not hang it). */
  alive<T>(pending: Promise<T>): Promise<T>;
  stop(): Promise<void>;
}

/** Starts the runtime interface client on the bundle, as Lambda starts it: `_HANDLER`, `LAMBDA_TASK_ROOT`, `AWS_LAMBDA_RUNTIME_API`. */
async function startRuntime(taskRoot: string, env: Record<string, string>): Promise<Runtime> {
  const api = await startRuntimeApi();
  const child = spawn(process.execPath, [RIC], {
    env: {
      PATH: process.env.PATH ?? '',
      AWS_LAMBDA_RUNTIME_API: api.address,
      _HANDLER: 'index.handler',
      LAMBDA_TASK_ROOT: taskRoot,
      AWS_LAMBDA_FUNCTION_NAME: 'gatehouse',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
      AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/gatehouse',
      AWS_LAMBDA_LOG_STREAM_NAME: '2026/01/01/[$LATEST]0123456789abcdef',
      AWS_REGION: 'eu-west-1',
      AWS_EC2_METADATA_DISABLED: 'true',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const died = exited.then(() => {
    throw new Error(`the runtime interface client exited (${String(child.exitCode)}):\n${output}`);
  });
  died.catch(() => undefined);
  return {
    api,
    child,
    output: () => output,
    alive: (pending) => Promise.race([pending, died]),
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      await api.close();
    },
  };
}

let scratch: string;
let taskRoot: string;
let api: FakeApiServer;
let idp: TestIssuer;
let s3: S3Fixture;
let runtime: Runtime;
let aliceToken: string;
let ci: TestIssuer;
let baseEnv: Record<string, string>;
/** The Function URL the events name (function-url-event.ts): the MCP endpoint's configured public URL. */
const FUNCTION_URL = `https://${String(functionUrlEvent({ method: 'GET', target: '/', headers: [] }).requestContext.domainName)}`;
const RECORDS_PREFIX = 'ric/';

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'gatehouse-ric-'));
  taskRoot = join(scratch, 'task');
  // The bundle exactly as the stack builds it (without the source map), and the policy JSON beside it.
  await build({ ...LAMBDA_ESBUILD, mainFields: [...LAMBDA_ESBUILD.mainFields], sourcemap: false, entryPoints: [LAMBDA_ENTRY], outfile: join(taskRoot, 'index.mjs'), logLevel: 'silent' });
  writePolicyJson(join(REPO, 'policy', 'default.yaml'), join(taskRoot, POLICY_JSON_NAME));

  const frozen = Date.now();
  [api, idp, s3, ci] = await Promise.all([startFakeApiServer({ clock: { now: () => frozen } }), startIssuer(), startS3Fixture(), startIssuer()]);
  api.store.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default' }, spec: { containers: [{ name: 'web', image: 'nginx' }] } });
  // The bundle reads no YAML: its kubeconfig is JSON.
  const kubeconfig = join(scratch, 'kubeconfig.json');
  writeFileSync(kubeconfig, JSON.stringify(parseYaml(readFileSync(api.kubeconfigPath, 'utf8'))));
  baseEnv = {
    GATEHOUSE_OIDC_ISSUER: idp.issuer,
    GATEHOUSE_OIDC_AUDIENCE: 'gatehouse',
    GATEHOUSE_ISSUERS: JSON.stringify([{ issuer: ci.issuer, audience: 'gatehouse-ci', usernameClaim: 'sub', usernamePrefix: 'ci:', groupsPrefix: 'ci:', extraClaims: { ref: 'ref' } }]),
    GATEHOUSE_MCP_PUBLIC_URL: FUNCTION_URL,
    GATEHOUSE_UPSTREAM: 'kubeconfig',
    GATEHOUSE_KUBECONFIG: kubeconfig,
    GATEHOUSE_LAMBDA_DEADLINE_MARGIN_SECONDS: String(MARGIN_SECONDS),
    POWERTOOLS_METRICS_NAMESPACE: 'Gatehouse/RicTest',
    GATEHOUSE_RECORDS_BUCKET: s3.bucket,
    GATEHOUSE_RECORDS_PREFIX: RECORDS_PREFIX,
    GATEHOUSE_RECORDS_ENDPOINT: s3.s3.endpoint,
    GATEHOUSE_RECORDS_REGION: 'us-east-1',
    // s3rver's own account; the bundled credential chain reads the execution role's from here.
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
  };
  runtime = await startRuntime(taskRoot, baseEnv);
  aliceToken = await idp.sign({ sub: 'u-alice', email: 'alice@example.com', groups: ['developers', 'oncall'] });
});

after(async () => {
  await runtime?.stop();
  await Promise.all([api?.close(), idp?.close(), s3?.close(), ci?.close()]);
  rmSync(scratch, { recursive: true, force: true });
});

const bearer = (): [string, string] => ['Authorization', `Bearer ${aliceToken}`];

async function viaRuntime(request: RawRequest, timeoutMs?: number): Promise<InvocationResult> {
  const invocation = runtime.api.invoke(functionUrlEvent(request), timeoutMs === undefined ? {} : { timeoutMs });
  const result = await runtime.alive(invocation.done);
  await runtime.alive(invocation.over);
  return result;
}

/** Outcome records of one request id, read back from S3. */
async function outcomesOf(requestId: string): Promise<SessionRecord[]> {
  const archive = createS3Records({ bucket: s3.bucket, prefix: RECORDS_PREFIX, clientConfig: s3.s3.clientConfig });
  const found: SessionRecord[] = [];
  for await (const r of archive.read({})) if (r.phase === 'outcome' && r.request_id === requestId) found.push(r);
  return found;
}

function statusOf(result: InvocationResult): { kind: string; code: number; reason: string; message: string } {
  return JSON.parse(result.body.toString('utf8')) as { kind: string; code: number; reason: string; message: string };
}

describe('the bundle under the real runtime interface client', () => {
  test('is a streaming handler: the runtime streams its answers with the metadata prelude', async () => {
    const result = await viaRuntime({ method: 'GET', target: '/_gatehouse/healthz', headers: [] });
    assert.equal(result.kind, 'response', runtime.output());
    assert.equal(result.streaming, true);
    assert.deepEqual(result.trailers, {});
    assert.equal(result.metadata?.statusCode, 200);
    assert.equal(result.body.toString('utf8'), 'ok');
  });

  test('publishes its Powertools metrics as embedded metric format lines, one per invocation', async () => {
    await viaRuntime({ method: 'GET', target: '/_gatehouse/healthz', headers: [] });
    const emf = runtime
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{') && line.includes('"_aws"'))
      .map((line) => JSON.parse(line) as { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] }; Calls?: number; service?: string });
    assert.ok(emf.length >= 1, runtime.output());
    const last = emf.at(-1);
    assert.equal(last?._aws.CloudWatchMetrics[0]?.Namespace, 'Gatehouse/RicTest');
    assert.deepEqual(last?._aws.CloudWatchMetrics[0]?.Metrics, [{ Name: 'Calls', Unit: 'Count' }]);
    assert.equal(last?.Calls, 1);
    assert.equal(last?.service, 'gatehouse');
  });

  for (const { name, request, status, message } of sameOutcomeCases(bearer)) {
    test(name, async () => {
      const result = await viaRuntime(request());
      assert.equal(result.kind, 'response', runtime.output());
      assert.equal(result.metadata?.statusCode, status, result.body.toString('utf8'));
      if (status === 200) {
        assert.equal(api.received.at(-1)?.user, 'alice@example.com');
        return;
      }
      const parsed = statusOf(result);
      assert.equal(parsed.kind, 'Status');
      assert.equal(parsed.code, status);
      if (message !== undefined) assert.match(parsed.message, message);
    });
  }

  for (const refusal of lambdaRefusalCases(bearer)) {
    test(refusal.name, async () => {
      const before = api.received.length;
      const result = await viaRuntime(refusal.request());
      assert.equal(result.kind, 'response', runtime.output());
      assert.ok(result.metadata, 'the refusal starts with the metadata prelude');
      assert.equal(result.metadata.statusCode, refusal.code);
      assert.equal(result.metadata.headers['content-type'], 'application/json');
      assertRefusalStatus(result.body.toString('utf8'), refusal);
      assert.equal(api.received.length, before, 'nothing reached the cluster');
    });
  }

  test('ends a watch cleanly before the deadline, with its record in S3 before the runtime asks for the next invocation', async () => {
    // The function has 3 s: the call ends 1 s (the margin) before, at about 2 s.
    const invocation = runtime.api.invoke(
      functionUrlEvent({ method: 'GET', target: '/api/v1/namespaces/default/pods?watch=true', headers: [bearer(), ['Accept', 'application/json']] }),
      { timeoutMs: 3000 },
    );
    await runtime.alive(invocation.waitFor((body) => body.includes('"name":"web"')));
    const result = await runtime.alive(invocation.done);
    await runtime.alive(invocation.over);
    const records = await outcomesOf(result.metadata?.headers['audit-id'] ?? '');

    assert.equal(result.kind, 'response', runtime.output());
    assert.deepEqual(result.trailers, {}, 'no error trailers: a normal end');
    assert.equal(result.metadata?.statusCode, 200);
    assert.deepEqual(
      result.body.toString('utf8').trim().split('\n').map((line) => (JSON.parse(line) as { type: string; object: { metadata: { name: string } } }).object.metadata.name),
      ['web'],
    );
    assert.equal(records.length, 1, 'the record was written before the invocation ended');
    assert.equal(records[0]?.stream_end, 'time_limit');
    assert.equal(records[0]?.user_name, 'alice@example.com');
    assert.equal(api.store.subscribers, 0, 'the upstream watch was closed');
  });
  // Not here: a response connection dropped by the Runtime API. aws-lambda-ric 4.0.2 then exits
  // on an unhandled 'socket hang up' in its own response stream (seen with this suite), so the
  // shim-driven test covers a stream closing under the function, and the time limit above is
  // what bounds a call whose client left unnoticed.
});

describe('records carried over between invocations under the real runtime interface client', () => {
  const prefix = 'carried/';
  let carrying: Runtime;
  before(async () => {
    carrying = await startRuntime(taskRoot, { ...baseEnv, GATEHOUSE_RECORDS_PREFIX: prefix, GATEHOUSE_RECORDS_CARRY_OVER_SECONDS: '600' });
  });
  after(() => carrying.stop());

  async function call(request: RawRequest): Promise<number | undefined> {
    const invocation = carrying.api.invoke(functionUrlEvent(request));
    const result = await carrying.alive(invocation.done);
    await carrying.alive(invocation.over);
    return result.metadata?.statusCode;
  }
  /** Each object's records, by phase, in the order of the object keys (written-at stamps). */
  async function objects(): Promise<string[][]> {
    const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }));
    const keys = (listed.Contents ?? []).map((object) => object.Key ?? '').sort();
    const out: string[][] = [];
    for (const key of keys) {
      const object = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
      const lines = gunzipSync(await object.Body!.transformToByteArray()).toString('utf8').trim().split('\n');
      out.push(lines.map((line) => `${(JSON.parse(line) as SessionRecord).phase} ${(JSON.parse(line) as SessionRecord).verb}`));
    }
    return out;
  }
  const read = (): RawRequest => ({ method: 'GET', target: '/api/v1/namespaces/default/pods/web', headers: [bearer(), ['Accept', 'application/json']] });

  test('keeps read records across invocations, writes them with the next record of intent, and the rest at SIGTERM', async () => {
    for (let i = 0; i < 3; i += 1) assert.equal(await call(read()), 200);
    assert.deepEqual(await objects(), [], 'no object yet: the reads wait in the execution environment');

    const configMap = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'carried' }, data: { a: 'b' } });
    assert.equal(await call({ method: 'POST', target: '/api/v1/namespaces/default/configmaps', headers: [bearer(), ['Content-Type', 'application/json']], body: Buffer.from(configMap) }), 201);
    assert.deepEqual(await objects(), [['outcome get', 'outcome get', 'outcome get', 'intent create']], 'the record of intent was written before the call was forwarded, with the reads before it');

    assert.equal(await call(read()), 200);
    await carrying.stop();
    assert.deepEqual(await objects(), [
      ['outcome get', 'outcome get', 'outcome get', 'intent create'],
      ['outcome create', 'outcome get'],
    ]);
    assert.doesNotMatch(carrying.output(), /records_flush_failed|records_lost_at_close/, 'nothing was lost at shutdown');
  });
});

/** The MCP SDK client's fetch, served by the function: each request becomes a Function URL event for the runtime. */
async function fetchThroughRuntime(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const request = new Request(input, init);
  const url = new URL(request.url);
  const headers: [string, string][] = [];
  request.headers.forEach((value, name) => headers.push([name, value]));
  const body = request.body === null ? undefined : Buffer.from(await request.arrayBuffer());
  const result = await viaRuntime({ method: request.method, target: `${url.pathname}${url.search}`, headers, ...(body === undefined ? {} : { body }) });
  const status = result.metadata?.statusCode ?? 502;
  return new Response([204, 205, 304].includes(status) || result.body.length === 0 ? null : new Uint8Array(result.body), { status, headers: result.metadata?.headers ?? {} });
}

async function mcpClient(token: string): Promise<Client> {
  const client = new Client({ name: 'gatehouse-lambda-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${FUNCTION_URL}/mcp`), { fetch: fetchThroughRuntime, requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
}

describe('the MCP endpoint of the bundle under the real runtime interface client', () => {
  test('answers without a token with 401 and the challenge naming the configured Function URL, whatever the Host', async () => {
    const result = await viaRuntime({ method: 'POST', target: '/mcp', headers: [['content-type', 'application/json'], ['host', 'evil.example']], body: Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/list"}') });
    assert.equal(result.metadata?.statusCode, 401, result.body.toString('utf8'));
    assert.equal(result.metadata?.headers['www-authenticate'], `Bearer resource_metadata="${FUNCTION_URL}/.well-known/oauth-protected-resource/mcp", scope="openid email groups"`);
  });

  test('serves the protected resource metadata naming both issuers', async () => {
    const result = await viaRuntime({ method: 'GET', target: '/.well-known/oauth-protected-resource/mcp', headers: [] });
    assert.deepEqual((JSON.parse(result.body.toString('utf8')) as { authorization_servers: string[] }).authorization_servers, [idp.issuer, ci.issuer]);
  });

  test('the SDK client lists the tools and lists pods, one invocation per message, and the record names the tool', async () => {
    const client = await mcpClient(aliceToken);
    try {
      const { tools } = await client.listTools();
      assert.equal(tools.length, 12);
      const result = await client.callTool({ name: 'list_resources', arguments: { resource: 'pods', namespace: 'default' } });
      assert.notEqual(result.isError, true, JSON.stringify(result));
      assert.deepEqual((result.structuredContent as { items: { name: string }[] }).items.map((item) => item.name), ['web']);
      assert.equal(api.received.at(-1)?.user, 'alice@example.com');
      const archive = createS3Records({ bucket: s3.bucket, prefix: RECORDS_PREFIX, clientConfig: s3.s3.clientConfig });
      const records: SessionRecord[] = [];
      for await (const r of archive.read({})) if (r.mcp_tool === 'list_resources') records.push(r);
      assert.equal(records.length, 1, 'written before the invocation ended');
      assert.equal(records[0]?.path, '/api/v1/namespaces/default/pods');
      assert.equal(records[0]?.source_ip, '203.0.113.7');
      assert.match(String(records[0]?.mcp_session), /^[0-9a-f-]{36}$/);
    } finally {
      await client.close();
    }
  });

  test("a CI job's token from the second issuer comes in as its own identity, and the default policy refuses it", async () => {
    const token = await ci.sign({ sub: 'repo:example-org/deploy:ref:refs/heads/main', ref: 'refs/heads/main' }, 'gatehouse-ci');
    const client = await mcpClient(token);
    try {
      const result = await client.callTool({ name: 'list_resources', arguments: { resource: 'pods', namespace: 'default' } });
      assert.equal(result.isError, true);
      const text = (result.content as { text: string }[]).map((block) => block.text).join('\n');
      assert.match(text, /user "ci:repo:example-org\/deploy:ref:refs\/heads\/main" \(no groups\) may not list pods in namespace "default"/);
    } finally {
      await client.close();
    }
  });
});

describe('a misconfigured function under the real runtime interface client', () => {
  test('fails its init and posts every configuration problem to init/error', async () => {
    const broken = await startRuntime(taskRoot, { GATEHOUSE_UPSTREAM: 'eks' });
    try {
      const error = await Promise.race([broken.api.initError, broken.alive(new Promise<never>(() => undefined))]);
      assert.equal(error.errorType, 'GatehouseConfigError', broken.output());
      assert.match(error.errorMessage, /^invalid configuration in the environment:/);
      for (const name of ['GATEHOUSE_OIDC_ISSUER', 'GATEHOUSE_OIDC_AUDIENCE', 'GATEHOUSE_EKS_CLUSTER_NAME', 'GATEHOUSE_EKS_ROLE_ARN']) {
        assert.match(error.errorMessage, new RegExp(`- ${name}: is required but not set`));
      }
    } finally {
      await broken.stop();
    }
  });
});
