/**
 * The EKS bearer token, built exactly as aws-iam-authenticator verifies it
 * (kubernetes-sigs/aws-iam-authenticator pkg/token/token.go `Verify`):
 *
 *   "k8s-aws-v1." + base64url-without-padding(presigned HTTPS GET of
 *   https://sts.<region>.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-…)
 *
 * with the `x-k8s-aws-id: <cluster name>` header among the signed headers (so a token minted
 * for one cluster is refused by another), `X-Amz-Expires=60` (the verifier refuses anything
 * outside 0–900, and the presigner's default is 3600), only the query keys the verifier
 * allows, and at most 4096 bytes. Signing is done by the maintained SigV4 signer
 * (`@smithy/signature-v4`); this module only shapes the request and the token.
 *
 * Contract: no I/O and no clock of its own — the caller passes credentials and a Clock, so the
 * same inputs always give the same token. The server accepts a token for 15 minutes after
 * its X-Amz-Date; `expiresAt` says 14, leaving a minute of cushion as the AWS CLI does.
 */
import { SignatureV4 } from '@smithy/signature-v4';
import { HttpRequest } from '@smithy/protocol-http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { GatehouseError } from './errors.ts';
import type { Clock } from './types.ts';

export const EKS_TOKEN_PREFIX = 'k8s-aws-v1.';
const CLUSTER_ID_HEADER = 'x-k8s-aws-id';
/** What the AWS CLI sends; the verifier accepts 0–900 and ignores the value otherwise. */
export const PRESIGN_EXPIRES_SECONDS = 60;
/** aws-iam-authenticator refuses longer tokens. */
export const MAX_TOKEN_BYTES = 4096;
/** STS accepts the presigned URL for 15 minutes after X-Amz-Date; we stop using it after 14. */
export const TOKEN_LIFETIME_MS = 14 * 60 * 1000;

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface EksTokenInput {
  credentials: AwsCredentials;
  region: string;
  clusterName: string;
  clock: Clock;
}

export interface EksToken {
  token: string;
  /** Epoch milliseconds after which the token must not be sent any more. */
  expiresAt: number;
}

/** The regional STS host; the verifier only accepts the hosts of its partition's endpoints. */
export function stsHostname(region: string): string {
  const domain = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `sts.${region}.${domain}`;
}

export async function createEksToken(input: EksTokenInput): Promise<EksToken> {
  const { credentials, region, clusterName, clock } = input;
  if (clusterName === '') throw new GatehouseError('ERR_CREDENTIALS_UNAVAILABLE', 'cannot build an EKS token: the cluster name is empty');
  if (!/^[a-z0-9-]+$/.test(region)) {
    throw new GatehouseError('ERR_CREDENTIALS_UNAVAILABLE', `cannot build an EKS token: "${region}" is not an AWS region name`);
  }
  const signedAt = clock.now();
  const hostname = stsHostname(region);
  const signer = new SignatureV4({ credentials, region, service: 'sts', sha256: Sha256, uriEscapePath: true });
  const presigned = await signer.presign(
    new HttpRequest({
      method: 'GET',
      protocol: 'https:',
      hostname,
      path: '/',
      query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
      headers: { host: hostname, [CLUSTER_ID_HEADER]: clusterName },
    }),
    { expiresIn: PRESIGN_EXPIRES_SECONDS, signingDate: new Date(signedAt) },
  );
  const url = `https://${hostname}/?${queryString(presigned.query ?? {})}`;
  const token = EKS_TOKEN_PREFIX + Buffer.from(url, 'utf8').toString('base64url');
  if (Buffer.byteLength(token, 'utf8') > MAX_TOKEN_BYTES) {
    throw new GatehouseError(
      'ERR_CREDENTIALS_UNAVAILABLE',
      `the EKS token for cluster "${clusterName}" is ${Buffer.byteLength(token, 'utf8')} bytes; EKS accepts at most ${MAX_TOKEN_BYTES} (is the session token unusually long?)`,
    );
  }
  return { token, expiresAt: signedAt + TOKEN_LIFETIME_MS };
}

/** RFC 3986 query encoding, the same escaping SigV4 uses in the canonical query. */
function queryString(query: Record<string, string | string[] | null | undefined>): string {
  return Object.keys(query)
    .sort()
    .map((key) => {
      const value = query[key];
      if (typeof value !== 'string') throw new Error(`unexpected multi-valued query key ${key} in a presigned STS URL`);
      return `${escapeUri(key)}=${escapeUri(value)}`;
    })
    .join('&');
}

function escapeUri(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
