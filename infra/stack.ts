/**
 * GatehouseStack — everything Gatehouse needs in one AWS account and region, next to an
 * existing EKS cluster:
 *
 * - the function: the Gatehouse app on Lambda (Node 22, arm64), bundled locally with esbuild
 *   (minified, source maps, no Docker; infra/lambda-bundle.ts), its policy file bundled beside
 *   it (as written, and as the JSON the function reads), an explicit log
 *   group with retention, and a role with only what it uses;
 * - the Function URL: auth NONE (every call's OIDC token is verified by the app, and IAM auth
 *   would need SigV4 from kubectl), invoke mode RESPONSE_STREAM so watch and `logs -f` stream;
 * - the cluster access role: trusted by the function's role only, with no IAM permissions
 *   (the presigned STS GetCallerIdentity that forms the EKS token needs none);
 * - the EKS access entry mapping that role to the Kubernetes group `gatehouse:impersonators`,
 *   which `infra/rbac/impersonator.yaml` allows to impersonate and nothing else (applied here
 *   when the stack is given a CDK-managed cluster, else by `kubectl apply`).
 * - or, for several clusters (`clusters`), each under /clusters/<name> of the one Function URL:
 *   per cluster eks:DescribeCluster on that cluster only, and either the stack's cluster access
 *   role (an access entry in each cluster of the stack's region; for another region, the
 *   command that creates it is a stack output) or a role of the cluster's own (`roleArn`),
 *   which the function may assume and nothing else.
 *
 * - optionally the VPC (`infra/network.ts`): the function in your subnets, with VPC endpoints
 *   for STS, EKS, S3, DynamoDB and Secrets Manager, for clusters with a private endpoint;
 * - limits: reserved concurrency (default 100), a per-user cap on concurrent long streams
 *   (`infra/streams.ts`: a lease table), and optionally a longest stream;
 * - monitoring (`infra/monitoring.ts`): alarms on records not written, 5xx, throttles and
 *   timeouts to an SNS topic, and a dashboard.
 *
 * Later parts add their resources with one line each, through `fn` (grants) and
 * `setEnvironment` (configuration the function reads with `config-env.ts`).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, Fn, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as eks from 'aws-cdk-lib/aws-eks';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { parseAllDocuments } from 'yaml';
import { loadMaskingRules } from '../src/masking/masking-rules-file.ts';
import { loadPolicyFile } from '../src/policy/policy-file.ts';
import { CLUSTER_NAME } from '../src/cluster-route.ts';
import { clusterProblems } from '../src/policy/policy.ts';
import { LAMBDA_ENTRY, LAMBDA_ESBUILD, POLICY_JSON_NAME, POLICY_YAML_NAME, writePolicyJson } from './lambda-bundle.ts';
import { GatehouseApprovals, type GatehouseApprovalsProps } from './approvals.ts';
import { GatehouseRecords, type GatehouseRecordsProps } from './records.ts';
import { GatehouseMonitoring, metricsNamespace } from './monitoring.ts';
import { GatehouseNetwork, type GatehouseNetworkProps } from './network.ts';
import { GatehouseStreamLeases } from './streams.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const RBAC_MANIFEST = join(REPO_ROOT, 'infra', 'rbac', 'impersonator.yaml');
export const DEFAULT_KUBERNETES_GROUP = 'gatehouse:impersonators';

export interface GatehouseStackProps extends StackProps {
  /** OIDC issuer URL whose tokens Gatehouse accepts. */
  oidcIssuer: string;
  /** Accepted `aud` values (the IdP client id kubectl logs in with). */
  oidcAudience: string[];
  oidcUsernameClaim?: string;
  oidcGroupsClaim?: string;
  oidcUsernamePrefix?: string;
  oidcGroupsPrefix?: string;
  /** Name of the EKS cluster, in this stack's account and region (one cluster, served at the root) … */
  clusterName?: string;
  /** … or several clusters, each served under /clusters/<name>. Exactly one of the two. */
  clusters?: readonly GatehouseClusterProps[];
  /** A CDK-managed cluster: when given, the RBAC manifest is applied to it by CDK. */
  cluster?: eks.ICluster;
  /** Kubernetes group the cluster access role is mapped to; must match the RBAC manifest. */
  kubernetesGroup?: string;
  /** Policy YAML bundled with the function. */
  policyFile: string;
  /** Days the function's logs are kept (default 365). */
  logRetention?: logs.RetentionDays;
  /** Longest a call (a watch, `logs -f`) may stream; at most 15 minutes (default). */
  timeout?: Duration;
  memorySize?: number;
  /** Just-in-time approvals (table, SES identity, link key); omitted: `review` rules are refused. */
  approvals?: Omit<GatehouseApprovalsProps, 'fn'>;
  /** Session records settings (Object Lock mode and retention, lifecycle, …); records are always on. */
  records?: Omit<GatehouseRecordsProps, 'fn' | 'clusters'>;
  /**
   * Concurrent executions reserved for (and at most used by) the function (default 100). Every
   * open watch or `logs -f` holds one for as long as it runs; beyond this, calls are throttled
   * (429) instead of taking the account's whole concurrency.
   */
  reservedConcurrency?: number;
  /** Longest a call (a watch, `logs -f`) runs before Gatehouse ends it (default: until 10 s before the timeout). */
  maxStreamSeconds?: number;
  /** Long streams (watch, `logs -f`) one user may have open at once (default 10); one more gets 429 (`infra/streams.ts`). */
  maxStreamsPerUser?: number;
  /** SNS topic the alarms notify (default: a topic the stack creates; subscribe to it). */
  alarmTopicArn?: string;
  /** Run the function in a VPC (private EKS endpoints), with the endpoints it needs (`infra/network.ts`). */
  network?: Omit<GatehouseNetworkProps, 'approvals'>;
}

/** One cluster of a stack that fronts several. */
export interface GatehouseClusterProps {
  /** Its name in its URL (/clusters/<name>), in policy rules, records and kubeconfig contexts. */
  name: string;
  /** The EKS cluster's name (default: `name`), in this stack's account. */
  clusterName?: string;
  /** Its region (default: the stack's). */
  region?: string;
  /**
   * A role of its own that Gatehouse assumes for it, already mapped in the cluster to a group
   * that may only impersonate (default: the stack's cluster access role, given an access entry).
   */
  roleArn?: string;
}

export const DEFAULT_RESERVED_CONCURRENCY = 100;

export class GatehouseStack extends Stack {
  /** The Gatehouse function: grant it access to what later parts add. */
  readonly fn: NodejsFunction;
  readonly functionUrl: lambda.FunctionUrl;
  /** The role Gatehouse is in the clusters that have no role of their own (absent when every cluster has one). */
  readonly clusterAccessRole: iam.Role | undefined;
  readonly logGroup: logs.LogGroup;
  readonly monitoring: GatehouseMonitoring;

  constructor(scope: Construct, id: string, props: GatehouseStackProps) {
    super(scope, id, props);
    const clusters = stackClusters(props, this.region);
    const kubernetesGroup = props.kubernetesGroup ?? DEFAULT_KUBERNETES_GROUP;
    const policyFile = resolve(props.policyFile);
    // Fail the synth, not the deployment's first cold start, when the policy or its masking
    // rules are missing or invalid; the function reads the policy as JSON (lambda-bundle.ts).
    const policy = loadPolicyFile(policyFile);
    loadMaskingRules(policyFile);
    // A rule naming a cluster the stack does not front would never apply: fail the synth, as the cold start would.
    const policyClusterProblems = clusterProblems(policy, clusters.list.map((cluster) => cluster.name));
    if (policyClusterProblems.length > 0) throw new Error(`GatehouseStack policy ${policyFile}:\n${policyClusterProblems.map((problem) => `  - ${problem}`).join('\n')}`);
    const policyJsonFile = join(mkdtempSync(join(tmpdir(), 'gatehouse-policy-')), POLICY_JSON_NAME);
    writePolicyJson(policyFile, policyJsonFile);

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
    });

    // An explicit role instead of the AWSLambdaBasicExecutionRole managed policy, which
    // would allow writing to every log group in the account.
    const functionRole = new iam.Role(this, 'FunctionRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Gatehouse function: writes its logs, assumes the cluster access role, describes the cluster',
    });
    functionRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [`${this.logGroup.logGroupArn}`],
      }),
    );

    const network = props.network === undefined ? undefined : new GatehouseNetwork(this, 'Network', { ...props.network, approvals: props.approvals !== undefined });
    if (network !== undefined) GatehouseNetwork.acknowledgeVpcAccess(functionRole);

    this.fn = new NodejsFunction(this, 'Function', {
      ...(network === undefined ? {} : { vpc: network.vpc, vpcSubnets: { subnets: network.subnets }, securityGroups: [network.securityGroup] }),
      description: clusters.several ? 'Gatehouse: access broker in front of the EKS clusters' : 'Gatehouse: access broker in front of the EKS cluster',
      entry: LAMBDA_ENTRY,
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: join(REPO_ROOT, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 1024,
      timeout: props.timeout ?? Duration.minutes(15),
      reservedConcurrentExecutions: props.reservedConcurrency ?? DEFAULT_RESERVED_CONCURRENCY,
      role: functionRole,
      logGroup: this.logGroup,
      // The settings the cold-start bench uses too (lambda-bundle.ts says why each).
      bundling: {
        format: OutputFormat.ESM,
        target: LAMBDA_ESBUILD.target,
        mainFields: [...LAMBDA_ESBUILD.mainFields],
        minify: LAMBDA_ESBUILD.minify,
        sourceMap: LAMBDA_ESBUILD.sourcemap,
        // Linked: the bundle names its map, so --enable-source-maps finds it for stack traces.
        sourceMapMode: SourceMapMode.DEFAULT,
        sourcesContent: LAMBDA_ESBUILD.sourcesContent,
        bundleAwsSDK: true,
        externalModules: [],
        forceDockerBundling: false,
        banner: LAMBDA_ESBUILD.banner.js,
        esbuildArgs: { '--alias': Object.entries(LAMBDA_ESBUILD.alias).map(([name, path]) => `${name}=${path}`) },
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (_inputDir: string, outputDir: string) => [
            `cp ${shellQuote(policyFile)} ${shellQuote(join(outputDir, POLICY_YAML_NAME))}`,
            `cp ${shellQuote(policyJsonFile)} ${shellQuote(join(outputDir, POLICY_JSON_NAME))}`,
          ],
        },
      },
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        GATEHOUSE_OIDC_ISSUER: props.oidcIssuer,
        GATEHOUSE_OIDC_AUDIENCE: props.oidcAudience.join(','),
        ...optionalEnv('GATEHOUSE_OIDC_USERNAME_CLAIM', props.oidcUsernameClaim),
        ...optionalEnv('GATEHOUSE_OIDC_GROUPS_CLAIM', props.oidcGroupsClaim),
        ...optionalEnv('GATEHOUSE_OIDC_USERNAME_PREFIX', props.oidcUsernamePrefix),
        ...optionalEnv('GATEHOUSE_OIDC_GROUPS_PREFIX', props.oidcGroupsPrefix),
        ...optionalEnv('GATEHOUSE_LAMBDA_MAX_STREAM_SECONDS', props.maxStreamSeconds === undefined ? undefined : String(props.maxStreamSeconds)),
        // Powertools metrics (functions/call-metrics.ts) land beside the stack's log metrics.
        POWERTOOLS_METRICS_NAMESPACE: metricsNamespace(this.stackName),
      },
    });

    this.functionUrl = this.fn.addFunctionUrl({
      authType: lambda.FunctionUrlAuthType.NONE,
      invokeMode: lambda.InvokeMode.RESPONSE_STREAM,
    });

    const ownRole = clusters.list.filter((cluster) => cluster.roleArn === undefined);
    const clusterAccessRole =
      ownRole.length === 0
        ? undefined
        : new iam.Role(this, 'ClusterAccessRole', {
            assumedBy: new iam.ArnPrincipal(functionRole.roleArn),
            description: `Gatehouse's identity in EKS cluster${ownRole.length === 1 ? '' : 's'} ${ownRole.map((cluster) => cluster.clusterName).join(', ')}; mapped to group ${kubernetesGroup}, which may only impersonate`,
            maxSessionDuration: Duration.hours(1),
          });
    this.clusterAccessRole = clusterAccessRole;
    clusterAccessRole?.grantAssumeRole(functionRole);
    const ownRoles = [...new Set(clusters.list.flatMap((cluster) => (cluster.roleArn === undefined ? [] : [cluster.roleArn])))];
    if (ownRoles.length > 0) functionRole.addToPolicy(new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: ownRoles }));
    const roleOf = (cluster: StackCluster): string => cluster.roleArn ?? (clusterAccessRole as iam.Role).roleArn;

    functionRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['eks:DescribeCluster'],
        resources: clusters.list.map((cluster) => this.formatArn({ service: 'eks', region: cluster.region, resource: 'cluster', resourceName: cluster.clusterName })),
      }),
    );

    if (clusters.several) {
      const list = clusters.list.map((cluster) => ({ name: cluster.name, upstream: { kind: 'eks', clusterName: cluster.clusterName, region: cluster.region, roleArn: roleOf(cluster) } }));
      this.setEnvironment('GATEHOUSE_CLUSTERS', this.toJsonString(list));
    } else {
      const [only] = clusters.list as [StackCluster];
      this.setEnvironment('GATEHOUSE_UPSTREAM', 'eks');
      this.setEnvironment('GATEHOUSE_EKS_CLUSTER_NAME', only.clusterName);
      this.setEnvironment('GATEHOUSE_EKS_REGION', only.region);
      this.setEnvironment('GATEHOUSE_EKS_ROLE_ARN', roleOf(only));
    }

    // An access entry maps the stack's role in each cluster that uses it; CloudFormation creates
    // it only in the stack's region — for a cluster elsewhere the command is an output.
    for (const cluster of ownRole) {
      const entryId = clusters.several ? `ClusterAccessEntry-${cluster.name}` : 'ClusterAccessEntry';
      const role = clusterAccessRole as iam.Role;
      if (cluster.region === this.region) {
        new eks.CfnAccessEntry(this, entryId, {
          clusterName: cluster.clusterName,
          principalArn: role.roleArn,
          type: 'STANDARD',
          // A readable name in the cluster's audit log instead of the assumed-role ARN.
          username: 'gatehouse',
          kubernetesGroups: [kubernetesGroup],
        });
      } else {
        new CfnOutput(this, `${entryId}Command`, {
          description: `Cluster ${cluster.name} is in ${cluster.region}, outside this stack's region: map the cluster access role there with this command`,
          value: Fn.join('', [
            `aws eks create-access-entry --region ${cluster.region} --cluster-name ${cluster.clusterName} --principal-arn `,
            role.roleArn,
            ` --type STANDARD --username gatehouse --kubernetes-groups ${kubernetesGroup}`,
          ]),
        });
      }
    }

    if (props.cluster !== undefined) {
      new eks.KubernetesManifest(this, 'ImpersonatorRbac', {
        cluster: props.cluster,
        manifest: rbacManifest(kubernetesGroup),
        overwrite: true,
      });
    }

    if (props.approvals !== undefined) new GatehouseApprovals(this, 'Approvals', { fn: this.fn, ...props.approvals });
    new GatehouseRecords(this, 'Records', { fn: this.fn, clusters: clusters.list.map((cluster) => cluster.name), ...props.records });
    new GatehouseStreamLeases(this, 'StreamLeases', { fn: this.fn, ...(props.maxStreamsPerUser === undefined ? {} : { maxPerUser: props.maxStreamsPerUser }) });
    this.monitoring = new GatehouseMonitoring(this, 'Monitoring', {
      fn: this.fn,
      logGroup: this.logGroup,
      ...(props.alarmTopicArn === undefined ? {} : { alarmTopicArn: props.alarmTopicArn }),
    });

    new CfnOutput(this, 'Url', {
      value: this.functionUrl.url,
      description: clusters.several
        ? `Gatehouse URL: the \`server\` of each cluster in users' kubeconfig is <Url>clusters/<name> (${clusters.list.map((cluster) => cluster.name).join(', ')}); gatehouse kubeconfig --cluster writes them`
        : "Gatehouse URL: the `server` of users' kubeconfig",
    });
    if (clusterAccessRole !== undefined) new CfnOutput(this, 'ClusterAccessRoleArn', { value: clusterAccessRole.roleArn });
    new CfnOutput(this, 'LogGroupName', { value: this.logGroup.logGroupName });

    // cdk-nag acknowledgements, each with its reason.
    Validations.of(this.fn).acknowledge({
      id: 'AwsSolutions::AwsSolutions-L1',
      reason: 'Pinned to Node.js 22, the runtime Gatehouse is tested on (streaming handler shim, engines); a runtime upgrade is a deliberate, tested change.',
    });
  }

  /** Sets a variable the function reads at cold start (see src/config-env.ts for the names). */
  setEnvironment(name: string, value: string): void {
    this.fn.addEnvironment(name, value);
  }
}

/** The RBAC manifest as objects, with the binding's subject set to the mapped group. */
export function rbacManifest(kubernetesGroup: string): Record<string, unknown>[] {
  const documents = parseAllDocuments(readFileSync(RBAC_MANIFEST, 'utf8')).map((doc) => doc.toJS() as Record<string, unknown>);
  for (const doc of documents) {
    if (doc.kind === 'ClusterRoleBinding') doc.subjects = [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: kubernetesGroup }];
  }
  return documents;
}

interface StackCluster {
  name: string;
  clusterName: string;
  region: string;
  roleArn?: string;
}

/** The clusters of the stack's props: `clusterName` is one at the root, `clusters` several; checked at synth. */
function stackClusters(props: GatehouseStackProps, stackRegion: string): { several: boolean; list: StackCluster[] } {
  if ((props.clusterName === undefined) === (props.clusters === undefined)) {
    throw new Error('GatehouseStack: give exactly one of clusterName (one cluster) or clusters (several, each under /clusters/<name>)');
  }
  if (props.clusterName !== undefined) return { several: false, list: [{ name: props.clusterName, clusterName: props.clusterName, region: stackRegion }] };
  const problems = clusterListProblems(props.clusters ?? []);
  const list = (props.clusters ?? []).map((cluster) => ({ name: cluster.name, clusterName: cluster.clusterName ?? cluster.name, region: cluster.region ?? stackRegion, ...(cluster.roleArn === undefined ? {} : { roleArn: cluster.roleArn }) }));
  if (props.cluster !== undefined) problems.push('cluster (a CDK-managed cluster whose RBAC the stack applies) goes with clusterName; apply infra/rbac/impersonator.yaml to each of several clusters');
  if (problems.length > 0) throw new Error(`GatehouseStack clusters:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
  return { several: true, list };
}

/** What is wrong with a list of clusters (names, EKS names, regions, role ARNs), every problem at once. */
export function clusterListProblems(clusters: readonly { name: string; clusterName?: string; region?: string; roleArn?: string }[]): string[] {
  const problems: string[] = [];
  if (clusters.length === 0) problems.push('list at least one cluster');
  const seen = new Set<string>();
  for (const cluster of clusters) {
    if (!CLUSTER_NAME.test(cluster.name)) problems.push(`"${cluster.name}" is not a cluster name (1-100 letters, digits, "-" or "_", starting with a letter or digit)`);
    if (seen.has(cluster.name)) problems.push(`"${cluster.name}" names two clusters`);
    seen.add(cluster.name);
    if (cluster.clusterName !== undefined && !CLUSTER_NAME.test(cluster.clusterName)) problems.push(`cluster ${cluster.name}: "${cluster.clusterName}" is not an EKS cluster name`);
    if (cluster.region !== undefined && cluster.region !== '' && !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(cluster.region)) problems.push(`cluster ${cluster.name}: "${cluster.region}" is not an AWS region`);
    if (cluster.roleArn !== undefined && !/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/.test(cluster.roleArn)) problems.push(`cluster ${cluster.name}: "${cluster.roleArn}" is not an IAM role ARN`);
  }
  return problems;
}

function optionalEnv(name: string, value: string | undefined): Record<string, string> {
  return value === undefined ? {} : { [name]: value };
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, "'\\''")}'`;
}
