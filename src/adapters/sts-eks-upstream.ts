/**
 * Upstream adapter for Amazon EKS: Gatehouse reaches the cluster as one dedicated IAM role
 * ("the cluster access role"), which an EKS access entry maps to a Kubernetes group that
 * may only impersonate. Per request it hands the forward stage the cluster endpoint, the
 * cluster CA (so upstream TLS is verified against it) and an EKS bearer token.
 *
 * Caching (all by the injected clock, so tests need no sleeps):
 * - role credentials from STS AssumeRole: until 5 minutes before they expire;
 * - the token (`eks-token.ts`): at most 14 minutes, and never past the credentials it was
 *   signed with (STS refuses a presigned URL whose session has expired);
 * - endpoint and CA from EKS DescribeCluster: one hour (a CA rotation is picked up without
 *   a cold start).
 * Concurrent callers share one in-flight refresh; a failed refresh is not cached, so the
 * next request tries again. SDK failures become 503 GatehouseErrors (with Retry-After) that
 * say which step failed and the AWS error's name — never the role ARN, the account or the
 * SDK's message, which names both: callers are not told how Gatehouse reaches the cluster.
 * The whole story (role, cluster, SDK message) goes to the server's log.
 *
 * DescribeCluster is called with the function's own credentials (it needs
 * `eks:DescribeCluster`); the cluster access role itself needs no IAM permission at all,
 * because the presigned GetCallerIdentity needs none.
 */
import { STSClient, AssumeRoleCommand, type STSClientConfig } from '@aws-sdk/client-sts';
import { EKSClient, DescribeClusterCommand } from '@aws-sdk/client-eks';
import { GatehouseError } from '../errors.ts';
import { awsErrorDetail, awsErrorName, stderrJsonLog, type AdapterLog } from './aws-error.ts';
import type { UpstreamConfig } from '../config.ts';
import type { Upstream } from '../ports/upstream.ts';
import type { Clock, UpstreamConnection } from '../types.ts';
import { systemClock } from '../types.ts';
import { createEksToken, type AwsCredentials, type EksToken } from '../eks-token.ts';

export type EksUpstreamConfig = Extract<UpstreamConfig, { kind: 'eks' }>;

export interface EksUpstreamOptions {
  clock?: Clock;
  /** Credentials that assume the role and describe the cluster; default: the SDK's default chain (the Lambda role). */
  sourceCredentials?: STSClientConfig['credentials'];
  /** Shows in CloudTrail and in the cluster's audit log as the assumed-role session. */
  roleSessionName?: string;
  /** Seconds the role session lasts; role chaining (Lambda role → this role) caps it at 3600. */
  roleSessionSeconds?: number;
  /** Where failures are logged in full (default: one JSON line on stderr, which Lambda sends to CloudWatch). */
  log?: AdapterLog;
}

/** Role credentials are replaced this long before they expire. */
export const CREDENTIALS_REFRESH_MARGIN_MS = 5 * 60 * 1000;
/** A token is not used within this long of its credentials' expiry. */
const TOKEN_CREDENTIALS_MARGIN_MS = 60 * 1000;
export const CLUSTER_CACHE_MS = 60 * 60 * 1000;

interface RoleCredentials extends AwsCredentials {
  expiresAt: number;
}

interface ClusterAccess {
  server: URL;
  ca: string;
  expiresAt: number;
}

/** One cached value with single-flight refresh; failures are not cached; `drop` forgets the value. */
function cached<T extends { expiresAt: number }>(clock: Clock, refreshBefore: number, load: () => Promise<T>): (() => Promise<T>) & { drop(): void; peek(): T | undefined } {
  let value: T | undefined;
  let inFlight: Promise<T> | undefined;
  const get = async function get(): Promise<T> {
    if (value !== undefined && clock.now() < value.expiresAt - refreshBefore) return value;
    inFlight ??= load().then(
      (loaded) => {
        value = loaded;
        inFlight = undefined;
        return loaded;
      },
      (error: unknown) => {
        inFlight = undefined;
        throw error;
      },
    );
    return inFlight;
  };
  return Object.assign(get, {
    drop(): void {
      value = undefined;
    },
    peek(): T | undefined {
      return value;
    },
  });
}

export function createEksUpstream(config: EksUpstreamConfig, options: EksUpstreamOptions = {}): Upstream {
  const clock = options.clock ?? systemClock;
  const roleSessionName = options.roleSessionName ?? 'gatehouse';
  const roleSessionSeconds = options.roleSessionSeconds ?? 3600;
  const common = { region: config.region, ...(options.sourceCredentials === undefined ? {} : { credentials: options.sourceCredentials }) };
  const sts = new STSClient({ ...common, ...(config.stsEndpoint === undefined ? {} : { endpoint: config.stsEndpoint }) });
  const eks = new EKSClient({ ...common, ...(config.eksEndpoint === undefined ? {} : { endpoint: config.eksEndpoint }) });
  const log = options.log ?? stderrJsonLog;
  /** Logs the failure in full and returns the caller's error, which names neither role nor account. */
  const failed = (step: string, message: string, error: unknown): GatehouseError => {
    log({ message: `gatehouse credentials: ${step} failed`, roleArn: config.roleArn, cluster: config.clusterName, region: config.region, error: awsErrorDetail(error) });
    return new GatehouseError('ERR_CREDENTIALS_UNAVAILABLE', `${message}; the details are in Gatehouse's log`, { cause: error });
  };

  const roleCredentials = cached<RoleCredentials>(clock, CREDENTIALS_REFRESH_MARGIN_MS, async () => {
    let output;
    try {
      output = await sts.send(
        new AssumeRoleCommand({ RoleArn: config.roleArn, RoleSessionName: roleSessionName, DurationSeconds: roleSessionSeconds }),
      );
    } catch (error) {
      throw failed('AssumeRole', `Gatehouse cannot assume its cluster access role (STS answered ${awsErrorName(error)})`, error);
    }
    const c = output.Credentials;
    if (c?.AccessKeyId === undefined || c.SecretAccessKey === undefined || c.SessionToken === undefined || c.Expiration === undefined) {
      throw failed('AssumeRole', 'Gatehouse cannot assume its cluster access role (STS returned no credentials)', new Error('AssumeRole returned no credentials'));
    }
    return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiresAt: c.Expiration.getTime() };
  });

  // The token cache must look at the credentials it was built with, so it keeps them alongside.
  const token = cached<EksToken>(clock, 0, async () => {
    const credentials = await roleCredentials();
    const built = await createEksToken({ credentials, region: config.region, clusterName: config.clusterName, clock });
    return { token: built.token, expiresAt: Math.min(built.expiresAt, credentials.expiresAt - TOKEN_CREDENTIALS_MARGIN_MS) };
  });

  const cluster = cached<ClusterAccess>(clock, 0, async () => {
    let output;
    try {
      output = await eks.send(new DescribeClusterCommand({ name: config.clusterName }));
    } catch (error) {
      throw failed('DescribeCluster', `Gatehouse cannot describe EKS cluster "${config.clusterName}" in ${config.region} (EKS answered ${awsErrorName(error)})`, error);
    }
    const endpoint = output.cluster?.endpoint;
    const caData = output.cluster?.certificateAuthority?.data;
    if (endpoint === undefined || caData === undefined) {
      throw new GatehouseError(
        'ERR_CREDENTIALS_UNAVAILABLE',
        `EKS cluster "${config.clusterName}" has no endpoint or certificate authority yet (status ${output.cluster?.status ?? 'unknown'})`,
      );
    }
    const server = new URL(endpoint);
    if (server.protocol !== 'https:') {
      throw new GatehouseError('ERR_CREDENTIALS_UNAVAILABLE', `EKS cluster "${config.clusterName}" has a non-HTTPS endpoint "${endpoint}"`);
    }
    return { server, ca: Buffer.from(caData, 'base64').toString('utf8'), expiresAt: clock.now() + CLUSTER_CACHE_MS };
  });

  return {
    async connection(): Promise<UpstreamConnection> {
      const [access, bearer] = await Promise.all([cluster(), token()]);
      return { server: access.server, ca: access.ca, token: bearer.token };
    },
    rejected(connection: UpstreamConnection): void {
      // Only the token the cluster refused: a call that already uses a newer one keeps it.
      if (connection.token === undefined || connection.token !== token.peek()?.token) return;
      token.drop();
      // The role session may be what was revoked; the next token is signed with a new one.
      roleCredentials.drop();
    },
  };
}
