/**
 * Gatehouse configuration from environment variables — how the Lambda runtime is configured
 * (the CDK stack sets these on the function). `configFromEnv` maps each variable below onto
 * the one configuration schema (`config.ts`) and validates it once, at cold start, throwing
 * one GatehouseConfigError that lists every problem by variable name.
 *
 * The policy is a file bundled next to the function code (GATEHOUSE_POLICY_FILE, default
 * `policy.json` beside the handler: the policy YAML, validated and converted to JSON at synth,
 * since parsing YAML was most of a cold start; a `*.yaml` path is read as YAML), not an environment variable or an SSM
 * parameter: Lambda caps all environment variables together at 4 KB, which a real policy
 * outgrows; SSM would add a network call and an IAM permission to every cold start and a
 * second place where access rules change outside the reviewed deployment. A bundled file
 * is versioned and reviewed with the code, `cdk diff` shows a change to it (the asset hash
 * changes), and a policy change is an ordinary deployment that can be rolled back.
 */
import { configSchema, type GatehouseConfig } from './config.ts';
import { GatehouseConfigError } from './config-error.ts';
import { DEV_ISSUER } from './auth/dev-issuer.ts';

type Kind = 'string' | 'integer' | 'number' | 'boolean' | 'list' | 'stringOrList' | 'json';

export interface EnvVariable {
  name: string;
  /** Where the value goes in GatehouseConfig. */
  path: readonly string[];
  kind: Kind;
  description: string;
}

/** Every variable Gatehouse reads; docs/aws.md documents the same list (a test keeps them in step). */
export const ENV_VARIABLES: readonly EnvVariable[] = [
  { name: 'GATEHOUSE_OIDC_ISSUER', path: ['oidc', 'issuer'], kind: 'string', description: 'OIDC issuer URL (required); tokens must carry exactly this `iss`' },
  { name: 'GATEHOUSE_OIDC_AUDIENCE', path: ['oidc', 'audience'], kind: 'stringOrList', description: 'accepted `aud` values, comma-separated (required)' },
  { name: 'GATEHOUSE_OIDC_JWKS_URI', path: ['oidc', 'jwksUri'], kind: 'string', description: "JWKS URL; default: the issuer's discovery document" },
  { name: 'GATEHOUSE_OIDC_USERNAME_CLAIM', path: ['oidc', 'usernameClaim'], kind: 'string', description: 'claim that names the user (default `email`)' },
  { name: 'GATEHOUSE_OIDC_GROUPS_CLAIM', path: ['oidc', 'groupsClaim'], kind: 'string', description: 'claim that lists the groups (default `groups`)' },
  { name: 'GATEHOUSE_OIDC_USERNAME_PREFIX', path: ['oidc', 'usernamePrefix'], kind: 'string', description: 'prefix added to user names (default none)' },
  { name: 'GATEHOUSE_OIDC_GROUPS_PREFIX', path: ['oidc', 'groupsPrefix'], kind: 'string', description: 'prefix added to group names (default none)' },
  { name: 'GATEHOUSE_OIDC_RESERVED_PREFIXES', path: ['oidc', 'reservedPrefixes'], kind: 'list', description: 'user and group prefixes refused besides `system:`, comma-separated (default `eks:,aws:,amazon:,iam:`)' },
  { name: 'GATEHOUSE_OIDC_CLOCK_SKEW_SECONDS', path: ['oidc', 'clockSkewSeconds'], kind: 'integer', description: 'tolerated clock skew for exp/nbf (default 30)' },
  { name: 'GATEHOUSE_OIDC_ALGORITHMS', path: ['oidc', 'algorithms'], kind: 'list', description: 'accepted JWS algorithms, comma-separated (default: all asymmetric)' },
  { name: 'GATEHOUSE_ISSUERS', path: ['issuers'], kind: 'json', description: 'more trusted issuers (CI, clusters) as a JSON list of `issuers` entries (docs/authentication.md); default none' },
  { name: 'GATEHOUSE_MCP_PUBLIC_URL', path: ['mcp', 'publicUrl'], kind: 'string', description: 'public base URL of Gatehouse; setting it serves the MCP endpoint at `<url>/mcp` (docs/mcp.md)' },
  { name: 'GATEHOUSE_MCP_SCOPES', path: ['mcp', 'scopes'], kind: 'list', description: 'scopes MCP clients ask for, comma-separated (default `openid,email,groups`)' },
  {
    name: 'GATEHOUSE_MCP_APPROVAL_WAIT_SECONDS',
    path: ['mcp', 'approvalWaitSeconds'],
    kind: 'number',
    description: 'longest wait, in seconds, for an approval an MCP user chose to wait for (0-3600, default 600); the Node runtime only: Lambda never offers to wait (docs/mcp.md)',
  },
  {
    name: 'GATEHOUSE_CLUSTERS',
    path: ['clusters'],
    kind: 'json',
    description:
      'several clusters, each served under `/clusters/<name>`: a JSON list of `{"name": …, "upstream": {"kind": "eks", "clusterName": …, "region": …, "roleArn": …}}` (an `eks` upstream\'s region defaults to AWS_REGION); instead of the single-cluster variables below, which serve one cluster at the root',
  },
  { name: 'GATEHOUSE_CLUSTER_NAME', path: ['upstream', 'name'], kind: 'string', description: "the one cluster's name in policy rules (`clusters:`) and records (default: the EKS cluster name)" },
  { name: 'GATEHOUSE_UPSTREAM', path: ['upstream', 'kind'], kind: 'string', description: '`eks` (default) or `kubeconfig`' },
  { name: 'GATEHOUSE_EKS_CLUSTER_NAME', path: ['upstream', 'clusterName'], kind: 'string', description: 'EKS cluster name (required for `eks`)' },
  { name: 'GATEHOUSE_EKS_REGION', path: ['upstream', 'region'], kind: 'string', description: "the cluster's region (default: AWS_REGION, which Lambda sets)" },
  { name: 'GATEHOUSE_EKS_ROLE_ARN', path: ['upstream', 'roleArn'], kind: 'string', description: 'ARN of the cluster access role (required for `eks`)' },
  { name: 'GATEHOUSE_STS_ENDPOINT', path: ['upstream', 'stsEndpoint'], kind: 'string', description: 'STS endpoint override (VPC endpoints, tests)' },
  { name: 'GATEHOUSE_EKS_ENDPOINT', path: ['upstream', 'eksEndpoint'], kind: 'string', description: 'EKS API endpoint override (VPC endpoints, tests)' },
  { name: 'GATEHOUSE_KUBECONFIG', path: ['upstream', 'kubeconfig'], kind: 'string', description: 'kubeconfig path (for `kubeconfig`; in JSON form in the Lambda bundle, which reads no YAML)' },
  { name: 'GATEHOUSE_KUBECONFIG_CONTEXT', path: ['upstream', 'context'], kind: 'string', description: 'kubeconfig context (for `kubeconfig`)' },
  { name: 'GATEHOUSE_UPSTREAM_TIMEOUT_SECONDS', path: ['upstreamTimeoutSeconds'], kind: 'number', description: 'seconds the cluster has to start answering (default 30)' },
  { name: 'GATEHOUSE_MAX_REQUEST_BODY_BYTES', path: ['maxRequestBodyBytes'], kind: 'integer', description: 'largest request body accepted and forwarded, 413 beyond (default 3145728, the API server\'s own limit)' },
  { name: 'GATEHOUSE_LAMBDA_DEADLINE_MARGIN_SECONDS', path: ['lambda', 'deadlineMarginSeconds'], kind: 'number', description: 'on Lambda, calls (watch, `logs -f`) end this long before the function deadline so their records are written (default 10)' },
  { name: 'GATEHOUSE_LAMBDA_MAX_STREAM_SECONDS', path: ['lambda', 'maxStreamSeconds'], kind: 'number', description: 'on Lambda, the longest a call runs (default: until the margin before the deadline)' },
  { name: 'GATEHOUSE_POLICY_FILE', path: ['policy', 'file'], kind: 'string', description: 'policy file path, `*.json` as the stack converts it (default: `policy.json` bundled beside the handler, converted from the policy YAML at synth; the bundle reads no YAML)' },
  { name: 'GATEHOUSE_APPROVALS_TABLE', path: ['approvals', 'tableName'], kind: 'string', description: 'DynamoDB table of approvals (setting any APPROVALS variable enables approvals)' },
  { name: 'GATEHOUSE_APPROVALS_PUBLIC_URL', path: ['approvals', 'publicUrl'], kind: 'string', description: "public base URL approval links point at (default on Lambda: the Function URL domain AWS names in the event; never a request's Host)" },
  { name: 'GATEHOUSE_APPROVALS_NAME', path: ['approvals', 'name'], kind: 'string', description: 'which Gatehouse or cluster this is, shown to approvers on the page and in the mail subject (default "Gatehouse")' },
  { name: 'GATEHOUSE_APPROVALS_MAIL_FROM', path: ['approvals', 'mailFrom'], kind: 'string', description: 'sender address of approval mails (a verified SES identity)' },
  { name: 'GATEHOUSE_APPROVALS_TTL_SECONDS', path: ['approvals', 'ttlSeconds'], kind: 'integer', description: 'seconds a pending approval lives (default 3600)' },
  { name: 'GATEHOUSE_APPROVALS_HOLD_SECONDS', path: ['approvals', 'holdSeconds'], kind: 'integer', description: 'seconds a review request waits for a decision (default 0)' },
  { name: 'GATEHOUSE_APPROVALS_MAX_BODY_BYTES', path: ['approvals', 'maxBodyBytes'], kind: 'integer', description: 'largest request body fingerprinted for approval (default 1 MiB)' },
  { name: 'GATEHOUSE_APPROVALS_REGION', path: ['approvals', 'region'], kind: 'string', description: 'region of the table and SES (default AWS_REGION)' },
  { name: 'GATEHOUSE_APPROVALS_DYNAMODB_ENDPOINT', path: ['approvals', 'dynamodbEndpoint'], kind: 'string', description: 'DynamoDB endpoint override' },
  { name: 'GATEHOUSE_APPROVALS_SES_ENDPOINT', path: ['approvals', 'sesEndpoint'], kind: 'string', description: 'SES endpoint override' },
  { name: 'GATEHOUSE_APPROVALS_SIGNING_SECRET', path: ['approvals', 'signingSecretId'], kind: 'string', description: 'Secrets Manager secret (id or ARN) holding the approval-link key' },
  { name: 'GATEHOUSE_APPROVALS_SECRETS_MANAGER_ENDPOINT', path: ['approvals', 'secretsManagerEndpoint'], kind: 'string', description: 'Secrets Manager endpoint override' },
  { name: 'GATEHOUSE_APPROVALS_SIGNING_KEY_FILE', path: ['approvals', 'signingKeyFile'], kind: 'string', description: 'approval-link key file instead of the secret (local use)' },
  { name: 'GATEHOUSE_STREAMS_TABLE', path: ['streams', 'tableName'], kind: 'string', description: 'DynamoDB table of stream leases: the per-user cap on long streams (setting any STREAMS variable enables the cap)' },
  { name: 'GATEHOUSE_STREAMS_MAX_PER_USER', path: ['streams', 'maxPerUser'], kind: 'integer', description: 'long streams (watch, `logs -f`, exec/attach/port-forward) one user may have open at once; one more gets 429 (default 10)' },
  { name: 'GATEHOUSE_STREAMS_LEASE_SECONDS', path: ['streams', 'leaseSeconds'], kind: 'integer', description: "seconds a stream's slot outlives its last renewal, so a crashed stream frees it (default 60)" },
  { name: 'GATEHOUSE_STREAMS_REGION', path: ['streams', 'region'], kind: 'string', description: 'region of the stream lease table (default AWS_REGION)' },
  { name: 'GATEHOUSE_STREAMS_DYNAMODB_ENDPOINT', path: ['streams', 'dynamodbEndpoint'], kind: 'string', description: 'DynamoDB endpoint override for the stream lease table' },
  { name: 'GATEHOUSE_RECORDS_BUCKET', path: ['records', 'bucket'], kind: 'string', description: 'S3 bucket of session records (setting any RECORDS variable enables records)' },
  { name: 'GATEHOUSE_RECORDS_PREFIX', path: ['records', 'prefix'], kind: 'string', description: 'key prefix of records (default `records/`)' },
  { name: 'GATEHOUSE_RECORDS_MAX_BODY_BYTES', path: ['records', 'maxBodyBytes'], kind: 'integer', description: 'request/response body bytes kept in a record (default 16384)' },
  { name: 'GATEHOUSE_RECORDS_REGION', path: ['records', 'region'], kind: 'string', description: 'region of the bucket (default AWS_REGION)' },
  { name: 'GATEHOUSE_RECORDS_ENDPOINT', path: ['records', 'endpoint'], kind: 'string', description: 'S3 endpoint override' },
  { name: 'GATEHOUSE_RECORDS_FLUSH_INTERVAL_SECONDS', path: ['records', 'flushIntervalSeconds'], kind: 'number', description: 'read records are written at least this often (default 5)' },
  { name: 'GATEHOUSE_RECORDS_CARRY_OVER_SECONDS', path: ['records', 'carryOverSeconds'], kind: 'number', description: 'on Lambda, read records wait across invocations up to this long before they are written, in fewer, larger objects (default 0: at the end of every invocation; the stack sets 60 and adds the shutdown extension that makes Lambda send SIGTERM)' },
  { name: 'GATEHOUSE_RECORDS_MAX_BATCH_RECORDS', path: ['records', 'maxBatchRecords'], kind: 'integer', description: 'records written together in one object (default 500)' },
  { name: 'GATEHOUSE_RECORDS_MAX_BUFFERED_RECORDS', path: ['records', 'maxBufferedRecords'], kind: 'integer', description: 'records kept in memory while S3 is down (default 10000)' },
  { name: 'GATEHOUSE_RECORDS_RECORDINGS_PREFIX', path: ['records', 'recordingsPrefix'], kind: 'string', description: 'key prefix of exec/attach/port-forward recordings, outside the records prefix (default `recordings/`; Node runtime)' },
  { name: 'GATEHOUSE_RECORDS_MAX_RECORDING_BYTES', path: ['records', 'maxRecordingBytes'], kind: 'integer', description: 'bytes of one session recording before it is cut with a truncation marker (default 8388608)' },
  { name: 'GATEHOUSE_RECORDS_REDACTION_WINDOW_CHARS', path: ['records', 'redactionWindowChars'], kind: 'integer', description: 'longest `recordingPatterns` match redacted across frames (default 256)' },
  { name: 'GATEHOUSE_RECORDS_TRUST_FORWARDED_FOR', path: ['records', 'trustForwardedFor'], kind: 'boolean', description: '`true` to take the source IP from X-Forwarded-For (only behind your own proxy)' },
];

export interface ConfigFromEnvOptions {
  runtime: 'node' | 'lambda';
  /** Used when GATEHOUSE_POLICY_FILE is not set. */
  defaultPolicyFile: string;
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Reads, converts and validates the environment; throws a GatehouseConfigError listing every problem. */
export function configFromEnv(env: Env, options: ConfigFromEnvOptions): GatehouseConfig {
  const problems: string[] = [];
  // Optional sections (approvals, records) come into being only when one of their variables is set.
  const raw: Record<string, unknown> = {
    runtime: options.runtime,
    oidc: {},
    policy: { file: options.defaultPolicyFile },
  };
  // The single-cluster form unless GATEHOUSE_CLUSTERS lists them (setting both is reported by the schema).
  const singleCluster = ENV_VARIABLES.some((v) => v.path[0] === 'upstream' && env[v.name] !== undefined && env[v.name] !== '');
  if (singleCluster || env.GATEHOUSE_CLUSTERS === undefined || env.GATEHOUSE_CLUSTERS === '') raw.upstream = { kind: 'eks', region: env.AWS_REGION };
  for (const variable of ENV_VARIABLES) {
    const text = env[variable.name];
    if (text === undefined || text === '') continue;
    const converted = convert(text, variable.kind);
    if (converted === undefined) {
      problems.push(`${variable.name}: must be ${KIND_NAMES[variable.kind]}, got "${text}"`);
      continue;
    }
    setPath(raw, variable.path, converted);
  }
  if (Array.isArray(raw.clusters)) {
    for (const cluster of raw.clusters as unknown[]) {
      const upstream = typeof cluster === 'object' && cluster !== null ? (cluster as Record<string, unknown>).upstream : undefined;
      if (typeof upstream === 'object' && upstream !== null && (upstream as Record<string, unknown>).kind === 'eks') (upstream as Record<string, unknown>).region ??= env.AWS_REGION;
    }
  }
  if (options.runtime === 'lambda' && env.GATEHOUSE_OIDC_ISSUER === DEV_ISSUER) {
    problems.push(`GATEHOUSE_OIDC_ISSUER: the local development issuer (${DEV_ISSUER}) cannot be used on AWS Lambda; configure your identity provider`);
  }

  const result = configSchema.safeParse(raw);
  if (result.success && problems.length === 0) return result.data;
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path.map(String);
      const variable = variableFor(path);
      const value = valueAt(raw, path);
      // A missing value fails its type (or union) check; say so plainly. Cross-field rules keep their own message.
      const message = value === undefined && issue.code !== 'custom' ? 'is required but not set' : issue.message;
      problems.push(`${variable?.name ?? path.join('.')}: ${message}`);
    }
  }
  throw new GatehouseConfigError('the environment', problems);
}

const KIND_NAMES: Record<Kind, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: '`true` or `false`',
  list: 'a comma-separated list',
  stringOrList: 'a comma-separated list',
  json: 'JSON',
};

/** The typed value of a variable, or undefined when the text is not of its kind. */
function convert(text: string, kind: Kind): unknown {
  switch (kind) {
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : undefined;
    case 'string':
      return text;
    case 'integer':
    case 'number': {
      const value = Number(text.trim());
      if (text.trim() === '' || !Number.isFinite(value) || (kind === 'integer' && !Number.isInteger(value))) return undefined;
      return value;
    }
    case 'list':
      return splitList(text);
    case 'json':
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return undefined;
      }
    case 'stringOrList': {
      const items = splitList(text);
      return items.length === 1 ? items[0] : items;
    }
  }
}

function splitList(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const child = node[key];
    if (typeof child === 'object' && child !== null) {
      node = child as Record<string, unknown>;
    } else {
      const created: Record<string, unknown> = {};
      node[key] = created;
      node = created;
    }
  }
  const last = path[path.length - 1];
  if (last !== undefined) node[last] = value;
}

function valueAt(source: Record<string, unknown>, path: readonly string[]): unknown {
  let node: unknown = source;
  for (const key of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** The variable for a schema path; list items (`oidc.algorithms.2`) map to their list's variable. */
function variableFor(path: readonly string[]): EnvVariable | undefined {
  for (let length = path.length; length > 0; length -= 1) {
    const prefix = path.slice(0, length).join('.');
    const found = ENV_VARIABLES.find((v) => v.path.join('.') === prefix);
    if (found !== undefined) return found;
  }
  return undefined;
}
