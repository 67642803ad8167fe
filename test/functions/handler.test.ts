/**
 * The Lambda handler, driven with realistic Function URL 2.0 events through the streaming
 * path (the `awslambda` shim), configured from environment variables as on AWS, in front of
 * the kube-apiserver stand-in (kubeconfig upstream) with a real OIDC issuer on loopback.
 * The same requests also go to the Node runtime over real HTTP, and both must end the same:
 * same status, same body, same request arriving upstream.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest, createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { createApp } from '../../src/app.ts';
import { createDepsFromConfig } from '../../src/compose.ts';
import { configFromEnv, type Env } from '../../src/config-env.ts';
import { loadDevIssuer } from '../../src/auth/dev-issuer.ts';
import { startNodeServer, type NodeServer } from '../../src/runtime/node-server.ts';
import { createLambdaHandler, MAX_REQUEST_PAYLOAD_BYTES, type StreamingHandler } from '../../functions/lambda-handler.ts';
import { startFakeApiServer, type FakeApiServer } from '../stand-in/apiserver.ts';
import { installAwsLambdaShim, invoke, STREAMING_MARK, type DecodedResponse } from './awslambda-shim.ts';
import { functionUrlEvent, type RawRequest } from './function-url-event.ts';

installAwsLambdaShim();

const REPO = new URL('../../', import.meta.url).pathname;
const POLICY = join(REPO, 'policy', 'default.yaml');

/** A minimal OIDC issuer on loopback: discovery document and JWKS, one ES256 key. */
async function startIssuer(): Promise<{ issuer: string; sign(claims: Record<string, unknown>): Promise<string>; close(): Promise<void> }> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  let issuer = '';
  const server: Server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration') res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
    else if (req.url === '/jwks') res.end(JSON.stringify({ keys: [jwk] }));
    else res.writeHead(404).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const key: CryptoKey = privateKey;
  return {
    issuer,
    sign: (claims) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(issuer).setAudience('gatehouse').setIssuedAt().setExpirationTime('10m').sign(key),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

let api: FakeApiServer;
let idp: Awaited<ReturnType<typeof startIssuer>>;
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
  aliceToken = await idp.sign({ sub: 'u-alice', email: 'alice@example.com', groups: ['dev', 'oncall'] });
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
const kubectlHeaders = (): [string, string][] => [
  bearer(),
  ['User-Agent', 'kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0'],
  ['Kubectl-Command', 'kubectl get'],
  ['Kubectl-Session', '0b4c8f2e-6a4e-4d5e-9b0c-1f2e3d4c5b6a'],
];

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

const sameOutcomeCases: { name: string; request: () => RawRequest; status: number; message?: RegExp }[] = [
  {
    name: 'lists pods as the caller (impersonated upstream)',
    request: () => ({ method: 'GET', target: '/api/v1/namespaces/default/pods?limit=500', headers: [...kubectlHeaders(), ['Accept', 'application/json']] }),
    status: 200,
  },
  {
    name: 'joins a repeated Accept header with commas and still negotiates a Table',
    request: () => ({
      method: 'GET',
      target: '/api/v1/namespaces/default/pods',
      headers: [...kubectlHeaders(), ['Accept', 'application/json;as=Table;v=v1;g=meta.k8s.io'], ['Accept', 'application/json']],
    }),
    status: 200,
  },
  {
    name: 'refuses a request without a token',
    request: () => ({ method: 'GET', target: '/api/v1/namespaces/default/pods', headers: [['Accept', 'application/json']] }),
    status: 401,
  },
  {
    name: "refuses a client's own Impersonate-Group headers",
    request: () => ({ method: 'GET', target: '/api/v1/pods', headers: [bearer(), ['Impersonate-Group', 'admins'], ['Impersonate-Group', 'ops']] }),
    status: 403,
  },
  {
    name: 'refuses reading Secrets in kube-system by policy',
    request: () => ({ method: 'GET', target: '/api/v1/namespaces/kube-system/secrets', headers: kubectlHeaders() }),
    status: 403,
    message: /no-system-secrets/,
  },
  {
    name: 'reads %2F in a name the same way (never decoded twice)',
    request: () => ({ method: 'GET', target: '/api/v1/namespaces/default/pods/a%2Fb', headers: kubectlHeaders() }),
    status: 400,
  },
  {
    name: 'reads .. in the path the same way (never normalised into another namespace)',
    request: () => ({ method: 'GET', target: '/api/v1/namespaces/default/pods/../../kube-system/secrets', headers: kubectlHeaders() }),
    status: 400,
  },
  {
    name: 'reads // in the path the same way',
    request: () => ({ method: 'GET', target: '//api/v1/namespaces/default/pods', headers: kubectlHeaders() }),
    status: 400,
  },
  {
    name: 'passes cookies without letting them change the outcome',
    request: () => ({ method: 'GET', target: '/api/v1/namespaces/default/pods/web', headers: [...kubectlHeaders(), ['Cookie', 'a=1; b=2'], ['Accept', 'application/json']] }),
    status: 200,
  },
];

describe('Lambda handler and Node runtime give the same outcome', () => {
  for (const { name, request, status, message } of sameOutcomeCases) {
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
        assert.deepEqual(lambdaUpstream?.groups, ['dev', 'oncall']);
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

describe('Lambda-only behaviour', () => {
  const statusOf = (outcome: Outcome) => JSON.parse(outcome.body) as { kind: string; reason: string; code: number; message: string };

  const refusals: { name: string; request: () => RawRequest; code: number; reason: string; message: string | RegExp }[] = [
    {
      name: 'refuses kubectl exec with a Status that points at the Node runtime',
      request: () => ({ method: 'POST', target: '/api/v1/namespaces/default/pods/web/exec?command=sh&stdin=true&tty=true', headers: [bearer(), ['X-Stream-Protocol-Version', 'v5.channel.k8s.io']] }),
      code: 400,
      reason: 'BadRequest',
      message:
        'pods/exec needs an HTTP connection upgrade, which a Lambda function URL cannot carry; use a Gatehouse running on the Node runtime for kubectl exec, attach, cp and port-forward',
    },
    {
      name: 'refuses kubectl port-forward the same way',
      request: () => ({ method: 'GET', target: '/api/v1/namespaces/default/pods/web/portforward', headers: [bearer(), ['Upgrade', 'websocket'], ['Connection', 'Upgrade']] }),
      code: 400,
      reason: 'BadRequest',
      message: /^pods\/portforward needs an HTTP connection upgrade, which a Lambda function URL cannot carry; use a Gatehouse running on the Node runtime/,
    },
    {
      name: 'refuses kubectl attach the same way',
      request: () => ({ method: 'POST', target: '/api/v1/namespaces/default/pods/web/attach?stdout=true', headers: [bearer()] }),
      code: 400,
      reason: 'BadRequest',
      message: /^pods\/attach needs an HTTP connection upgrade/,
    },
    {
      name: 'refuses an HTTP Upgrade on any other path',
      request: () => ({ method: 'GET', target: '/api/v1/namespaces/default/pods/web/proxy/', headers: [bearer(), ['Upgrade', 'websocket'], ['Connection', 'Upgrade']] }),
      code: 400,
      reason: 'BadRequest',
      message:
        'user "alice@example.com" asked for an HTTP Upgrade to "websocket" for /api/v1/namespaces/default/pods/web/proxy/, which a Lambda function URL cannot carry; use a Gatehouse running on the Node runtime for upgraded connections',
    },
    {
      name: 'refuses a body over the 6 MB payload limit with 413',
      request: () => ({ method: 'POST', target: '/api/v1/namespaces/default/configmaps', headers: [bearer(), ['Content-Type', 'application/json']], body: Buffer.alloc(MAX_REQUEST_PAYLOAD_BYTES + 1, 0x20) }),
      code: 413,
      reason: 'RequestEntityTooLarge',
      message: `the request body of POST /api/v1/namespaces/default/configmaps is ${MAX_REQUEST_PAYLOAD_BYTES + 1} bytes; Gatehouse on AWS Lambda accepts at most ${MAX_REQUEST_PAYLOAD_BYTES} bytes (the Lambda payload limit)`,
    },
    {
      name: 'refuses a base64 body that decodes to over 6 MB with 413',
      request: () => ({ method: 'PUT', target: '/api/v1/namespaces/default/configmaps/big', headers: [bearer()], body: Buffer.alloc(MAX_REQUEST_PAYLOAD_BYTES + 3, 1), base64: true }),
      code: 413,
      reason: 'RequestEntityTooLarge',
      message: /^the request body of PUT \/api\/v1\/namespaces\/default\/configmaps\/big is \d+ bytes; Gatehouse on AWS Lambda accepts at most 6291456 bytes/,
    },
    {
      name: 'refuses a GET that carries a body',
      request: () => ({ method: 'GET', target: '/api/v1/pods', headers: [bearer()], body: Buffer.from('{}') }),
      code: 400,
      reason: 'BadRequest',
      message: 'a GET request cannot carry a body (/api/v1/pods)',
    },
  ];
  for (const { name, request, code, reason, message } of refusals) {
    test(name, async () => {
      const before = api.received.length;
      const outcome = await viaLambda(request());
      const status = statusOf(outcome);
      assert.equal(outcome.status, code);
      assert.equal(outcome.contentType, 'application/json');
      assert.equal(status.kind, 'Status');
      assert.equal(status.code, code);
      assert.equal(status.reason, reason);
      if (typeof message === 'string') assert.equal(status.message, message);
      else assert.match(status.message, message);
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
