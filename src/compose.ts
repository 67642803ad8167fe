/**
 * The composition root: turns a validated GatehouseConfig into the app's dependencies.
 * Both runtimes use it (the Node server and the Lambda handler), so what runs locally is
 * what runs in AWS, adapters included.
 *
 * Every part is built even when an earlier one failed, so a bad configuration reports all
 * of its problems in one GatehouseConfigError. `overrides` replace parts wholesale (the local
 * runtime passes the development issuer's authenticator; tests pass stand-ins); a part that
 * is overridden is not built at all.
 */
import type { GatehouseDeps } from './app.ts';
import { configuredClusters, trustedIssuers, type GatehouseConfig, type UpstreamConfig } from './config.ts';
import { GatehouseConfigError } from './config-error.ts';
import { createIssuersAuthenticator } from './auth/issuers.ts';
import { protectedResource } from './mcp/resource-metadata.ts';
import { readPolicyFile } from './policy/policy-file.ts';
import { readPolicyJsonFile } from './policy/policy-json.ts';
import { compilePolicy } from './policy/policy.ts';
import { createKubeconfigUpstream } from './adapters/kubeconfig-upstream.ts';
import { resolveKubeconfigPath } from './kubeconfig.ts';
import type { ClusterSet, ClusterUpstream, Upstream } from './ports/upstream.ts';
import { clusterProblems } from './policy/policy.ts';
import { createApprovalsFromConfig } from './approvals/create-approvals.ts';
import { createStreamLimiterFromConfig } from './streams/from-config.ts';
import { loadMaskingRules } from './masking/masking-rules-file.ts';
import { parseMaskingRules } from './masking/masking-rules.ts';

export async function createDepsFromConfig(config: GatehouseConfig, overrides: Partial<GatehouseDeps> = {}): Promise<GatehouseDeps> {
  const problems: string[] = [];
  /** Runs a builder, collecting its configuration problems under `label` instead of stopping. */
  async function build<T>(label: string, make: () => T | Promise<T>): Promise<T | undefined> {
    try {
      return await make();
    } catch (error) {
      if (!(error instanceof GatehouseConfigError)) throw error;
      problems.push(...error.problems.map((problem) => `${label}: ${problem}`));
      return undefined;
    }
  }

  const authenticator = overrides.authenticator ?? (await build('oidc', () => createIssuersAuthenticator(trustedIssuers(config))));
  const policyFile = config.policy.file;
  const policyLabel = `policy ${policyFile}`;
  let policy = overrides.policy;
  let masking = overrides.masking;
  if (policyFile.endsWith('.json')) {
    // The form the CDK stack bundles for Lambda: one JSON.parse for rules and masking alike.
    const document = policy !== undefined && masking !== undefined ? undefined : await build(policyLabel, () => readPolicyJsonFile(policyFile));
    if (document !== undefined) {
      policy ??= await build(policyLabel, () => compilePolicy(document));
      masking ??= await build(policyLabel, () => parseMaskingRules(document.masking, policyFile));
    }
  } else {
    // One YAML parse for rules and masking alike (parsing is the slowest part of a start); when
    // the policy is invalid, its masking section is still read, so every problem is reported at once.
    const document = policy === undefined ? await build(policyLabel, () => readPolicyFile(policyFile)) : undefined;
    if (document !== undefined) policy = await build(policyLabel, () => compilePolicy(document));
    masking ??= await build(policyLabel, () => (document === undefined ? loadMaskingRules(policyFile) : parseMaskingRules(document.masking, policyFile)));
  }
  const { router, clusters: clusterConfigs } = configuredClusters(config);
  // The configured clusters, each upstream built unless overridden (`upstream` stands in for every one).
  const upstreams: (ClusterUpstream | undefined)[] = [];
  for (const cluster of overrides.clusters === undefined ? clusterConfigs : []) {
    const upstream = overrides.upstream ?? (await build(upstreamLabel(cluster.upstream), () => createUpstream(cluster.upstream)));
    upstreams.push(upstream === undefined ? undefined : { name: cluster.name, upstream });
  }
  const clusters: ClusterSet = overrides.clusters ?? { router, upstreams: upstreams.filter((u) => u !== undefined) };
  // A rule naming a cluster this deployment does not front would silently never apply (a deny that protects nothing).
  if (policy !== undefined) problems.push(...clusterProblems(policy, clusters.upstreams.map((cluster) => cluster.name)).map((problem) => `${policyLabel}: ${problem}`));
  // Optional parts (approvals, stream cap, records) are built here from their configuration sections.
  const approvalsConfig = config.approvals;
  const approvals =
    overrides.approvals ??
    (approvalsConfig === undefined
      ? undefined
      : await build('approvals', () => createApprovalsFromConfig(approvalsConfig, overrides.clock === undefined ? {} : { clock: overrides.clock })));

  const streamsConfig = config.streams;
  // Imported statically: the DynamoDB client is loaded for approvals anyway, and a lazy import
  // made esbuild keep the whole client package (every command's schema, waiters) in the bundle.
  const streams =
    overrides.streams !== undefined || streamsConfig === undefined
      ? undefined
      : createStreamLimiterFromConfig(streamsConfig, overrides.clock === undefined ? {} : { clock: overrides.clock });

  const recordsConfig = config.records;
  // Records are imported lazily, like EKS: a configuration without them never loads the S3 SDK.
  const records =
    overrides.records !== undefined || recordsConfig === undefined
      ? undefined
      : (await import('./records/from-config.ts')).createRecordsFromConfig(recordsConfig, overrides.clock === undefined ? {} : { clock: overrides.clock });

  if (problems.length > 0 || authenticator === undefined || policy === undefined || upstreams.includes(undefined)) {
    throw new GatehouseConfigError('the Gatehouse configuration', problems);
  }
  const deps: GatehouseDeps = {
    authenticator,
    policy,
    clusters,
    runtime: overrides.runtime ?? config.runtime,
    upstreamTimeoutSeconds: overrides.upstreamTimeoutSeconds ?? config.upstreamTimeoutSeconds,
    maxRequestBodyBytes: overrides.maxRequestBodyBytes ?? config.maxRequestBodyBytes,
  };
  if (approvals !== undefined) deps.approvals = approvals;
  const streamLimiter = overrides.streams ?? streams;
  if (streamLimiter !== undefined) deps.streams = streamLimiter;
  if (overrides.records !== undefined) deps.records = overrides.records;
  else if (records !== undefined) deps.records = records.sink;
  const recordSettings = overrides.recordSettings ?? records?.settings;
  if (recordSettings !== undefined) deps.recordSettings = recordSettings;
  if (masking !== undefined) deps.masking = masking;
  if (overrides.mcp !== undefined) deps.mcp = overrides.mcp;
  else if (config.mcp !== undefined) deps.mcp = protectedResource(config.mcp.publicUrl, trustedIssuers(config).map((issuer) => issuer.issuer), config.mcp.scopes);
  if (config.mcp !== undefined) deps.mcpApprovalWaitSeconds = overrides.mcpApprovalWaitSeconds ?? config.mcp.approvalWaitSeconds;
  if (overrides.recordings !== undefined) deps.recordings = overrides.recordings;
  if (overrides.tunnels !== undefined) deps.tunnels = overrides.tunnels;
  if (overrides.clock !== undefined) deps.clock = overrides.clock;
  return deps;
}

/** The upstream adapter the configuration names. EKS is imported lazily: local runs never load the AWS SDK. */
export async function createUpstream(config: UpstreamConfig): Promise<Upstream> {
  switch (config.kind) {
    case 'kubeconfig': {
      const options: { kubeconfig?: string; context?: string } = {};
      if (config.kubeconfig !== undefined) options.kubeconfig = config.kubeconfig;
      if (config.context !== undefined) options.context = config.context;
      return createKubeconfigUpstream(options);
    }
    case 'eks': {
      const { createEksUpstream } = await import('./adapters/sts-eks-upstream.ts');
      return createEksUpstream(config);
    }
  }
}

function upstreamLabel(config: UpstreamConfig): string {
  return config.kind === 'eks' ? `upstream eks cluster ${config.clusterName}` : `upstream kubeconfig ${resolveKubeconfigPath(config.kubeconfig)}`;
}
