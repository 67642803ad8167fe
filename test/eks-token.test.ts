/**
 * The EKS token against a test implementation of every check aws-iam-authenticator's
 * server makes (pkg/token/token.go `Verify`), plus STS's own signature check recomputed
 * here with a node:crypto HMAC chain written independently of the signer under test.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { HttpRequest } from '@smithy/protocol-http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { createEksToken, stsHostname, MAX_TOKEN_BYTES, TOKEN_LIFETIME_MS, type AwsCredentials } from '../src/eks-token.ts';
import { GatehouseError } from '../src/errors.ts';

const SIGNED_AT = Date.UTC(2025, 4, 6, 7, 8, 9);
const clock = { now: () => SIGNED_AT };
const credentials: AwsCredentials = {
  accessKeyId: 'ASIAEXAMPLEACCESSKEY',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+session/token==',
};
const REGION = 'eu-west-1';
const CLUSTER = 'prod-cluster';

// ---- a test implementation of aws-iam-authenticator's Verify (every rule it applies) ----

const ALLOWED_KEYS = new Set([
  'action',
  'version',
  'x-amz-algorithm',
  'x-amz-credential',
  'x-amz-date',
  'x-amz-expires',
  'x-amz-security-token',
  'x-amz-signature',
  'x-amz-signedheaders',
]);

/** The regional STS hosts of the aws partition (the verifier resolves these from the SDK's endpoint list). */
const VALID_STS_HOSTS = new Set(['sts.amazonaws.com', ...['us-east-1', 'us-west-2', 'eu-west-1', 'eu-central-1', 'ap-southeast-2'].map(stsHostname)]);

interface Verified {
  url: URL;
  params: Map<string, string>;
}

function verifyLikeAwsIamAuthenticator(token: string, nowMs: number): Verified {
  if (token.length > 4096) throw new Error('token is too large');
  if (!token.startsWith('k8s-aws-v1.')) throw new Error('token is missing expected "k8s-aws-v1." prefix');
  const encoded = token.slice('k8s-aws-v1.'.length);
  // Go's base64.RawURLEncoding: URL alphabet, no padding, no stray characters.
  if (!/^[A-Za-z0-9_-]*$/.test(encoded) || encoded.length % 4 === 1) throw new Error('illegal base64 data');
  const url = new URL(Buffer.from(encoded, 'base64url').toString('utf8'));
  if (url.protocol !== 'https:') throw new Error(`unexpected scheme ${url.protocol} in pre-signed URL`);
  if (!VALID_STS_HOSTS.has(url.host)) throw new Error(`unexpected hostname "${url.host}" in pre-signed URL`);
  if (url.pathname !== '/') throw new Error('unexpected path in pre-signed URL');
  const params = new Map<string, string>();
  const seen = new Map<string, number>();
  for (const [key] of url.searchParams) seen.set(key, (seen.get(key) ?? 0) + 1);
  for (const [key, count] of seen) {
    if (!ALLOWED_KEYS.has(key.toLowerCase())) throw new Error(`non-whitelisted query parameter "${key}"`);
    if (count !== 1) throw new Error('query parameter with multiple values not supported');
    if (params.has(key.toLowerCase())) throw new Error('query parameter with multiple values not supported');
    params.set(key.toLowerCase(), url.searchParams.get(key) ?? '');
  }
  if (params.get('action') !== 'GetCallerIdentity') throw new Error('unexpected action parameter in pre-signed URL');
  const signedHeaders = (params.get('x-amz-signedheaders') ?? '').split(';').map((h) => h.toLowerCase());
  if (!signedHeaders.includes('x-k8s-aws-id')) throw new Error('client did not sign the x-k8s-aws-id header in the pre-signed URL');
  const expiresText = params.get('x-amz-expires') ?? '';
  const expires = /^-?\d+$/.test(expiresText) ? Number(expiresText) : NaN;
  if (!Number.isInteger(expires) || expires < 0 || expires > 900) throw new Error(`invalid X-Amz-Expires parameter in pre-signed URL: ${expiresText}`);
  const date = params.get('x-amz-date') ?? '';
  if (date === '') throw new Error('X-Amz-Date parameter must be present in pre-signed URL');
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(date);
  if (match === null) throw new Error(`error parsing X-Amz-Date parameter ${date}`);
  const [, y, mo, d, h, mi, s] = match.map(Number) as [number, number, number, number, number, number, number];
  const signedAt = Date.UTC(y, mo - 1, d, h, mi, s);
  if (nowMs > signedAt + 15 * 60 * 1000) throw new Error('X-Amz-Date parameter is expired (15 minute expiration)');
  return { url, params };
}

// ---- STS's signature check, recomputed independently (SigV4 query signing) ----

function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** What STS computes for the GET the verifier sends (it sets x-k8s-aws-id to its own cluster name). */
function expectedSignature(verified: Verified, secretAccessKey: string, clusterIdHeader: string): string {
  const { url, params } = verified;
  const canonicalQuery = [...url.searchParams]
    .filter(([key]) => key !== 'X-Amz-Signature')
    .map(([key, value]) => `${rfc3986(key)}=${rfc3986(value)}`)
    .sort()
    .join('&');
  const signedHeaders = params.get('x-amz-signedheaders') ?? '';
  const headerValues: Record<string, string> = { host: url.host, 'x-k8s-aws-id': clusterIdHeader };
  const canonicalHeaders = signedHeaders
    .split(';')
    .map((name) => `${name}:${headerValues[name] ?? ''}\n`)
    .join('');
  const emptyPayload = createHash('sha256').update('').digest('hex');
  const canonicalRequest = ['GET', '/', canonicalQuery, canonicalHeaders, signedHeaders, emptyPayload].join('\n');
  const [, shortDate, region, service, terminator] = (params.get('x-amz-credential') ?? '').split('/');
  const scope = `${shortDate}/${region}/${service}/${terminator}`;
  const stringToSign = ['AWS4-HMAC-SHA256', params.get('x-amz-date'), scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
  let key: Buffer | string = `AWS4${secretAccessKey}`;
  for (const part of [shortDate ?? '', region ?? '', service ?? '', terminator ?? '']) key = hmac(key, part);
  return createHmac('sha256', key).update(stringToSign).digest('hex');
}

const build = (overrides: Partial<Parameters<typeof createEksToken>[0]> = {}) =>
  createEksToken({ credentials, region: REGION, clusterName: CLUSTER, clock, ...overrides });

describe('EKS token', () => {
  test('passes every check aws-iam-authenticator makes, right after signing', async () => {
    const { token } = await build();
    const verified = verifyLikeAwsIamAuthenticator(token, SIGNED_AT);
    assert.equal(verified.url.host, 'sts.eu-west-1.amazonaws.com');
    assert.equal(verified.params.get('version'), '2011-06-15');
    assert.equal(verified.params.get('x-amz-expires'), '60');
    assert.equal(verified.params.get('x-amz-algorithm'), 'AWS4-HMAC-SHA256');
    assert.equal(verified.params.get('x-amz-signedheaders'), 'host;x-k8s-aws-id');
    assert.equal(verified.params.get('x-amz-security-token'), credentials.sessionToken);
    assert.equal(verified.params.get('x-amz-credential'), `${credentials.accessKeyId}/20250506/eu-west-1/sts/aws4_request`);
    assert.equal(verified.params.get('x-amz-date'), '20250506T070809Z');
  });

  test('has a signature that recomputes to the same value with the same credentials, time and cluster', async () => {
    const { token } = await build();
    const verified = verifyLikeAwsIamAuthenticator(token, SIGNED_AT);
    assert.equal(verified.params.get('x-amz-signature'), expectedSignature(verified, credentials.secretAccessKey, CLUSTER));
  });

  test('has a signature that does not match when the verifier serves another cluster', async () => {
    const { token } = await build();
    const verified = verifyLikeAwsIamAuthenticator(token, SIGNED_AT);
    assert.notEqual(verified.params.get('x-amz-signature'), expectedSignature(verified, credentials.secretAccessKey, 'other-cluster'));
  });

  test('has a signature that does not match with another secret key', async () => {
    const { token } = await build();
    const verified = verifyLikeAwsIamAuthenticator(token, SIGNED_AT);
    assert.notEqual(verified.params.get('x-amz-signature'), expectedSignature(verified, 'another-secret', CLUSTER));
  });

  test('is the same token for the same inputs (deterministic)', async () => {
    assert.equal((await build()).token, (await build()).token);
  });

  test('is prefixed, base64url without padding, and within 4096 bytes', async () => {
    const { token } = await build();
    assert.match(token, /^k8s-aws-v1\.[A-Za-z0-9_-]+$/);
    assert.ok(token.length <= MAX_TOKEN_BYTES);
  });

  test('is used for 14 minutes and accepted by the server for 15', async () => {
    const { token, expiresAt } = await build();
    assert.equal(expiresAt, SIGNED_AT + TOKEN_LIFETIME_MS);
    assert.equal(TOKEN_LIFETIME_MS, 14 * 60 * 1000);
    verifyLikeAwsIamAuthenticator(token, SIGNED_AT + 15 * 60 * 1000);
    assert.throws(() => verifyLikeAwsIamAuthenticator(token, SIGNED_AT + 15 * 60 * 1000 + 1), /X-Amz-Date parameter is expired/);
  });

  test('carries no security token query key for long-term credentials', async () => {
    const { token } = await build({ credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'secret' } });
    const verified = verifyLikeAwsIamAuthenticator(token, SIGNED_AT);
    assert.equal(verified.params.has('x-amz-security-token'), false);
    assert.equal(verified.params.get('x-amz-signature'), expectedSignature(verified, 'secret', CLUSTER));
  });

  test('uses the China partition STS host in cn- regions', () => {
    assert.equal(stsHostname('cn-north-1'), 'sts.cn-north-1.amazonaws.com.cn');
    assert.equal(stsHostname('us-east-1'), 'sts.us-east-1.amazonaws.com');
  });

  const refusals: { name: string; input: Partial<Parameters<typeof createEksToken>[0]>; message: RegExp }[] = [
    { name: 'refuses an empty cluster name', input: { clusterName: '' }, message: /^cannot build an EKS token: the cluster name is empty$/ },
    {
      name: 'refuses a region that is not a region name (it would change the STS host)',
      input: { region: 'evil.example/' },
      message: /^cannot build an EKS token: "evil\.example\/" is not an AWS region name$/,
    },
    {
      name: 'refuses a token over 4096 bytes (a huge session token)',
      input: { credentials: { ...credentials, sessionToken: 'x'.repeat(4000) } },
      message: /^the EKS token for cluster "prod-cluster" is \d+ bytes; EKS accepts at most 4096/,
    },
  ];
  for (const { name, input, message } of refusals) {
    test(name, async () => {
      await assert.rejects(build(input), (error: unknown) => {
        assert.ok(error instanceof GatehouseError);
        assert.equal(error.code, 'ERR_CREDENTIALS_UNAVAILABLE');
        assert.match(error.message, message);
        return true;
      });
    });
  }
});

describe('the test verifier itself refuses what the real one refuses', () => {
  /** A token presigned the naive way, to show each rule bites. */
  async function naiveToken(options: { expiresIn?: number; extraQuery?: Record<string, string>; signClusterHeader?: boolean; host?: string; path?: string }) {
    const host = options.host ?? stsHostname(REGION);
    const signer = new SignatureV4({ credentials, region: REGION, service: 'sts', sha256: Sha256 });
    const headers: Record<string, string> = { host };
    if (options.signClusterHeader !== false) headers['x-k8s-aws-id'] = CLUSTER;
    const presigned = await signer.presign(
      new HttpRequest({
        method: 'GET',
        protocol: 'https:',
        hostname: host,
        path: options.path ?? '/',
        query: { Action: 'GetCallerIdentity', Version: '2011-06-15', ...options.extraQuery },
        headers,
      }),
      { signingDate: new Date(SIGNED_AT), ...(options.expiresIn === undefined ? {} : { expiresIn: options.expiresIn }) },
    );
    const query = Object.entries(presigned.query ?? {})
      .map(([k, v]) => `${rfc3986(k)}=${rfc3986(String(v))}`)
      .join('&');
    return 'k8s-aws-v1.' + Buffer.from(`https://${host}${options.path ?? '/'}?${query}`).toString('base64url');
  }

  const cases: { name: string; token: () => Promise<string>; message: RegExp }[] = [
    { name: "refuses the presigner's default X-Amz-Expires of 3600", token: () => naiveToken({}), message: /invalid X-Amz-Expires parameter in pre-signed URL: 3600/ },
    { name: 'refuses a token without the signed cluster header', token: () => naiveToken({ expiresIn: 60, signClusterHeader: false }), message: /did not sign the x-k8s-aws-id header/ },
    { name: 'refuses an extra query key', token: () => naiveToken({ expiresIn: 60, extraQuery: { 'X-Amz-Foo': 'bar' } }), message: /non-whitelisted query parameter "X-Amz-Foo"/ },
    { name: 'refuses a host outside the partition', token: () => naiveToken({ expiresIn: 60, host: 'sts.example.com' }), message: /unexpected hostname "sts\.example\.com"/ },
    { name: 'refuses a path other than /', token: () => naiveToken({ expiresIn: 60, path: '/x' }), message: /unexpected path in pre-signed URL/ },
    { name: 'refuses a padded encoding', token: async () => `${await naiveToken({ expiresIn: 60 })}=`, message: /illegal base64 data/ },
    { name: 'refuses a token without the prefix', token: async () => (await naiveToken({ expiresIn: 60 })).slice(3), message: /missing expected "k8s-aws-v1\." prefix/ },
    { name: 'refuses an over-long token', token: async () => 'k8s-aws-v1.' + 'A'.repeat(4096), message: /token is too large/ },
  ];
  for (const { name, token, message } of cases) {
    test(name, async () => {
      const value = await token();
      assert.throws(() => verifyLikeAwsIamAuthenticator(value, SIGNED_AT), message);
    });
  }
});
