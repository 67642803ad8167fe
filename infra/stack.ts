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
import { CfnOutput, Duration, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as eks from 'aws-cdk-lib/aws-eks';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { parseAllDocuments } from 'yaml';
import { loadMaskingRules } from '../src/masking/masking-rules-file.ts';
import { loadPolicyFile } from '../src/policy/policy-file.ts';
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
  /** Name of the EKS cluster, in this stack's account and region. */
  clusterName: string;
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
  records?: Omit<GatehouseRecordsProps, 'fn'>;
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

export const DEFAULT_RESERVED_CONCURRENCY = 100;

export class GatehouseStack extends Stack {
  /** The Gatehouse function: grant it access to what later parts add. */
  readonly fn: NodejsFunction;
  readonly functionUrl: lambda.FunctionUrl;
  readonly clusterAccessRole: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly monitoring: GatehouseMonitoring;

  constructor(scope: Construct, id: string, props: GatehouseStackProps) {
    super(scope, id, props);
    const kubernetesGroup = props.kubernetesGroup ?? DEFAULT_KUBERNETES_GROUP;
    const policyFile = resolve(props.policyFile);
    // Fail the synth, not the deployment's first cold start, when the policy or its masking
    // rules are missing or invalid; the function reads the policy as JSON (lambda-bundle.ts).
    loadPolicyFile(policyFile);
    loadMaskingRules(policyFile);
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
      description: 'Gatehouse: access broker in front of the EKS cluster',
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
        GATEHOUSE_UPSTREAM: 'eks',
        GATEHOUSE_EKS_CLUSTER_NAME: props.clusterName,
        GATEHOUSE_EKS_REGION: this.region,
        ...optionalEnv('GATEHOUSE_LAMBDA_MAX_STREAM_SECONDS', props.maxStreamSeconds === undefined ? undefined : String(props.maxStreamSeconds)),
        // Powertools metrics (functions/call-metrics.ts) land beside the stack's log metrics.
        POWERTOOLS_METRICS_NAMESPACE: metricsNamespace(this.stackName),
      },
    });

    this.functionUrl = this.fn.addFunctionUrl({
      authType: lambda.FunctionUrlAuthType.NONE,
      invokeMode: lambda.InvokeMode.RESPONSE_STREAM,
    });

    this.clusterAccessRole = new iam.Role(this, 'ClusterAccessRole', {
      assumedBy: new iam.ArnPrincipal(functionRole.roleArn),
      description: `Gatehouse's identity in EKS cluster ${props.clusterName}; mapped to group ${kubernetesGroup}, which may only impersonate`,
      maxSessionDuration: Duration.hours(1),
    });
    this.clusterAccessRole.grantAssumeRole(functionRole);
    this.setEnvironment('GATEHOUSE_EKS_ROLE_ARN', this.clusterAccessRole.roleArn);

    functionRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['eks:DescribeCluster'],
        resources: [this.formatArn({ service: 'eks', resource: 'cluster', resourceName: props.clusterName })],
      }),
    );

    new eks.CfnAccessEntry(this, 'ClusterAccessEntry', {
      clusterName: props.clusterName,
      principalArn: this.clusterAccessRole.roleArn,
      type: 'STANDARD',
      // A readable name in the cluster's audit log instead of the assumed-role ARN.
      username: 'gatehouse',
      kubernetesGroups: [kubernetesGroup],
    });

    if (props.cluster !== undefined) {
      new eks.KubernetesManifest(this, 'ImpersonatorRbac', {
        cluster: props.cluster,
        manifest: rbacManifest(kubernetesGroup),
        overwrite: true,
      });
    }

    if (props.approvals !== undefined) new GatehouseApprovals(this, 'Approvals', { fn: this.fn, ...props.approvals });
    new GatehouseRecords(this, 'Records', { fn: this.fn, ...props.records });
    new GatehouseStreamLeases(this, 'StreamLeases', { fn: this.fn, ...(props.maxStreamsPerUser === undefined ? {} : { maxPerUser: props.maxStreamsPerUser }) });
    this.monitoring = new GatehouseMonitoring(this, 'Monitoring', {
      fn: this.fn,
      logGroup: this.logGroup,
      ...(props.alarmTopicArn === undefined ? {} : { alarmTopicArn: props.alarmTopicArn }),
    });

    new CfnOutput(this, 'Url', { value: this.functionUrl.url, description: 'Gatehouse URL: the `server` of users\' kubeconfig' });
    new CfnOutput(this, 'ClusterAccessRoleArn', { value: this.clusterAccessRole.roleArn });
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

function optionalEnv(name: string, value: string | undefined): Record<string, string> {
  return value === undefined ? {} : { [name]: value };
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, "'\\''")}'`;
}
