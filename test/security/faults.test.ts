/**
 * Faults in what Gatehouse depends on, with real parts and failures injected only at the wire:
 * - the identity provider's JWKS endpoint down (keys already fetched keep working; a new kid gets a clear 401);
 * - STS or EKS DescribeCluster failing (503 with Retry-After, nothing forwarded, no role ARN or account told);
 * - the cluster resetting the connection in the middle of a watch (a clean end, and a record saying so);
 * - DynamoDB unreachable, or its answer lost, during approvals (no grant lost or consumed twice; a clear 503).
 * Each case asserts the status, reason and message, and what the cluster received.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, connect, type Server as NetServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createEksUpstream } from '../../src/adapters/sts-eks-upstream.ts';
import { createS3Records } from '../../src/adapters/s3-records.ts';
import { createApprovalsFromConfig } from '../../src/approvals/create-approvals.ts';
import { createRecordSink } from '../../src/records/sink.ts';
import type { SessionRecord } from '../../src/records/schema.ts';
import { FakeClock, startApprovalStack, type ApprovalStack } from '../approvals/support.ts';
import { startS3Fixture, type S3Fixture } from '../records/support.ts';
import { createTestCertificates } from '../stand-in/tls.ts';
import { request } from '../support/https-client.ts';
import { NOW, NOW_S, RecordingUpstream, refusalOf, signingKey, startGatehouseUnderTest, type GatehouseUnderTest } from './gatehouse-under-test.ts';

const PODS = '/api/v1/namespaces/default/pods';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/gatehouse-cluster-access';

describe('the JWKS endpoint down', () => {
  let now = NOW;
  let g: GatehouseUnderTest;
  before(async () => {
    g = await startGatehouseUnderTest({ clock: { now: () => now } });
  });
  after(() => g.close());
  const token = (changes: Record<string, unknown> = {}) => g.idp.sign({ exp: NOW_S + 86400, ...changes });

  test('keys already fetched keep working past their refresh age, and the call is forwarded as the caller', async () => {
    assert.equal((await g.send('GET', PODS, { authorization: `Bearer ${await token({ jti: 'warm-up' })}` })).status, 200);
    g.idp.up = false;
    now = NOW + 15 * 60_000;
    const before = g.upstream.calls.length;
    const answer = await g.send('GET', PODS, { authorization: `Bearer ${await token({ jti: 'while-down' })}` });
    assert.equal(answer.status, 200);
    assert.deepEqual(g.upstream.calls.slice(before).map((c) => [c.method, c.url, c.user, c.groups]), [['GET', PODS, 'alice@example.com', ['dev']]]);
  });

  test('a token naming a key the cached set lacks gets a 401 saying the set could not be fetched again; nothing is forwarded', async () => {
    g.idp.up = false;
    now = NOW + 16 * 60_000;
    const rotated = await signingKey('ES256', 'rotated-1');
    const before = g.upstream.calls.length;
    const answer = await g.send('GET', PODS, { authorization: `Bearer ${await g.idp.sign({ exp: NOW_S + 86400 }, rotated)}` });
    assert.deepEqual(refusalOf(answer), {
      code: 401,
      reason: 'Unauthorized',
      message: `no key in the issuer's JWKS (as fetched at 2025-01-15T12:00:00.000Z) matches kid "rotated-1" (algorithm "ES256"), and fetching the JWKS again to look for it failed: the identity provider's JWKS at ${g.idp.jwksUri} could not be used: it answered HTTP 503`,
    });
    assert.deepEqual(g.upstream.calls.slice(before), []);
  });
});

/** STS (AWS Query, XML) and EKS (REST-JSON) on one local HTTP endpoint, each switchable to fail. */
class AwsWire {
  server: Server;
  url = '';
  sts: 'ok' | 'denied' | 'down' = 'ok';
  eks: 'ok' | 'denied' = 'ok';
  clusterEndpoint = '';
  clusterCa = '';

  constructor() {
    this.server = createHttpServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.method === 'POST') {
          if (this.sts === 'down') {
            res.socket?.destroy();
            return;
          }
          if (this.sts === 'denied') {
            res.writeHead(403, { 'content-type': 'text/xml' });
            res.end(
              `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:sts::123456789012:assumed-role/fn/x is not authorized to perform: sts:AssumeRole on resource: ${ROLE_ARN}</Message></Error><RequestId>r1</RequestId></ErrorResponse>`,
            );
            return;
          }
          const expiration = new Date(Date.now() + 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
          res.writeHead(200, { 'content-type': 'text/xml' });
          res.end(
            `<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIAROLE</AccessKeyId><SecretAccessKey>role-secret</SecretAccessKey><SessionToken>role-session</SessionToken><Expiration>${expiration}</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>`,
          );
          return;
        }
        if (this.eks === 'denied') {
          res.writeHead(403, { 'content-type': 'application/json', 'x-amzn-errortype': 'AccessDeniedException' });
          res.end(JSON.stringify({ message: `User: arn:aws:sts::123456789012:assumed-role/fn/x is not authorized to perform: eks:DescribeCluster on resource: arn:aws:eks:eu-west-1:123456789012:cluster/prod` }));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ cluster: { name: 'prod', status: 'ACTIVE', endpoint: this.clusterEndpoint, certificateAuthority: { data: Buffer.from(this.clusterCa).toString('base64') } } }));
      });
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('STS or EKS DescribeCluster failing', () => {
  const aws = new AwsWire();
  const logged: Record<string, string>[] = [];
  let cluster: RecordingUpstream;
  before(async () => {
    const tls = await createTestCertificates('127.0.0.1');
    cluster = new RecordingUpstream({ cert: tls.certPem, key: tls.keyPem });
    await Promise.all([aws.listen(), cluster.listen()]);
    aws.clusterEndpoint = cluster.url;
    aws.clusterCa = tls.caPem;
  });
  after(async () => {
    await aws.close();
    await cluster.close();
  });
  /** A Gatehouse with a fresh EKS upstream (nothing cached), in front of the recording cluster. */
  async function withGatehouse(run: (g: GatehouseUnderTest) => Promise<void>): Promise<void> {
    const eks = createEksUpstream(
      { kind: 'eks', clusterName: 'prod', region: 'eu-west-1', roleArn: ROLE_ARN, stsEndpoint: aws.url, eksEndpoint: aws.url },
      { sourceCredentials: { accessKeyId: 'AKIDFUNCTION', secretAccessKey: 'function-secret' }, log: (entry) => logged.push(entry) },
    );
    const g = await startGatehouseUnderTest({ upstream: cluster, deps: { upstream: eks } });
    try {
      await run(g);
    } finally {
      await g.close();
    }
  }

  const failures: { name: string; arrange: () => void; message: string; logged: string }[] = [
    {
      name: 'STS denies AssumeRole',
      arrange: () => (aws.sts = 'denied'),
      message: "Gatehouse cannot assume its cluster access role (STS answered AccessDenied); the details are in Gatehouse's log",
      logged: 'gatehouse credentials: AssumeRole failed',
    },
    {
      name: 'STS drops the connection',
      arrange: () => (aws.sts = 'down'),
      message: "Gatehouse cannot assume its cluster access role (STS answered ECONNRESET); the details are in Gatehouse's log",
      logged: 'gatehouse credentials: AssumeRole failed',
    },
    {
      name: 'EKS denies DescribeCluster',
      arrange: () => (aws.eks = 'denied'),
      message: `Gatehouse cannot describe EKS cluster "prod" in eu-west-1 (EKS answered AccessDeniedException); the details are in Gatehouse's log`,
      logged: 'gatehouse credentials: DescribeCluster failed',
    },
  ];
  for (const c of failures) {
    test(`${c.name}: 503 with Retry-After, no role ARN or account in the answer, nothing forwarded, the details logged`, async () => {
      aws.sts = 'ok';
      aws.eks = 'ok';
      c.arrange();
      logged.length = 0;
      const before = cluster.calls.length;
      try {
        await withGatehouse(async (g) => {
          const answer = await g.send('GET', PODS, { authorization: `Bearer ${await g.idp.sign()}` });
          assert.deepEqual(refusalOf(answer), { code: 503, reason: 'ServiceUnavailable', message: c.message });
          assert.equal(answer.headers['retry-after'], '5');
          assert.equal(answer.json<{ details: { retryAfterSeconds: number } }>().details.retryAfterSeconds, 5);
          assert.doesNotMatch(answer.text, /123456789012|arn:aws|gatehouse-cluster-access/);
        });
        assert.deepEqual(cluster.calls.slice(before), []);
        assert.equal(logged[0]?.['message'], c.logged);
        assert.equal(logged[0]?.['roleArn'], ROLE_ARN);
        assert.match(logged[0]?.['error'] ?? '', /123456789012|ECONNRESET/);
      } finally {
        aws.sts = 'ok';
        aws.eks = 'ok';
      }
    });
  }

  test('once STS and EKS answer, the same call goes through as the caller with the EKS token', async () => {
    const before = cluster.calls.length;
    await withGatehouse(async (g) => {
      const answer = await g.send('GET', PODS, { authorization: `Bearer ${await g.idp.sign()}` });
      assert.equal(answer.status, 200, answer.text);
    });
    const calls = cluster.calls.slice(before);
    assert.deepEqual(calls.map((c) => [c.method, c.url, c.user, c.groups]), [['GET', PODS, 'alice@example.com', ['dev']]]);
    assert.match(calls[0]?.headers['authorization']?.[0] ?? '', /^Bearer k8s-aws-v1\./);
  });
});

describe('the cluster resets the connection in the middle of a watch', () => {
  let s3: S3Fixture;
  let g: GatehouseUnderTest;
  const prefix = 'faults/';
  before(async () => {
    s3 = await startS3Fixture();
    const sink = createRecordSink(createS3Records({ bucket: s3.bucket, prefix, client: s3.client }), { flushIntervalMs: 60_000 });
    g = await startGatehouseUnderTest({ deps: { records: sink, recordSettings: { maxBodyBytes: 4096, trustForwardedFor: false } } });
    g.upstream.answer = (call, res) => {
      if (!call.url.includes('watch=true')) return false;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`${JSON.stringify({ type: 'ADDED', object: { kind: 'Pod', apiVersion: 'v1', metadata: { name: 'web-1', namespace: 'default' } } })}\n`);
      setTimeout(() => res.socket?.destroy(), 50);
      return true;
    };
    // Records are written by the sink; the fixture closes the server, the sink is flushed here.
    records = async () => {
      await sink.flush();
      const out: SessionRecord[] = [];
      for await (const r of createS3Records({ bucket: s3.bucket, prefix, client: s3.client }).read({})) out.push(r);
      return out;
    };
  });
  let records: () => Promise<SessionRecord[]> = async () => [];
  after(async () => {
    await g.close();
    await s3.close();
  });

  test('the client gets the events sent so far and a clean end; the record says the upstream broke', async () => {
    const answer = await g.send('GET', `${PODS}?watch=true`, { authorization: `Bearer ${await g.idp.sign()}` });
    assert.equal(answer.status, 200);
    assert.deepEqual(
      answer.text.trim().split('\n').map((line) => (JSON.parse(line) as { type: string }).type),
      ['ADDED'],
    );
    let watch: SessionRecord | undefined;
    for (let attempt = 0; attempt < 50 && watch === undefined; attempt++) {
      watch = (await records()).find((r) => r.query === 'watch=true' && r.phase === 'outcome');
      if (watch === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(watch !== undefined, 'the watch has an outcome record');
    assert.equal(watch.stream_end, 'upstream_error');
    assert.equal(watch.status_code, 200);
    assert.equal(watch.user_name, 'alice@example.com');
  });
});

/**
 * A TCP proxy in front of dynalite: passes bytes, refuses every connection ("down"), or lets the
 * next write naming a grant use (`lastUseId`) reach DynamoDB and then drops its answer.
 */
class DynamoWire {
  server: NetServer;
  url = '';
  mode: 'pass' | 'down' | 'drop-use-answer' = 'pass';
  private sockets = new Set<Socket>();

  constructor(private target: URL) {
    this.server = createNetServer((client) => this.accept(client));
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Switches mode, cutting pooled connections so the SDK meets the new mode at once. */
  set(mode: DynamoWire['mode']): void {
    this.mode = mode;
    for (const socket of this.sockets) socket.destroy();
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.mode === 'down') {
      client.destroy();
      return;
    }
    const upstream = connect(Number(this.target.port), this.target.hostname);
    this.sockets.add(client).add(upstream);
    let dropNextAnswer = false;
    client.on('data', (chunk: Buffer) => {
      if (this.mode === 'drop-use-answer' && chunk.includes('lastUseId')) {
        dropNextAnswer = true;
        this.mode = 'pass';
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (dropNextAnswer) {
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  }
}

describe('DynamoDB unavailable during approvals', () => {
  let stack: ApprovalStack;
  let wire: DynamoWire;
  let g: GatehouseUnderTest;
  const clock = new FakeClock(NOW);
  let counter = 0;
  const formHeaders = (): Record<string, string> => ({ origin: g.url, 'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded' });

  before(async () => {
    stack = await startApprovalStack('https://gatehouse.example.com');
    wire = new DynamoWire(new URL(stack.config.dynamodbEndpoint ?? ''));
    await wire.listen();
    const approvals = createApprovalsFromConfig({ ...stack.config, dynamodbEndpoint: wire.url }, { clock });
    g = await startGatehouseUnderTest({ clock, deps: { approvals } });
  });
  after(async () => {
    await g.close();
    await wire.close();
    await stack.close();
  });

  const token = () => g.idp.sign({ exp: NOW_S + 86400 });
  const del = async (path: string) => g.send('DELETE', path, { authorization: `Bearer ${await token()}` });

  async function pendingApproval(): Promise<{ path: string; id: string; link: string }> {
    const path = `/api/v1/namespaces/prod/configmaps/faulty-${++counter}`;
    const first = await del(path);
    const id = first.json<{ details: { name: string } }>().details.name;
    const text = (await stack.mail.messages('bob@example.com')).filter((m) => m.body.text?.includes(id)).at(-1)?.body.text ?? '';
    const url = new URL(/https:\/\/\S+\/_gatehouse\/approvals\/\S+/.exec(text)?.[0] ?? 'https://missing/');
    return { path, id, link: url.pathname + url.search };
  }

  async function decide(link: string, verdict: string): Promise<{ status: number; text: string }> {
    const page = await g.send('GET', link);
    const formToken = /name="formToken" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
    return g.send('POST', link, formHeaders(), new URLSearchParams({ formToken, verdict }).toString());
  }

  test('down when a review starts: 503 with Retry-After, nothing mailed, nothing forwarded', async () => {
    wire.set('down');
    const mails = (await stack.mail.messages('bob@example.com')).length;
    const before = g.upstream.calls.length;
    try {
      const answer = await del('/api/v1/namespaces/prod/configmaps/never-asked');
      assert.deepEqual(refusalOf(answer), {
        code: 503,
        reason: 'ServiceUnavailable',
        message: 'the approvals table could not look up the approval of this request (DynamoDB: ECONNRESET); nothing was approved or forwarded',
      });
      assert.equal(answer.headers['retry-after'], '5');
    } finally {
      wire.set('pass');
    }
    assert.equal((await stack.mail.messages('bob@example.com')).length, mails);
    assert.deepEqual(g.upstream.calls.slice(before), []);
  });

  test('down while the approver decides: 503 on the page, the approval stays pending, and deciding works once it is back', async () => {
    const { path, id, link } = await pendingApproval();
    const page = await g.send('GET', link);
    const formToken = /name="formToken" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
    wire.set('down');
    let refused;
    try {
      refused = await g.send('POST', link, formHeaders(), new URLSearchParams({ formToken, verdict: 'approve' }).toString());
    } finally {
      wire.set('pass');
    }
    assert.equal(refused.status, 503);
    assert.match(refused.text, new RegExp(`the approvals table could not read approval ${id} \\(DynamoDB: ECONNRESET\\); nothing was approved or forwarded`));
    const before = g.upstream.calls.length;
    assert.match(refusalOf(await del(path)).message, new RegExp(`approval ${id} is pending`));
    assert.equal((await decide(link, 'approve')).status, 303);
    assert.equal((await del(path)).status, 200);
    assert.deepEqual(g.upstream.calls.slice(before).map((c) => [c.method, c.url, c.user]), [['DELETE', path, 'alice@example.com']]);
  });

  test('down when an approved grant would be used: 503, nothing forwarded, and the grant still works once afterwards', async () => {
    const { path, link } = await pendingApproval();
    assert.equal((await decide(link, 'approve')).status, 303);
    const before = g.upstream.calls.length;
    wire.set('down');
    try {
      const answer = await del(path);
      assert.equal(refusalOf(answer).code, 503);
      assert.equal(refusalOf(answer).reason, 'ServiceUnavailable');
    } finally {
      wire.set('pass');
    }
    assert.deepEqual(g.upstream.calls.slice(before), []);
    assert.equal((await del(path)).status, 200);
    assert.match(refusalOf(await del(path)).message, /without approval/);
    assert.deepEqual(g.upstream.calls.slice(before).map((c) => [c.method, c.url]), [['DELETE', path]]);
  });

  test("DynamoDB's answer to the grant's use is lost after the write: the retry recognises its own use, the call goes through exactly once", async () => {
    const { path, id, link } = await pendingApproval();
    assert.equal((await decide(link, 'approve')).status, 303);
    const before = g.upstream.calls.length;
    wire.set('drop-use-answer');
    const answer = await del(path);
    assert.equal(answer.status, 200, answer.text);
    assert.equal(wire.mode, 'pass', 'the write naming the use went through the wire, and its answer was dropped');
    const replay = await del(path);
    assert.match(refusalOf(replay).message, /without approval/);
    assert.deepEqual(g.upstream.calls.slice(before).map((c) => [c.method, c.url]), [['DELETE', path]]);
    const page = await g.send('GET', link);
    assert.match(page.text, /one-shot grant has been used|consumed/i);
    assert.ok(id !== '');
  });
});

// A plain client request helper keeps the suite honest about TLS: every call above went over HTTPS.
void request;
