/**
 * Gatehouse configuration: one schema, validated once at start-up (cold start on Lambda),
 * reporting every problem at once. Nothing reads configuration on the request path.
 */
import * as z from 'zod';
import { GatehouseConfigError } from './config-error.ts';
import { DEFAULT_RESERVED_PREFIXES, prefixProblems } from './auth/identity-claims.ts';
import { issuerListProblems } from './auth/issuer-list.ts';
import { isHttpsOrLoopback } from './auth/loopback.ts';
import { CLUSTER_NAME, DEFAULT_CLUSTER, type ClusterRouter } from './cluster-route.ts';

const oidcFields = z.object({
  /** Issuer URL; its /.well-known/openid-configuration names the JWKS unless jwksUri is set. */
  issuer: z.url(),
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  jwksUri: z.url().optional(),
  usernameClaim: z.string().min(1).default('email'),
  groupsClaim: z.string().min(1).default('groups'),
  usernamePrefix: z.string().default(''),
  groupsPrefix: z.string().default(''),
  /** Users and groups starting with these (any case) are refused, besides `system:` which always is. */
  reservedPrefixes: z.array(z.string()).default([...DEFAULT_RESERVED_PREFIXES]),
  clockSkewSeconds: z.number().int().min(0).max(300).default(30),
  algorithms: z
    .array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']))
    .min(1)
    .default(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']),
});

/** Claim names and extra keys: printable, no whitespace (they name JSON members and policy keys). */
const claimName = z.string().regex(/^[A-Za-z0-9_.:/-]{1,100}$/, 'must be 1-100 letters, digits, "_", ".", ":", "/" or "-"');

/**
 * One trusted issuer, in the spirit of the Kubernetes structured authentication configuration
 * (`jwt[]` of AuthenticationConfiguration): the same settings as `oidc`, plus extra claims mapped
 * into the identity (for policy) and claims whose values a token must carry.
 */
const issuerSchema = oidcFields
  .extend({
    /** Extra identity attributes for policy: key → the claim whose value (string or list of strings) it takes. */
    extraClaims: z
      .record(z.string(), claimName)
      .refine((mapping) => Object.keys(mapping).every((key) => claimName.safeParse(key).success), 'each key must be 1-100 letters, digits, "_", ".", ":", "/" or "-" (policies match it under claims)')
      .default({}),
    /** Claims a token must carry with exactly this string value (or, for a list claim, contain it); e.g. `ref: refs/heads/main`. */
    requiredClaims: z
      .record(z.string(), z.string().min(1))
      .refine((required) => Object.keys(required).every((key) => claimName.safeParse(key).success), 'each key must be a claim name: 1-100 letters, digits, "_", ".", ":", "/" or "-"')
      .default({}),
  })
  .superRefine(checkPrefixes);

function checkPrefixes(issuer: z.infer<typeof oidcFields>, context: z.RefinementCtx): void {
  for (const problem of prefixProblems(issuer)) context.addIssue({ code: 'custom', message: problem.message, path: [problem.setting] });
}

const oidcSchema = oidcFields.superRefine(checkPrefixes);

/** A public base URL Gatehouse is reached at: https (plain http only on loopback), no query, fragment or credentials. */
const publicBaseUrl = z
  .url()
  .refine((url) => isHttpsOrLoopback(new URL(url)), 'must be an https:// URL (plain http only on loopback)')
  .refine((url) => { const u = new URL(url); return u.search === '' && u.hash === '' && u.username === '' && u.password === ''; }, 'must be a base URL without query, fragment or credentials');

const kubeconfigUpstreamSchema = z.object({
  kind: z.literal('kubeconfig'),
  /** Path of the kubeconfig; default $KUBECONFIG or ~/.kube/config. */
  kubeconfig: z.string().optional(),
  /** Context to use; default the kubeconfig's current-context. */
  context: z.string().optional(),
});

const eksUpstreamSchema = z.object({
  kind: z.literal('eks'),
  clusterName: z.string().min(1),
  region: z.string().min(1),
  /** ARN of the dedicated cluster access role Gatehouse assumes. */
  roleArn: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, 'must be an IAM role ARN'),
  /** Endpoint overrides, for tests and private endpoints. */
  stsEndpoint: z.url().optional(),
  eksEndpoint: z.url().optional(),
});

const upstreamSchema = z.discriminatedUnion('kind', [kubeconfigUpstreamSchema, eksUpstreamSchema]);

const clusterNameSchema = z.string().regex(CLUSTER_NAME, 'must be 1-100 letters, digits, "-" or "_", starting with a letter or digit (the EKS rule for cluster names)');

/** One cluster of a deployment that fronts several: served under /clusters/<name>. */
const clusterSchema = z.object({
  /** The cluster's name in its URL, in policy rules (`clusters:`), in records and kubeconfig contexts. */
  name: clusterNameSchema,
  upstream: upstreamSchema,
});

export const configSchema = z.object({
  runtime: z.enum(['node', 'lambda']).default('node'),
  /** The people's identity provider: the first trusted issuer. */
  oidc: oidcSchema,
  /** More trusted issuers (pipelines, in-cluster agents), each with its own audiences, claim mappings and prefixes. */
  issuers: z.array(issuerSchema).default([]),
  /**
   * The single-cluster form: one cluster, served at the root (`server: https://gatehouse.example`),
   * named `name` (default: the EKS cluster name, or "default") in policy and records …
   */
  upstream: z
    .discriminatedUnion('kind', [kubeconfigUpstreamSchema.extend({ name: clusterNameSchema.optional() }), eksUpstreamSchema.extend({ name: clusterNameSchema.optional() })])
    .optional(),
  /** … or several clusters, each under /clusters/<name>. Exactly one of `upstream` and `clusters`. */
  clusters: z.array(clusterSchema).min(1, 'must list at least one cluster').optional(),
  /** Upstream timeout for a request to answer with headers (watch streams then run freely). */
  upstreamTimeoutSeconds: z.number().positive().max(900).default(30),
  /** Largest request body Gatehouse accepts and forwards (413 beyond); the API server's own limit is 3 MiB. */
  maxRequestBodyBytes: z.number().int().positive().max(6291456).default(3145728),
  policy: z.object({ file: z.string().min(1) }),
  /** How calls end on AWS Lambda (functions/lambda-handler.ts); ignored by the Node runtime. */
  lambda: z
    .object({
      /** Calls end this long before the invocation's deadline, leaving time to write their records. */
      deadlineMarginSeconds: z.number().min(1).max(120).default(10),
      /** The longest a call (a watch, `logs -f`) runs on Lambda; default: until the margin before the deadline. */
      maxStreamSeconds: z.number().positive().max(900).optional(),
    })
    .default({ deadlineMarginSeconds: 10 }),
  approvals: z
    .object({
      tableName: z.string().min(1).default('gatehouse-approvals'),
      /** Which Gatehouse (or cluster) this is, for approvers: on the approval page and in the mail subject. */
      name: z.string().min(1).max(100).default('Gatehouse'),
      /**
       * Base URL approval links point at (the public URL of Gatehouse). Required on the Node
       * runtime when approvals are on; on Lambda the default is the Function URL domain AWS
       * names in the event. A request's Host never makes a link.
       */
      publicUrl: publicBaseUrl.optional(),
      /** Sender address of approval mail (a verified SES identity). */
      mailFrom: z.email(),
      /** Seconds a pending approval lives, and an approved one-shot grant stays usable. */
      ttlSeconds: z.number().int().positive().max(86400).default(3600),
      /** Seconds Gatehouse holds a review request open waiting for a decision (0: answer at once). */
      holdSeconds: z.number().int().min(0).max(840).default(0),
      /** Largest request body read to fingerprint a request that needs approval (larger: refused). */
      maxBodyBytes: z.number().int().positive().max(6291456).default(1048576),
      /** Region of the table and of SES; default the SDK's (AWS_REGION on Lambda). */
      region: z.string().min(1).optional(),
      /** Endpoint overrides; an endpoint on a loopback address is a local stand-in and gets dummy credentials. */
      dynamodbEndpoint: z.url().optional(),
      sesEndpoint: z.url().optional(),
      /** The key that signs approval links: a Secrets Manager secret (id or ARN) on AWS … */
      signingSecretId: z.string().min(1).optional(),
      secretsManagerEndpoint: z.url().optional(),
      /** … or a 0600 file (created when missing) locally. Exactly one of the two. */
      signingKeyFile: z.string().min(1).optional(),
    })
    .refine((a) => (a.signingSecretId === undefined) !== (a.signingKeyFile === undefined), {
      message: 'exactly one of signingSecretId (Secrets Manager) or signingKeyFile (local) names the approval link key',
      path: ['signingSecretId'],
    })
    .optional(),
  /**
   * The per-user cap on concurrent long streams (watch, `logs -f`, exec/attach/port-forward),
   * counted in a DynamoDB table every runtime instance shares; absent: no cap.
   */
  streams: z
    .object({
      /** Long streams one user may have open at once; one more is refused with 429. */
      maxPerUser: z.number().int().min(1).max(1000).default(10),
      tableName: z.string().min(1).default('gatehouse-streams'),
      /** A stream's slot lapses this long after its last renewal (renewed every third of it), freeing the slots of crashed streams. */
      leaseSeconds: z.number().int().min(10).max(3600).default(60),
      /** Region of the table; default the SDK's (AWS_REGION on Lambda). */
      region: z.string().min(1).optional(),
      /** Endpoint override; an endpoint on a loopback address is a local stand-in and gets dummy credentials. */
      dynamodbEndpoint: z.url().optional(),
    })
    .optional(),
  records: z
    .object({
      bucket: z.string().min(3),
      prefix: z.string().default('records/'),
      /** Bytes of each request/response body kept in a record, after masking. */
      maxBodyBytes: z.number().int().min(0).max(1048576).default(16384),
      /** Region of the bucket; default the SDK's (AWS_REGION on Lambda). */
      region: z.string().min(1).optional(),
      /** S3 endpoint override (S3-compatible stores, tests). */
      endpoint: z.url().optional(),
      /** Read records are buffered and written at least this often (0: after every call, not awaited). */
      flushIntervalSeconds: z.number().min(0).max(300).default(5),
      /**
       * On Lambda: read records wait in the execution environment, across invocations, up to this
       * long before they are written (0: at the end of every invocation). Needs Lambda to send
       * SIGTERM at shutdown, which it does only with an external extension: the stack adds one.
       */
      carryOverSeconds: z.number().min(0).max(900).default(0),
      /** A batch of this many buffered records is written at once (one object). */
      maxBatchRecords: z.number().int().min(1).max(10000).default(500),
      /** At most this many records wait in memory while the store is down; the oldest are dropped beyond. */
      maxBufferedRecords: z.number().int().min(1).default(10000),
      /** Source IP from the last X-Forwarded-For entry: only behind a proxy you run that sets it. */
      trustForwardedFor: z.boolean().default(false),
      /** Key prefix of exec/attach/port-forward recordings (Node runtime), in the same bucket, outside `prefix`. */
      recordingsPrefix: z.string().min(1).refine((p) => !p.startsWith('/'), 'must not start with "/"').default('recordings/'),
      /** Bytes of a session's recording (asciicast lines, before gzip) beyond which it is cut, with a truncation marker. */
      maxRecordingBytes: z.number().int().min(4096).max(1073741824).default(8388608),
      /** The longest match of a policy `recordingPatterns` regex that is promised to be redacted across frames. */
      redactionWindowChars: z.number().int().min(1).max(65536).default(256),
    })
    .superRefine((records, context) => {
      const prefix = records.prefix === '' || records.prefix.endsWith('/') ? records.prefix : `${records.prefix}/`;
      if (records.recordingsPrefix.startsWith(prefix)) {
        context.addIssue({
          code: 'custom',
          path: ['recordingsPrefix'],
          message: `"${records.recordingsPrefix}" lies inside the records prefix "${prefix}", whose objects the Athena table reads as records; give the recordings a prefix of their own (default "recordings/")`,
        });
      }
    })
    .optional(),
  /** The MCP endpoint at /mcp (docs/mcp.md); absent: not served. */
  mcp: z
    .object({
      /**
       * Public base URL of Gatehouse: the MCP resource is `<publicUrl>/mcp`, and the 401
       * challenge names `<publicUrl>/.well-known/oauth-protected-resource/mcp`. Never the Host a request names.
       */
      publicUrl: publicBaseUrl,
      /** Scopes an MCP client asks its authorization server for (Protected Resource Metadata `scopes_supported`). */
      scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'must be a scope token (RFC 6749)')).default(['openid', 'email', 'groups']),
      /**
       * Longest an MCP tool call waits for an approval when the user, asked through MCP
       * elicitation, chose to wait (Node runtime, one process: docs/mcp.md); 0 never offers to wait.
       */
      approvalWaitSeconds: z.number().int().min(0).max(3600).default(600),
    })
    .optional(),
}).superRefine((config, context) => {
  for (const problem of issuerListProblems([config.oidc, ...config.issuers])) context.addIssue({ code: 'custom', path: problem.path, message: problem.message });
  if ((config.upstream === undefined) === (config.clusters === undefined)) {
    context.addIssue({
      code: 'custom',
      path: [config.upstream === undefined ? 'upstream' : 'clusters'],
      message: 'exactly one of upstream (one cluster, served at the root) or clusters (several, each under /clusters/<name>) names what Gatehouse fronts',
    });
  }
  const seen = new Set<string>();
  config.clusters?.forEach((cluster, index) => {
    if (seen.has(cluster.name)) context.addIssue({ code: 'custom', path: ['clusters', index, 'name'], message: `"${cluster.name}" names two clusters; names must be unique` });
    seen.add(cluster.name);
  });
  if (config.runtime === 'node' && config.approvals !== undefined && config.approvals.publicUrl === undefined) {
    context.addIssue({
      code: 'custom',
      path: ['approvals', 'publicUrl'],
      message: "is required when approvals are on: approval links point only at this configured URL, never at the Host a request names",
    });
  }
});

export type GatehouseConfig = z.infer<typeof configSchema>;
export type OidcConfig = z.infer<typeof oidcSchema>;
/** One trusted issuer: `oidc` (with no extra or required claims) or an entry of `issuers`. */
export type IssuerConfig = OidcConfig & Partial<Pick<z.infer<typeof issuerSchema>, 'extraClaims' | 'requiredClaims'>>;

/** Every trusted issuer, `oidc` first. */
export function trustedIssuers(config: Pick<GatehouseConfig, 'oidc' | 'issuers'>): IssuerConfig[] {
  return [config.oidc, ...config.issuers];
}
export type UpstreamConfig = z.infer<typeof upstreamSchema>;
export type ClusterConfig = z.infer<typeof clusterSchema>;

/**
 * The clusters a configuration fronts, and how requests reach them. The compatibility rule: the
 * single-cluster form (`upstream`) is a list of one served at the root, exactly the URLs it
 * always had; `clusters` serves each under /clusters/<name> (and nothing at the root).
 */
export function configuredClusters(config: Pick<GatehouseConfig, 'upstream' | 'clusters'>): { router: ClusterRouter; clusters: ClusterConfig[] } {
  if (config.clusters !== undefined) {
    return { router: { mode: 'prefixed', names: new Set(config.clusters.map((cluster) => cluster.name)) }, clusters: config.clusters };
  }
  const upstream = config.upstream;
  if (upstream === undefined) throw new GatehouseConfigError('the Gatehouse configuration', ['upstream: or clusters: is required']);
  const { name: explicit, ...rest } = upstream;
  const name = explicit ?? (rest.kind === 'eks' ? rest.clusterName : DEFAULT_CLUSTER);
  return { router: { mode: 'root', name }, clusters: [{ name, upstream: rest }] };
}
export type ApprovalsConfig = NonNullable<GatehouseConfig['approvals']>;

/** Validates raw configuration, throwing one error that lists every problem. */
export function parseConfig(raw: unknown, source: string): GatehouseConfig {
  const result = configSchema.safeParse(raw);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  throw new GatehouseConfigError(source, problems);
}
