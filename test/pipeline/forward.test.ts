// forward (and credentials) through the real Node HTTPS runtime to a real HTTPS upstream
// stand-in: headers in and out, raw paths, streaming, client aborts, unreachable / timeout /
// TLS failures, and HTTP Upgrade tunnelling (exec/attach/port-forward) through the pipeline.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as https from 'node:https';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import * as tls from 'node:tls';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { Hono } from 'hono';
import { generate } from 'selfsigned';
import type { GatehouseEnv } from '../../src/context.ts';
import { GatehouseError, asGatehouseError, statusResponse } from '../../src/errors.ts';
import { classifyRequest } from '../../src/request-info.ts';
import { rawTarget } from '../../src/pipeline/classify.ts';
import { compilePolicy } from '../../src/policy/policy.ts';
import { spdyControlFrame, SPDY_TYPE } from '../../src/streams/spdy-frame.ts';
import { createNodeStreams } from '../../src/streams/stream-upgrade.ts';
import { MemoryRecordings } from '../support/memory-recordings.ts';
import { credentials } from '../../src/pipeline/credentials.ts';
import { route } from '../../src/pipeline/route.ts';
import { DEFAULT_ROUTER } from '../../src/cluster-route.ts';
import { closeUpstreamAgents, forward } from '../../src/pipeline/forward.ts';
import { ensureLocalTls } from '../../src/local/tls.ts';
import type { LocalTls } from '../../src/local/tls.ts';
import { startNodeServer } from '../../src/runtime/node-server.ts';
import type { NodeServer } from '../../src/runtime/node-server.ts';
import type { UpstreamConnection } from '../../src/types.ts';
import { statusOf } from '../support/status.ts';

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  rawHeaders: string[];
  body: string;
}

/** An HTTPS upstream that records what it received and answers per path. */
class UpstreamStandIn {
  server: https.Server;
  received: Received[] = [];
  /** Resolves when a request to /slow has been closed (finished or aborted) upstream. */
  slowClosed: Promise<void>;
  releaseSlow: () => void = () => {};
  private markSlowClosed: () => void = () => {};
  port = 0;

  constructor(material: LocalTls) {
    this.slowClosed = new Promise((resolve) => (this.markSlowClosed = resolve));
    this.server = https.createServer({ cert: material.certPem, key: material.keyPem }, (req, res) => this.handle(req, res));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex) => this.upgrade(req, socket));
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    const path = (req.url ?? '').replace(/^\/prefix/, '');
    if (path.startsWith('/slow')) {
      this.received.push(this.record(req, ''));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"type":"ADDED"}\n');
      const release = new Promise<void>((resolve) => (this.releaseSlow = resolve));
      void release.then(() => res.end('{"type":"DELETED"}\n'));
      res.on('close', () => this.markSlowClosed());
      return;
    }
    if (path.startsWith('/hang')) {
      this.received.push(this.record(req, ''));
      return;
    }
    req.on('end', () => {
      this.received.push(this.record(req, Buffer.concat(chunks).toString()));
      if (path.startsWith('/missing')) {
        res.writeHead(404, {
          'content-type': 'application/json',
          connection: 'x-upstream-hop',
          'x-upstream-hop': 'secret',
          'keep-alive': 'timeout=5',
          'x-kept': 'yes',
        });
        res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: 'pods "x" not found' }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"kind":"PodList","items":[]}');
    });
  }

  private upgrade(req: IncomingMessage, socket: Duplex): void {
    this.received.push(this.record(req, ''));
    if ((req.url ?? '').includes('decline-slowly')) {
      // Declines with an answer that has not ended: what Gatehouse passes on must stream.
      socket.write('HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n6\r\nfirst\n\r\n');
      void new Promise<void>((resolve) => (this.releaseSlow = resolve)).then(() => socket.end('5\r\nlast\n\r\n0\r\n\r\n'));
      return;
    }
    if ((req.url ?? '').includes('decline')) {
      const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'BadRequest', code: 400, message: 'upgrade declined' });
      socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
      return;
    }
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${req.headers.upgrade}\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n`);
    // A SPDY PING comes back as it went, as a SPDY server answers it.
    socket.on('data', (chunk: Buffer) => socket.write(chunk));
  }

  private record(req: IncomingMessage, body: string): Received {
    return { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body };
  }
}

/** The pipeline's tail (identity → credentials → forward) behind the real Node runtime. */
function testApp(connection: () => UpstreamConnection, timeoutSeconds = 5): Hono {
  const app = new Hono<GatehouseEnv>();
  app.onError((error) => statusResponse(asGatehouseError(error)));
  app.use('*', async (c, next) => {
    if (c.req.header('x-test-refuse') !== undefined) {
      throw new GatehouseError('ERR_POLICY_DENIED', 'user "alice@example.com" may not create pods/exec: rule "no-exec"');
    }
    const user = decodeURIComponent(c.req.header('x-test-user') ?? 'alice@example.com');
    c.set('identity', { user, groups: ['dev', 'oncall'], uid: 'uid-123', claims: {} });
    if (c.req.header('upgrade') !== undefined) {
      // What classify leaves for forward's stream handling (the /decline paths are the stand-in's cues).
      const target = rawTarget(c);
      c.set('kubeRequest', classifyRequest(c.req.method, target.path.replace(/^\/decline(-slowly)?/, ''), target.query, { runtime: 'node' }));
    }
    await next();
  });
  app.use('*', route(DEFAULT_ROUTER));
  app.use('*', credentials([{ name: 'default', upstream: { connection: async () => connection() } }]));
  app.all('*', forward({ timeoutSeconds, tunnels: createNodeStreams({ recordings: new MemoryRecordings(), policy: compilePolicy({ apiVersion: 'gatehouse/v1', rules: [{ name: 'all', effect: 'allow', resources: ['*'] }] }) }) }));
  return app as unknown as Hono;
}

interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

function call(server: NodeServer, ca: string, path: string, options: { method?: string; headers?: OutgoingHttpHeaders; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.request(`${server.url}${path}`, { method: options.method ?? 'GET', headers: options.headers, ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('forward', () => {
  let dir: string;
  let material: LocalTls;
  let otherCa: LocalTls;
  let upstream: UpstreamStandIn;
  let connection: UpstreamConnection;
  let gatehouse: NodeServer;
  let selfSigned: { port: number; server: https.Server };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-forward-'));
    [material, otherCa] = await Promise.all([ensureLocalTls(join(dir, 'a')), ensureLocalTls(join(dir, 'b'))]);
    upstream = new UpstreamStandIn(material);
    await upstream.listen();
    connection = { server: new URL(`https://127.0.0.1:${upstream.port}/prefix`), ca: material.caPem, token: 'gatehouse-sa-token' };
    const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], { keyType: 'ec', algorithm: 'sha256' });
    const selfSignedServer = https.createServer({ cert: pems.cert, key: pems.private }, (_req, res) => res.end());
    await new Promise<void>((resolve) => selfSignedServer.listen(0, '127.0.0.1', resolve));
    selfSigned = { server: selfSignedServer, port: (selfSignedServer.address() as AddressInfo).port };
    gatehouse = await startNodeServer({ app: testApp(() => connection), host: '127.0.0.1', port: 0, tls: { cert: material.certPem, key: material.keyPem } });
  });

  after(async () => {
    await gatehouse.close();
    await upstream.close();
    selfSigned.server.closeAllConnections();
    selfSigned.server.close();
    closeUpstreamAgents();
    rmSync(dir, { recursive: true, force: true });
  });

  test('sends the caller as impersonation headers with Gatehouse token, never the client token', async () => {
    upstream.received = [];
    const reply = await call(gatehouse, material.caPem, '/api/v1/namespaces/default/pods', {
      headers: {
        authorization: 'Bearer the-callers-own-token',
        'impersonate-user': 'system:admin',
        'impersonate-group': 'system:masters',
        accept: 'application/json;as=Table;v=v1;g=meta.k8s.io',
        'kubectl-command': 'kubectl get',
      },
    });
    assert.equal(reply.status, 200);
    const got = upstream.received[0];
    assert.ok(got);
    assert.equal(got.headers['authorization'], 'Bearer gatehouse-sa-token');
    assert.equal(got.headers['impersonate-user'], 'alice@example.com');
    assert.equal(got.headers['impersonate-uid'], 'uid-123');
    const groups = got.rawHeaders.filter((_, i) => i % 2 === 1 && got.rawHeaders[i - 1]?.toLowerCase() === 'impersonate-group');
    assert.deepEqual(groups, ['dev', 'oncall']);
    assert.equal(got.headers['accept'], 'application/json;as=Table;v=v1;g=meta.k8s.io');
    assert.equal(got.headers['kubectl-command'], 'kubectl get');
    assert.ok(!got.rawHeaders.includes('the-callers-own-token'), 'client token must not be forwarded');
    assert.ok(!got.rawHeaders.includes('system:masters'), 'client impersonation must not be forwarded');
  });

  test('accepts a large bearer token (40 KiB: many groups) and does not forward it', async () => {
    upstream.received = [];
    const reply = await call(gatehouse, material.caPem, '/api/v1/pods', { headers: { authorization: `Bearer ${'x'.repeat(40 * 1024)}` } });
    assert.equal(reply.status, 200);
    assert.equal(upstream.received[0]?.headers['authorization'], 'Bearer gatehouse-sa-token');
  });

  test('forwards only the allowlisted request headers: hop-by-hop and unknown end-to-end ones are dropped', async () => {
    upstream.received = [];
    await call(gatehouse, material.caPem, '/api/v1/pods', {
      headers: {
        connection: 'keep-alive, x-hop-secret',
        'x-hop-secret': '1',
        'keep-alive': 'timeout=5',
        te: 'trailers',
        'proxy-authorization': 'Basic eA==',
        'x-end-to-end': 'dropped',
        'kubectl-session': 's-1',
      },
    });
    const got = upstream.received[0];
    assert.ok(got);
    for (const name of ['x-hop-secret', 'keep-alive', 'te', 'proxy-authorization', 'upgrade', 'x-end-to-end']) assert.equal(got.headers[name], undefined, name);
    assert.equal(got.headers['kubectl-session'], 's-1');
  });

  test('keeps the raw path and query exactly, under the server path prefix', async () => {
    upstream.received = [];
    const path = '/api/v1/namespaces/default/configmaps/a%2Fb%20c?labelSelector=app%3Dweb&fieldSelector=metadata.name%3Dx&watch=1';
    await call(gatehouse, material.caPem, path);
    assert.equal(upstream.received[0]?.url, `/prefix${path}`);
  });

  test('streams a request body and passes an upstream Status error through unchanged, minus hop-by-hop headers', async () => {
    upstream.received = [];
    const reply = await call(gatehouse, material.caPem, '/missing/api/v1/namespaces/default/pods', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"kind":"Pod","metadata":{"name":"x"}}',
    });
    assert.equal(upstream.received[0]?.body, '{"kind":"Pod","metadata":{"name":"x"}}');
    assert.equal(upstream.received[0]?.method, 'POST');
    assert.equal(reply.status, 404);
    assert.deepEqual(statusOf(reply), { code: 404, reason: 'NotFound', message: 'pods "x" not found' });
    assert.equal(reply.headers['x-upstream-hop'], undefined);
    assert.equal(reply.headers['keep-alive'], undefined);
    assert.equal(reply.headers['x-kept'], 'yes');
  });

  test('refuses an identity whose name would split a header (CR/LF)', async () => {
    const reply = await call(gatehouse, material.caPem, '/api/v1/pods', { headers: { 'x-test-user': encodeURIComponent('eve\r\nImpersonate-Group: system:masters') } });
    assert.equal(reply.status, 400);
    assert.deepEqual(statusOf(reply), {
      code: 400,
      reason: 'BadRequest',
      message: 'header impersonate-user for the upstream would contain a control character (CR/LF); refusing to forward',
    });
  });

  test('sends a non-ASCII user name as UTF-8 bytes', async () => {
    upstream.received = [];
    await call(gatehouse, material.caPem, '/api/v1/pods', { headers: { 'x-test-user': encodeURIComponent('zoë@example.com') } });
    const raw = upstream.received[0]?.headers['impersonate-user'] ?? '';
    assert.equal(Buffer.from(String(raw), 'latin1').toString('utf8'), 'zoë@example.com');
  });

  test('streams the first chunk of a watch before the upstream ends, and a client abort closes the upstream request', async () => {
    upstream.received = [];
    const first = await new Promise<{ chunk: string; req: ReturnType<typeof https.request> }>((resolve, reject) => {
      const req = https.request(`${gatehouse.url}/slow/api/v1/pods?watch=1`, { ca: material.caPem, agent: false }, (res) => {
        res.once('data', (chunk: Buffer) => resolve({ chunk: chunk.toString(), req }));
      });
      req.on('error', (error) => (req.destroyed ? undefined : reject(error)));
      req.end();
    });
    assert.equal(first.chunk, '{"type":"ADDED"}\n');
    first.req.destroy();
    await upstream.slowClosed; // resolves only when the upstream sees its request closed
  });

  test('answers 502 ERR_UPSTREAM_UNREACHABLE when nothing listens upstream', async () => {
    const closed = await new Promise<number>((resolve) => {
      const probe = https.createServer();
      probe.listen(0, '127.0.0.1', () => {
        const port = (probe.address() as AddressInfo).port;
        probe.close(() => resolve(port));
      });
    });
    const server = await startNodeServer({
      app: testApp(() => ({ server: new URL(`https://127.0.0.1:${closed}`), ca: material.caPem })),
      host: '127.0.0.1',
      port: 0,
    });
    try {
      const reply = await callPlain(server, '/api/v1/pods');
      assert.equal(reply.status, 502);
      assert.deepEqual(statusOf(reply), {
        code: 502,
        reason: 'ServiceUnavailable',
        message: `upstream https://127.0.0.1:${closed} is unreachable: ECONNREFUSED`,
      });
    } finally {
      await server.close();
    }
  });

  test('answers 504 ERR_UPSTREAM_TIMEOUT when the upstream sends no headers in time', async () => {
    const server = await startNodeServer({ app: testApp(() => connection, 0.2), host: '127.0.0.1', port: 0 });
    try {
      const reply = await callPlain(server, '/hang/api/v1/pods');
      assert.equal(reply.status, 504);
      assert.deepEqual(statusOf(reply), { code: 504, reason: 'Timeout', message: `upstream https://127.0.0.1:${upstream.port} did not answer within 0.2s` });
    } finally {
      await server.close();
    }
  });

  const tlsFailures = [
    {
      name: 'refuses an upstream with a self-signed certificate (ERR_UPSTREAM_TLS)',
      connection: (): UpstreamConnection => ({ server: new URL(`https://127.0.0.1:${selfSigned.port}`), ca: material.caPem }),
      message: (): string => `upstream https://127.0.0.1:${selfSigned.port} failed TLS verification: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)`,
    },
    {
      name: 'refuses an upstream whose certificate another CA signed (ERR_UPSTREAM_TLS)',
      connection: (): UpstreamConnection => ({ server: new URL(`https://127.0.0.1:${upstream.port}`), ca: otherCa.caPem }),
      message: (): string => `upstream https://127.0.0.1:${upstream.port} failed TLS verification: unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`,
    },
    {
      name: 'refuses an upstream whose certificate does not name the server (ERR_UPSTREAM_TLS)',
      connection: (): UpstreamConnection => ({ server: new URL(`https://127.0.0.1:${upstream.port}`), ca: material.caPem, tlsServerName: 'kubernetes.example' }),
      message: (): string =>
        `upstream https://127.0.0.1:${upstream.port} failed TLS verification: Hostname/IP does not match certificate's altnames: Host: kubernetes.example. is not in the cert's altnames: DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1 (ERR_TLS_CERT_ALTNAME_INVALID)`,
    },
  ];
  for (const tc of tlsFailures) {
    test(tc.name, async () => {
      const server = await startNodeServer({ app: testApp(tc.connection), host: '127.0.0.1', port: 0 });
      try {
        const reply = await callPlain(server, '/api/v1/pods');
        assert.equal(reply.status, 502);
        assert.deepEqual(statusOf(reply), { code: 502, reason: 'ServiceUnavailable', message: tc.message() });
      } finally {
        await server.close();
      }
    });
  }

  const credentialFailures = [
    {
      name: 'answers 503 ERR_CREDENTIALS_UNAVAILABLE without repeating what the upstream port said (it may name the role) when it throws',
      failure: new Error('AssumeRole denied for arn:aws:iam::123456789012:role/gh'),
      status: 503,
      reason: 'ServiceUnavailable',
      message: "Gatehouse could not obtain its upstream credentials; the details are in Gatehouse's log",
    },
    {
      name: "passes on the upstream port's own GatehouseError unchanged",
      failure: new GatehouseError('ERR_UPSTREAM_UNREACHABLE', 'EKS DescribeCluster for "prod" is unreachable: ETIMEDOUT'),
      status: 502,
      reason: 'ServiceUnavailable',
      message: 'EKS DescribeCluster for "prod" is unreachable: ETIMEDOUT',
    },
  ];
  for (const tc of credentialFailures) {
    test(tc.name, async () => {
      const app = new Hono();
      app.onError((error) => statusResponse(asGatehouseError(error)));
      app.use('*', route(DEFAULT_ROUTER));
      app.use('*', credentials([{ name: 'default', upstream: { connection: () => Promise.reject(tc.failure) } }]));
      app.all('*', () => new Response('unreachable'));
      const reply = await app.request('/api/v1/pods');
      assert.equal(reply.status, tc.status);
      assert.deepEqual(await reply.json(), {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: tc.message,
        reason: tc.reason,
        ...(tc.status === 503 ? { details: { retryAfterSeconds: 5 } } : {}),
        code: tc.status,
      });
    });
  }

  describe('HTTP Upgrade', () => {
    test('tunnels an upgrade through the pipeline: upstream sees impersonation, frames flow both ways', async () => {
      upstream.received = [];
      const socket = await rawUpgrade(gatehouse, material.caPem, '/api/v1/namespaces/default/pods/web/exec?command=sh&stdin=true', {
        authorization: 'Bearer the-callers-own-token',
      });
      const head = await readUntil(socket, '\r\n\r\n');
      assert.match(head, /^HTTP\/1\.1 101 /);
      assert.match(head, /X-Stream-Protocol-Version: v4\.channel\.k8s\.io/);
      const ping = spdyControlFrame(SPDY_TYPE.ping, 0, Buffer.from([0, 0, 0, 7]));
      const echoed = new Promise<Buffer>((resolve) => {
        const chunks: Buffer[] = [];
        socket.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          if (Buffer.concat(chunks).length >= ping.length) resolve(Buffer.concat(chunks));
        });
      });
      socket.write(ping);
      assert.deepEqual(await echoed, ping, 'the PING went up and came back, read as a frame both ways');
      const got = upstream.received[0];
      assert.ok(got);
      assert.equal(got.url, '/prefix/api/v1/namespaces/default/pods/web/exec?command=sh&stdin=true');
      assert.equal(got.headers['impersonate-user'], 'alice@example.com');
      assert.equal(got.headers['authorization'], 'Bearer gatehouse-sa-token');
      assert.equal(got.headers['upgrade'], 'SPDY/3.1');
      socket.destroy();
    });

    test('writes a refusal from any stage as an HTTP response with the Status, then closes', async () => {
      const socket = await rawUpgrade(gatehouse, material.caPem, '/api/v1/namespaces/default/pods/web/exec', { 'x-test-refuse': '1' });
      const all = await readToEnd(socket);
      assert.match(all, /^HTTP\/1\.1 403 Forbidden\r\n/);
      assert.match(all, /connection: close/i);
      const status = JSON.parse(all.slice(all.indexOf('\r\n\r\n') + 4)) as { message: string; reason: string };
      assert.equal(status.reason, 'Forbidden');
      assert.equal(status.message, 'user "alice@example.com" may not create pods/exec: rule "no-exec"');
    });

    test('streams an upstream’s refusal to switch protocols: the first bytes arrive before the upstream has ended', async () => {
      const socket = await rawUpgrade(gatehouse, material.caPem, '/decline-slowly/api/v1/namespaces/default/pods/web/exec', {});
      const start = await readUntil(socket, 'first\n');
      assert.match(start, /^HTTP\/1\.1 500 Internal Server Error\r\n/);
      assert.doesNotMatch(start, /content-length/i);
      const rest = readToEnd(socket);
      upstream.releaseSlow();
      assert.match(await rest, /last\n/);
    });

    test('passes an upstream that declines to switch protocols back as a response', async () => {
      const socket = await rawUpgrade(gatehouse, material.caPem, '/decline/api/v1/namespaces/default/pods/web/exec', {});
      const all = await readToEnd(socket);
      assert.match(all, /^HTTP\/1\.1 400 Bad Request\r\n/);
      assert.match(all, /upgrade declined/);
    });
  });
});

function callPlain(server: NodeServer, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    void import('node:http').then(({ request }) => {
      const req = request(`${server.url}${path}`, { agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      req.end();
    });
  });
}

/** Opens TLS to Gatehouse and sends an Upgrade request by hand, as kubectl's SPDY client does. */
async function rawUpgrade(server: NodeServer, ca: string, path: string, headers: Record<string, string>): Promise<Socket> {
  const url = new URL(server.url);
  const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const s = tls.connect({ host: url.hostname, port: Number(url.port), ca, servername: 'localhost' }, () => resolve(s));
    s.once('error', reject);
  });
  const lines = [`POST ${path} HTTP/1.1`, `Host: ${url.host}`, 'Connection: Upgrade', 'Upgrade: SPDY/3.1', 'X-Stream-Protocol-Version: v4.channel.k8s.io'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  return socket;
}

function readUntil(socket: Socket, marker: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      if (seen.includes(marker)) {
        socket.off('data', onData);
        resolve(seen);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

function readToEnd(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    socket.on('data', (chunk: Buffer) => (seen += chunk.toString()));
    socket.once('end', () => resolve(seen));
    socket.once('close', () => resolve(seen));
    socket.once('error', reject);
  });
}
