// The mask stage in a small pipeline (classify → credentials → mask → forward) behind the
// real Node runtime, against an upstream stand-in of this file's own over HTTP: what the
// upstream is asked for, and what the client gets — whole bodies, streamed lists, watch
// events one by one, refusals, break-glass.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { Hono } from 'hono';
import '../../src/context.ts';
import { asGatehouseError, statusResponse } from '../../src/errors.ts';
import { classify } from '../../src/pipeline/classify.ts';
import { credentials } from '../../src/pipeline/credentials.ts';
import { route } from '../../src/pipeline/route.ts';
import { DEFAULT_ROUTER } from '../../src/cluster-route.ts';
import { closeUpstreamAgents, forward } from '../../src/pipeline/forward.ts';
import { mask } from '../../src/pipeline/mask.ts';
import { compileMaskingRules } from '../../src/masking/masking-rules.ts';
import { placeholderBase64 } from '../../src/masking/placeholder.ts';
import { startNodeServer, type NodeServer } from '../../src/runtime/node-server.ts';
import { b64, PASSWORD, pod, secret, secretItem, secretList, secretTable } from '../masking/fixtures/objects.ts';
import { statusOf } from '../support/status.ts';

const SECRET_B64 = b64(PASSWORD);
const LIVE_TOKEN = 'eyJhbGciOiJSUzI1NiIsImtpZCI6ImxpdmUifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJl';
const P28 = placeholderBase64(28);

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** Writes `text` in pieces of `size` bytes, so the stage sees many chunk boundaries. */
function writeInPieces(res: http.ServerResponse, text: string, size: number): void {
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += size) res.write(bytes.subarray(i, i + size));
  res.end();
}

function json(res: http.ServerResponse, value: unknown, headers: http.OutgoingHttpHeaders = {}): void {
  const body = JSON.stringify(value);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

const BIG_LIST = secretList(Array.from({ length: 300 }, (_, i) => secretItem(`s${i}`, { password: PASSWORD, other: `value-${i}` })));
const PODS = { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [pod('a', 'prod', [{ name: 'X', value: 'y' }])] };

/** The upstream: answers by path, records what it was asked. */
class Upstream {
  received: Received[] = [];
  server = http.createServer((req, res) => this.handle(req, res));
  port = 0;
  /** Releases the second event of the watch. */
  releaseWatch: () => void = () => {};

  private routes: Record<string, Handler> = {
    '/api/v1/namespaces/prod/secrets/db': (_req, res) => json(res, secret('db', { password: PASSWORD })),
    '/api/v1/namespaces/prod/secrets': (req, res) => {
      if ((req.url ?? '').includes('watch=1')) return this.watch(res);
      if ((req.headers.accept ?? '').includes('as=Table')) {
        return json(res, secretTable([{ cells: ['db', 'Opaque', 2, '1d'], object: secret('db', { password: PASSWORD }) }]));
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      writeInPieces(res, JSON.stringify(BIG_LIST), 1000);
    },
    '/api/v1/namespaces/prod/secrets/proto': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.kubernetes.protobuf', 'content-length': 4 });
      res.end(Buffer.from([0x6b, 0x38, 0x73, 0x00]));
    },
    '/api/v1/namespaces/prod/secrets/gzipped': (_req, res) => {
      const body = gzipSync(JSON.stringify(secret('gzipped', { password: PASSWORD })));
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': body.length });
      res.end(body);
    },
    '/api/v1/namespaces/prod/secrets/broken': (_req, res) => {
      const body = `{"kind":"Secret","data":{"password":"${SECRET_B64}"`;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      res.end(body);
    },
    '/api/v1/namespaces/prod/configmaps': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const text = JSON.stringify(BIG_LIST).replace('"SecretList"', '"SecretList"  ');
      // Well-formed items, then a broken one: the stream must end there.
      res.write(text.slice(0, 20_000));
      res.end(`{"data":{"password":"${SECRET_B64}"]]]`);
    },
    '/api/v1/namespaces/prod/pods': (_req, res) => json(res, PODS),
    '/api/v1/namespaces/prod/pods/a/log': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('line 1\nline 2\n');
    },
    '/apis/example.com/v1/namespaces/prod/widgets': (_req, res) =>
      json(res, { kind: 'WidgetList', apiVersion: 'example.com/v1', metadata: {}, items: [{ kind: 'Widget', metadata: { name: 'w' }, spec: { template: secret('t', { password: PASSWORD }) } }] }),
    '/version': (_req, res) => json(res, { major: '1', minor: '33', note: 'Secret"' }),
    '/api/v1/namespaces/prod/serviceaccounts/deployer/token': (_req, res) =>
      json(res, { kind: 'TokenRequest', apiVersion: 'authentication.k8s.io/v1', spec: { audiences: ['https://kubernetes.default.svc'] }, status: { token: LIVE_TOKEN, expirationTimestamp: '2030-01-01T00:00:00Z' } }),
  };

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => this.answer(req, res, Buffer.concat(chunks).toString()));
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
    this.received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    const path = (req.url ?? '').split('?')[0] ?? '';
    const route = this.routes[path];
    if (route === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"kind":"Status","apiVersion":"v1","status":"Failure","code":404}');
      return;
    }
    route(req, res);
  }

  private watch(res: http.ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write(`${JSON.stringify({ type: 'ADDED', object: secret('w1', { password: PASSWORD }) })}\n`);
    this.releaseWatch = () => {
      res.write(`${JSON.stringify({ type: 'MODIFIED', object: secret('w1', { password: PASSWORD }) })}\n`);
      res.end();
    };
  }
}

function testApp(upstreamPort: number): Hono {
  const rules = compileMaskingRules([]);
  const app = new Hono();
  app.onError((error) => statusResponse(asGatehouseError(error)));
  app.use('*', async (c, next) => {
    c.set('identity', { user: 'alice@example.com', groups: ['dev'], claims: {} });
    c.set('decision', { effect: 'allow', rule: 'test', reason: 'test', unmasked: c.req.header('x-test-unmasked') === 'yes' });
    await next();
    c.res.headers.set('x-test-masked', String(c.get('masked')));
    // What the stage hands record: the bytes that leave (by digest) and whether they were masked.
    const bytes = c.get('responseBytes');
    c.res.headers.set('x-test-bytes', bytes === undefined ? 'none' : `${digest(bytes)} masked=${String(c.get('responseBytesMasked'))}`);
  });
  app.use('*', classify({ runtime: 'node' }));
  app.use('*', route(DEFAULT_ROUTER));
  app.use('*', credentials([{ name: 'default', upstream: { connection: async () => ({ server: new URL(`http://127.0.0.1:${upstreamPort}`) }) } }]));
  app.use('*', mask(rules));
  app.all('*', forward({ timeoutSeconds: 5 }));
  return app;
}

function digest(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  aborted: boolean;
}

function get(base: string, path: string, headers: http.OutgoingHttpHeaders = {}, method = 'GET', body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let aborted = false;
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('aborted', () => (aborted = true));
      res.on('error', () => (aborted = true));
      res.on('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), aborted: aborted || !res.complete }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('mask stage', () => {
  let upstream: Upstream;
  let gatehouse: NodeServer;

  before(async () => {
    upstream = new Upstream();
    await upstream.listen();
    gatehouse = await startNodeServer({ app: testApp(upstream.port), host: '127.0.0.1', port: 0 });
  });

  after(async () => {
    await gatehouse.close();
    await upstream.close();
    closeUpstreamAgents();
  });

  test('masks a Secret read whole, with an exact Content-Length, and says so', async () => {
    const reply = await get(gatehouse.url, '/api/v1/namespaces/prod/secrets/db');
    assert.equal(reply.status, 200);
    const body = JSON.parse(reply.body) as { data: Record<string, string> };
    assert.deepEqual(body.data, { password: P28 });
    assert.equal(reply.headers['content-length'], String(Buffer.byteLength(reply.body)));
    assert.equal(reply.headers['x-test-masked'], 'true');
    assert.ok(!reply.body.includes(SECRET_B64) && !reply.body.includes(PASSWORD));
  });

  test('masks the live token of a TokenRequest answer (kubectl create token), keeping its expiry', async () => {
    const reply = await get(gatehouse.url, '/api/v1/namespaces/prod/serviceaccounts/deployer/token', { 'content-type': 'application/json' }, 'POST', '{"kind":"TokenRequest","apiVersion":"authentication.k8s.io/v1","spec":{}}');
    assert.equal(reply.status, 200);
    assert.ok(!reply.body.includes(LIVE_TOKEN), reply.body);
    const body = JSON.parse(reply.body) as { status: { token: string; expirationTimestamp: string } };
    assert.equal(body.status.expirationTimestamp, '2030-01-01T00:00:00Z');
    assert.equal(reply.headers['x-test-masked'], 'true');
  });

  test('hands record the bytes that left, marked masked, for whole answers only', async () => {
    const cases = [
      { name: 'a masked Secret', path: '/api/v1/namespaces/prod/secrets/db', headers: {}, bytes: 'left masked=true' },
      { name: 'a scanned answer with nothing to mask', path: '/api/v1/namespaces/prod/pods', headers: {}, bytes: 'left masked=true' },
      { name: 'an answer the stage does not look at (not masked)', path: '/version', headers: {}, bytes: 'left masked=false' },
      { name: 'a break-glass answer (not masked)', path: '/api/v1/namespaces/prod/secrets/db', headers: { 'x-test-unmasked': 'yes' }, bytes: 'left masked=false' },
      { name: 'an answer refused as malformed (the Status left, not the bytes)', path: '/api/v1/namespaces/prod/secrets/broken', headers: {}, bytes: 'none' },
      { name: 'an answer refused as protobuf', path: '/api/v1/namespaces/prod/secrets/proto', headers: {}, bytes: 'none' },
      { name: 'a gzip answer (decoded as a stream)', path: '/api/v1/namespaces/prod/secrets/gzipped', headers: {}, bytes: 'none' },
      { name: 'a streamed list', path: '/api/v1/namespaces/prod/secrets', headers: {}, bytes: 'none' },
    ];
    for (const c of cases) {
      const reply = await get(gatehouse.url, c.path, c.headers);
      const want = c.bytes.replace('left', digest(reply.body));
      assert.equal(reply.headers['x-test-bytes'], want, c.name);
    }
  });

  test('asks the upstream for JSON instead of protobuf, and for an identity-encoded body', async () => {
    upstream.received = [];
    await get(gatehouse.url, '/api/v1/namespaces/prod/secrets/db', {
      accept: 'application/vnd.kubernetes.protobuf, application/json;as=Table;v=v1;g=meta.k8s.io, application/yaml',
      'accept-encoding': 'gzip',
    });
    const sent = upstream.received[0];
    assert.ok(sent);
    assert.equal(sent.headers.accept, 'application/json;as=Table;v=v1;g=meta.k8s.io');
    assert.equal(sent.headers['accept-encoding'], undefined);
  });

  test('asks the upstream for JSON also when the app is called in-process (headers from the Request)', async () => {
    upstream.received = [];
    const app = testApp(upstream.port);
    const response = await app.request('/api/v1/namespaces/prod/secrets/db', { headers: { accept: 'application/vnd.kubernetes.protobuf', 'accept-encoding': 'gzip, br' } });
    const text = await response.text();
    assert.ok(!text.includes(SECRET_B64));
    assert.equal(upstream.received[0]?.headers.accept, 'application/json');
    assert.equal(upstream.received[0]?.headers['accept-encoding'], undefined);
  });

  test('refuses a Secret answer it cannot parse as JSON with a Status', async () => {
    const reply = await get(gatehouse.url, '/api/v1/namespaces/prod/secrets/proto');
    assert.equal(reply.status, 502);
    assert.deepEqual(statusOf(reply), {
      code: 502,
      reason: 'InternalError',
      message: 'the upstream answered for secrets "proto" in namespace "prod" with content-type "application/vnd.kubernetes.protobuf", which Gatehouse cannot mask; refusing to pass it on',
    });
  });

  test('refuses a small malformed Secret answer with a Status that quotes none of it', async () => {
    const reply = await get(gatehouse.url, '/api/v1/namespaces/prod/secrets/broken');
    assert.equal(reply.status, 502);
    assert.deepEqual(statusOf(reply), {
      code: 502,
      reason: 'InternalError',
      message:
        'the upstream response for secrets "broken" in namespace "prod" ended in the middle of a JSON document; Gatehouse cannot mask it and stopped the response',
    });
  });

  test('decodes a gzip answer the upstream sent anyway, and masks it', async () => {
    const reply = await get(gatehouse.url, '/api/v1/namespaces/prod/secrets/gzipped');
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-encoding'], undefined);
    assert.deepEqual((JSON.parse(reply.body) as { data: unknown }).data, { password: P28 });
  });

  test('streams a large SecretList, masking every item, without a Content-Length', async () => {
    const reply = await get(gatehouse.url, '/api/v1/namespaces/prod/secrets');
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-length'], undefined);
    const list = JSON.parse(reply.body) as { kind: string; items: { metadata: { name: string }; data: Record<string, string> }[] };
    assert.equal(list.kind, 'SecretList');
    assert.equal(list.items.length, 300);
    assert.ok(list.items.every((item) => item.data['password'] === P28));
    assert.ok(!reply.body.includes(SECRET_B64) && !reply.body.includes(b64('value-1')));
  });

  test('masks a Table of Secrets, with whole objects in its rows', async () => {
    const reply = await get(gatehouse.url, '/api/v1/namespaces/prod/secrets?includeObject=Object', { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' });
    const table = JSON.parse(reply.body) as { rows: { cells: unknown[]; object: { data: unknown } }[] };
    assert.deepEqual(table.rows[0]?.cells, ['db', 'Opaque', 2, '1d']);
    assert.deepEqual(table.rows[0]?.object.data, { password: P28 });
  });

  test('masks a watch event by event, as each arrives', async () => {
    const events: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${gatehouse.url}/api/v1/namespaces/prod/secrets?watch=1`, { agent: false }, (res) => {
        let buffered = '';
        res.on('data', (chunk: Buffer) => {
          buffered += chunk.toString();
          const lines = buffered.split('\n');
          buffered = lines.pop() ?? '';
          for (const line of lines) {
            events.push(line);
            // The second event is only written once the first reached the client.
            if (events.length === 1) upstream.releaseWatch();
          }
        });
        res.on('end', resolve);
        res.on('error', reject);
      });
      req.on('error', reject);
    });
    assert.equal(events.length, 2);
    for (const line of events) {
      const event = JSON.parse(line) as { type: string; object: { data: unknown } };
      assert.deepEqual(event.object.data, { password: P28 });
    }
  });

  test('ends a streamed answer that turns out malformed, sending nothing of the bad part', async () => {
    const reply = await get(gatehouse.url, '/api/v1/namespaces/prod/configmaps');
    assert.equal(reply.status, 200);
    assert.equal(reply.aborted, true);
    assert.ok(!reply.body.includes(SECRET_B64));
  });

  test('passes answers that hold nothing to mask byte for byte', async () => {
    for (const [path, expected] of [
      ['/api/v1/namespaces/prod/pods', JSON.stringify(PODS)],
      ['/version', JSON.stringify({ major: '1', minor: '33', note: 'Secret"' })],
      ['/api/v1/namespaces/prod/pods/a/log', 'line 1\nline 2\n'],
    ] as const) {
      const reply = await get(gatehouse.url, path);
      assert.equal(reply.body, expected, path);
      assert.equal(reply.headers['x-test-masked'], 'false', path);
    }
  });

  test('masks Secrets embedded in objects of other resources', async () => {
    const reply = await get(gatehouse.url, '/apis/example.com/v1/namespaces/prod/widgets');
    const list = JSON.parse(reply.body) as { items: { spec: { template: { data: unknown } } }[] };
    assert.deepEqual(list.items[0]?.spec.template.data, { password: P28 });
  });

  test('passes a write with real values on, body and all', async () => {
    upstream.received = [];
    const real = JSON.stringify(secret('db', { password: PASSWORD }));
    const reply = await get(gatehouse.url, '/api/v1/namespaces/prod/secrets/db', { 'content-type': 'application/json' }, 'PUT', real);
    assert.equal(reply.status, 200);
    assert.equal(upstream.received[0]?.body, real);
    assert.ok(!reply.body.includes(SECRET_B64), 'the answer is masked');
  });

  test('lets a break-glass decision see the values, and says nothing was masked', async () => {
    const reply = await get(gatehouse.url, '/api/v1/namespaces/prod/secrets/db', { 'x-test-unmasked': 'yes' });
    assert.deepEqual((JSON.parse(reply.body) as { data: unknown }).data, { password: SECRET_B64 });
    assert.equal(reply.headers['x-test-masked'], 'false');
  });
});
