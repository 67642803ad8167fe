/**
 * The EKS upstream against local HTTP endpoints that answer in the real wire formats — STS
 * (AWS Query: form-encoded POST, XML AssumeRoleResponse) and EKS (REST-JSON GET
 * /clusters/<name>) — with the real SDK clients pointed at them. STS and EKS have no local
 * emulator; this is the wire, not a stub of our own code. Time is an injected clock.
 */
import { test, describe, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createEksUpstream, type EksUpstreamConfig } from '../../src/adapters/sts-eks-upstream.ts';
import { GatehouseError } from '../../src/errors.ts';

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

const START = Date.UTC(2025, 4, 6, 7, 0, 0);
const ROLE_ARN = 'arn:aws:iam::123456789012:role/gatehouse-cluster-access';
const CA_PEM = '-----BEGIN CERTIFICATE-----\nMIIBfakeCAforTests\n-----END CERTIFICATE-----\n';
const SOURCE = { accessKeyId: 'AKIDFUNCTIONROLE', secretAccessKey: 'function-secret', sessionToken: 'function-session' };

let now = START;
const clock = { now: () => now };

/** What the endpoints answer; tests change these. */
let stsAnswer: (n: number) => { status: number; body: string } = assumeRoleOk;
let eksAnswer: () => { status: number; body: string; headers?: Record<string, string> } = describeClusterOk;
let sessionSeconds = 3600;

function assumeRoleOk(n: number) {
  const expiration = new Date(now + sessionSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    status: 200,
    body: `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <SourceIdentity></SourceIdentity>
    <AssumedRoleUser>
      <AssumedRoleId>AROAEXAMPLEROLEID:gatehouse</AssumedRoleId>
      <Arn>arn:aws:sts::123456789012:assumed-role/gatehouse-cluster-access/gatehouse</Arn>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAROLEKEY${n}</AccessKeyId>
      <SecretAccessKey>role-secret-${n}</SecretAccessKey>
      <SessionToken>role-session-token-${n}</SessionToken>
      <Expiration>${expiration}</Expiration>
    </Credentials>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>`,
  };
}

function describeClusterOk() {
  return {
    status: 200,
    body: JSON.stringify({
      cluster: {
        name: 'prod',
        arn: 'arn:aws:eks:eu-west-1:123456789012:cluster/prod',
        createdAt: 1.7e9,
        version: '1.32',
        endpoint: 'https://ABCDEF0123456789.gr7.eu-west-1.eks.amazonaws.com',
        roleArn: 'arn:aws:iam::123456789012:role/eks-cluster',
        certificateAuthority: { data: Buffer.from(CA_PEM).toString('base64') },
        status: 'ACTIVE',
        accessConfig: { authenticationMode: 'API' },
      },
    }),
  };
}

const stsReceived: Received[] = [];
const eksReceived: Received[] = [];

function endpoint(received: Received[], answer: () => { status: number; body: string; headers?: Record<string, string> }, contentType: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const { status, body, headers } = answer();
      res.writeHead(status, { 'content-type': contentType, 'x-amzn-requestid': 'test-request', ...headers });
      res.end(body);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
  });
}

let stsServer: Server;
let eksServer: Server;
let config: EksUpstreamConfig;

before(async () => {
  const sts = await endpoint(stsReceived, () => stsAnswer(stsReceived.length - 1), 'text/xml');
  const eks = await endpoint(eksReceived, () => eksAnswer(), 'application/json');
  stsServer = sts.server;
  eksServer = eks.server;
  config = { kind: 'eks', clusterName: 'prod', region: 'eu-west-1', roleArn: ROLE_ARN, stsEndpoint: sts.url, eksEndpoint: eks.url };
});

after(async () => {
  await Promise.all([stsServer, eksServer].map((s) => new Promise((resolve) => s.close(resolve))));
});

beforeEach(() => {
  now = START;
  stsReceived.length = 0;
  eksReceived.length = 0;
  stsAnswer = assumeRoleOk;
  eksAnswer = describeClusterOk;
  sessionSeconds = 3600;
  logged = [];
});

let logged: Record<string, string>[] = [];
const upstream = () => createEksUpstream(config, { clock, sourceCredentials: SOURCE, log: (entry) => logged.push(entry) });

function tokenUrl(token: string | undefined): URL {
  assert.ok(token !== undefined && token.startsWith('k8s-aws-v1.'));
  return new URL(Buffer.from(token.slice('k8s-aws-v1.'.length), 'base64url').toString('utf8'));
}

describe('EKS upstream over the STS and EKS wire formats', () => {
  test('assumes the cluster access role with an AWS Query AssumeRole signed by the source credentials', async () => {
    await upstream().connection();
    assert.equal(stsReceived.length, 1);
    const [call] = stsReceived;
    assert.ok(call);
    assert.equal(call.method, 'POST');
    assert.equal(call.url, '/');
    const form = new URLSearchParams(call.body);
    assert.equal(form.get('Action'), 'AssumeRole');
    assert.equal(form.get('Version'), '2011-06-15');
    assert.equal(form.get('RoleArn'), ROLE_ARN);
    assert.equal(form.get('RoleSessionName'), 'gatehouse');
    assert.equal(form.get('DurationSeconds'), '3600');
    const authorization = String(call.headers.authorization);
    assert.match(authorization, /^AWS4-HMAC-SHA256 Credential=AKIDFUNCTIONROLE\/\d{8}\/eu-west-1\/sts\/aws4_request, SignedHeaders=[^,]*host[^,]*, Signature=[0-9a-f]{64}$/);
    assert.equal(call.headers['x-amz-security-token'], 'function-session');
  });

  test('describes the cluster with a REST-JSON GET /clusters/<name> signed for eks', async () => {
    await upstream().connection();
    assert.equal(eksReceived.length, 1);
    const [call] = eksReceived;
    assert.ok(call);
    assert.equal(call.method, 'GET');
    assert.equal(call.url, '/clusters/prod');
    assert.match(String(call.headers.authorization), /^AWS4-HMAC-SHA256 Credential=AKIDFUNCTIONROLE\/\d{8}\/eu-west-1\/eks\/aws4_request, SignedHeaders=/);
  });

  test('returns the cluster endpoint, its CA and a token signed with the role credentials', async () => {
    const connection = await upstream().connection();
    assert.equal(connection.server.href, 'https://abcdef0123456789.gr7.eu-west-1.eks.amazonaws.com/');
    assert.equal(connection.ca, CA_PEM);
    const url = tokenUrl(connection.token);
    assert.equal(url.host, 'sts.eu-west-1.amazonaws.com');
    assert.equal(url.searchParams.get('X-Amz-Credential'), 'ASIAROLEKEY0/20250506/eu-west-1/sts/aws4_request');
    assert.equal(url.searchParams.get('X-Amz-Security-Token'), 'role-session-token-0');
    assert.equal(url.searchParams.get('X-Amz-Date'), '20250506T070000Z');
    assert.equal(url.searchParams.get('X-Amz-SignedHeaders'), 'host;x-k8s-aws-id');
  });

  test('calls STS and EKS once for many requests, concurrent ones included', async () => {
    const u = upstream();
    const results = await Promise.all([u.connection(), u.connection(), u.connection()]);
    await u.connection();
    assert.equal(stsReceived.length, 1);
    assert.equal(eksReceived.length, 1);
    assert.equal(new Set(results.map((r) => r.token)).size, 1);
  });

  test('keeps the token for 14 minutes, then signs a new one with the same role credentials', async () => {
    const u = upstream();
    const first = await u.connection();
    now = START + 14 * 60 * 1000 - 1;
    assert.equal((await u.connection()).token, first.token);
    now = START + 14 * 60 * 1000;
    const second = await u.connection();
    assert.notEqual(second.token, first.token);
    assert.equal(tokenUrl(second.token).searchParams.get('X-Amz-Date'), '20250506T071400Z');
    assert.equal(tokenUrl(second.token).searchParams.get('X-Amz-Credential')?.split('/')[0], 'ASIAROLEKEY0');
    assert.equal(stsReceived.length, 1);
  });

  test('assumes the role again 5 minutes before its credentials expire', async () => {
    const u = upstream();
    await u.connection();
    for (const minute of [14, 28, 42]) {
      now = START + minute * 60 * 1000;
      await u.connection();
    }
    assert.equal(stsReceived.length, 1);
    now = START + 56 * 60 * 1000; // token from minute 42 is due; credentials are inside the 5-minute margin
    const renewed = await u.connection();
    assert.equal(stsReceived.length, 2);
    assert.equal(tokenUrl(renewed.token).searchParams.get('X-Amz-Credential')?.split('/')[0], 'ASIAROLEKEY1');
  });

  test('never keeps a token past the credentials it was signed with', async () => {
    sessionSeconds = 15 * 60; // a short session: expires at minute 15
    const u = upstream();
    const first = await u.connection();
    now = START + 10 * 60 * 1000 - 1; // credentials are refreshed at 10 min, the token is dropped at 14 min
    assert.equal((await u.connection()).token, first.token);
    now = START + 14 * 60 * 1000 - 1;
    assert.equal((await u.connection()).token, first.token);
    assert.equal(stsReceived.length, 1);
    now = START + 14 * 60 * 1000; // 1 minute before the credentials expire
    const second = await u.connection();
    assert.notEqual(second.token, first.token);
    assert.equal(stsReceived.length, 2);
  });

  test('drops the token and the role session the cluster refused (401), and builds new ones', async () => {
    const u = upstream();
    const first = await u.connection();
    u.rejected?.(first);
    const second = await u.connection();
    assert.notEqual(second.token, first.token);
    assert.equal(stsReceived.length, 2, 'the role is assumed again');
    assert.equal(tokenUrl(second.token).searchParams.get('X-Amz-Credential')?.split('/')[0], 'ASIAROLEKEY1');
    assert.equal(eksReceived.length, 1, 'the cluster endpoint is kept');
  });

  test('keeps its newer token when a call made with an older one is refused', async () => {
    const u = upstream();
    const first = await u.connection();
    u.rejected?.(first);
    const second = await u.connection();
    u.rejected?.(first); // a slow call that still used the first token
    assert.equal((await u.connection()).token, second.token);
    assert.equal(stsReceived.length, 2);
  });

  test('describes the cluster again after an hour', async () => {
    const u = upstream();
    await u.connection();
    now = START + 60 * 60 * 1000 - 1;
    await u.connection();
    assert.equal(eksReceived.length, 1);
    now = START + 60 * 60 * 1000;
    await u.connection();
    assert.equal(eksReceived.length, 2);
  });

  const failures: {
    name: string;
    arrange: () => void;
    message: string;
    log?: Record<string, string>;
  }[] = [
    {
      name: 'refuses without naming the role or the account when STS denies AssumeRole, and logs both',
      arrange: () => {
        stsAnswer = () => ({
          status: 403,
          body: `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:sts::123456789012:assumed-role/fn/x is not authorized to perform: sts:AssumeRole on resource: ${ROLE_ARN}</Message></Error><RequestId>r1</RequestId></ErrorResponse>`,
        });
      },
      message: "Gatehouse cannot assume its cluster access role (STS answered AccessDenied); the details are in Gatehouse's log",
      log: {
        message: 'gatehouse credentials: AssumeRole failed',
        roleArn: ROLE_ARN,
        cluster: 'prod',
        region: 'eu-west-1',
        error: `AccessDenied: User: arn:aws:sts::123456789012:assumed-role/fn/x is not authorized to perform: sts:AssumeRole on resource: ${ROLE_ARN}`,
      },
    },
    {
      name: 'refuses naming the cluster but not the account when EKS does not know it',
      arrange: () => {
        eksAnswer = () => ({
          status: 404,
          body: JSON.stringify({ message: 'No cluster found for name: prod.' }),
          headers: { 'x-amzn-errortype': 'ResourceNotFoundException:http://internal.amazon.com/coral/com.amazonaws.eks/' },
        });
      },
      message: `Gatehouse cannot describe EKS cluster "prod" in eu-west-1 (EKS answered ResourceNotFoundException); the details are in Gatehouse's log`,
      log: {
        message: 'gatehouse credentials: DescribeCluster failed',
        roleArn: ROLE_ARN,
        cluster: 'prod',
        region: 'eu-west-1',
        error: 'ResourceNotFoundException: No cluster found for name: prod.',
      },
    },
    {
      name: 'refuses a cluster that has no endpoint yet',
      arrange: () => {
        eksAnswer = () => ({ status: 200, body: JSON.stringify({ cluster: { name: 'prod', status: 'CREATING' } }) });
      },
      message: 'EKS cluster "prod" has no endpoint or certificate authority yet (status CREATING)',
    },
  ];
  for (const { name, arrange, message, log } of failures) {
    test(name, async () => {
      arrange();
      await assert.rejects(upstream().connection(), (error: unknown) => {
        assert.ok(error instanceof GatehouseError);
        assert.equal(error.code, 'ERR_CREDENTIALS_UNAVAILABLE');
        assert.equal(error.httpStatus, 503);
        assert.equal(error.message, message);
        assert.equal(error.details?.retryAfterSeconds, 5);
        assert.doesNotMatch(error.message, /123456789012|arn:aws/);
        return true;
      });
      if (log !== undefined) assert.deepEqual(logged, [log]);
    });
  }

  test('tries again on the next request after a failure (failures are not cached)', async () => {
    const u = upstream();
    stsAnswer = () => ({
      status: 403,
      body: '<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>no</Message></Error><RequestId>r</RequestId></ErrorResponse>',
    });
    await assert.rejects(u.connection(), /STS answered AccessDenied/);
    stsAnswer = assumeRoleOk;
    const connection = await u.connection();
    assert.ok(connection.token?.startsWith('k8s-aws-v1.'));
    assert.equal(stsReceived.length, 2);
  });
});
