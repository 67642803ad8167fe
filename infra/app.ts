/**
 * The CDK app: one GatehouseStack, parameters from context (`-c name=value` or cdk.json),
 * checked before anything is built — every missing or malformed parameter is reported at
 * once. cdk-nag's AWS Solutions checks run on every synth.
 *
 *   npx cdk deploy -c oidcIssuer=https://idp.example.com -c oidcAudience=gatehouse -c clusterName=prod
 *
 * Parameters (docs/aws.md has the details):
 *   oidcIssuer (required), oidcAudience (required, comma-separated), clusterName or clusters
 *   (one of them: one cluster at the root, or several under /clusters/<name> — a comma-separated
 *   list of names, or a JSON list of {name, clusterName?, region?, roleArn?}),
 *   region, account, stackName, policyFile, kubernetesGroup, oidcUsernameClaim,
 *   oidcGroupsClaim, oidcUsernamePrefix, oidcGroupsPrefix, logRetentionDays, timeoutSeconds;
 *   reservedConcurrency, maxStreamSeconds, maxStreamsPerUser, recordsCarryOverSeconds, alarmTopicArn;
 *   VPC (on when vpcId is set): vpcId, subnetIds, securityGroupId, routeTableIds, vpcEndpoints;
 *   approvals (on when approvalsMailFrom is set): approvalsMailFrom, approvalsSenderDomain,
 *   approvalsSenderIdentity, approvalsSandboxRecipients, approvalsPublicUrl, approvalsHoldSeconds,
 *   approvalsName.
 */
import { App, Duration, Validations } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clusterListProblems, GatehouseStack, REPO_ROOT, type GatehouseClusterProps, type GatehouseStackProps } from './stack.ts';

/** Missing or malformed `-c` parameters; the message says which and how to fix them. */
export class StackParametersError extends Error {
  override name = 'StackParametersError';
}

export interface AppParameters {
  stackName: string;
  account: string | undefined;
  region: string | undefined;
  props: Omit<GatehouseStackProps, 'env' | 'stackName'>;
}

/** Reads the stack's parameters from context; throws one error listing every problem. */
export function readParameters(app: App): AppParameters {
  const problems: string[] = [];
  const text = (name: string): string | undefined => {
    const value: unknown = app.node.tryGetContext(name);
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string' && typeof value !== 'number') {
      problems.push(`-c ${name}: must be a string`);
      return undefined;
    }
    return String(value);
  };
  const required = (name: string, example: string): string => {
    const value = text(name);
    if (value === undefined) problems.push(`-c ${name}=… is required (e.g. -c ${name}=${example})`);
    return value ?? '';
  };
  const integer = (name: string, min: number, max: number): number | undefined => {
    const value = text(name);
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) problems.push(`-c ${name}: must be an integer from ${min} to ${max}, got "${value}"`);
    return n;
  };

  const oidcIssuer = required('oidcIssuer', 'https://idp.example.com');
  if (oidcIssuer !== '' && !/^https:\/\/[^/]/.test(oidcIssuer)) problems.push(`-c oidcIssuer: must be an https:// URL, got "${oidcIssuer}"`);
  const oidcAudience = required('oidcAudience', 'gatehouse')
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  const clusterName = text('clusterName');
  const clusters = clusterList(app.node.tryGetContext('clusters'), problems);
  if ((clusterName === undefined) === (clusters === undefined)) {
    problems.push(
      clusterName === undefined
        ? '-c clusterName=… is required (e.g. -c clusterName=prod), or -c clusters=… for several (e.g. -c clusters=dev,prod)'
        : '-c clusterName and -c clusters: give one of them (one cluster at the root, or several, each under /clusters/<name>)',
    );
  }
  const logRetentionDays = integer('logRetentionDays', 1, 3653);
  if (logRetentionDays !== undefined && !Object.values(RetentionDays).includes(logRetentionDays)) {
    problems.push(`-c logRetentionDays: CloudWatch Logs does not offer ${logRetentionDays} days (e.g. 30, 90, 180, 365, 731)`);
  }
  const timeoutSeconds = integer('timeoutSeconds', 30, 900);
  const reservedConcurrency = integer('reservedConcurrency', 1, 10000);
  const maxStreamSeconds = integer('maxStreamSeconds', 10, 900);
  if (maxStreamSeconds !== undefined && maxStreamSeconds > (timeoutSeconds ?? 900) - 10) {
    problems.push(`-c maxStreamSeconds: must leave 10 s before the function timeout (${timeoutSeconds ?? 900} s) for the call's record, got "${maxStreamSeconds}"`);
  }
  const maxStreamsPerUser = integer('maxStreamsPerUser', 1, 1000);
  const recordsCarryOverSeconds = integer('recordsCarryOverSeconds', 0, 900);
  const list = (name: string): string[] =>
    (text(name) ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  const vpcId = text('vpcId');
  const subnetIds = list('subnetIds');
  const securityGroupId = text('securityGroupId');
  const routeTableIds = list('routeTableIds');
  const vpcEndpoints = text('vpcEndpoints');
  if (vpcId !== undefined && !/^vpc-[0-9a-f]+$/.test(vpcId)) problems.push(`-c vpcId: must be a VPC id (vpc-…), got "${vpcId}"`);
  if (vpcId !== undefined && subnetIds.length === 0) problems.push('-c subnetIds=… is required with -c vpcId (the private subnets the function runs in, comma-separated)');
  for (const id of subnetIds) if (!/^subnet-[0-9a-f]+$/.test(id)) problems.push(`-c subnetIds: "${id}" is not a subnet id (subnet-…)`);
  if (securityGroupId !== undefined && !/^sg-[0-9a-f]+$/.test(securityGroupId)) problems.push(`-c securityGroupId: must be a security group id (sg-…), got "${securityGroupId}"`);
  for (const id of routeTableIds) if (!/^rtb-[0-9a-f]+$/.test(id)) problems.push(`-c routeTableIds: "${id}" is not a route table id (rtb-…)`);
  if (routeTableIds.length > 0 && routeTableIds.length !== subnetIds.length) problems.push('-c routeTableIds: one route table per subnet, in the order of -c subnetIds');
  if (vpcEndpoints !== undefined && vpcEndpoints !== 'true' && vpcEndpoints !== 'false') problems.push(`-c vpcEndpoints: must be true or false, got "${vpcEndpoints}"`);
  const vpcOnly = ['subnetIds', 'securityGroupId', 'routeTableIds', 'vpcEndpoints'].filter((name) => text(name) !== undefined);
  if (vpcId === undefined && vpcOnly.length > 0) problems.push(`-c ${vpcOnly.join(', -c ')}: the function is in a VPC only with -c vpcId=vpc-…`);
  const alarmTopicArn = text('alarmTopicArn');
  if (alarmTopicArn !== undefined && !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]+$/.test(alarmTopicArn)) {
    problems.push(`-c alarmTopicArn: must be an SNS topic ARN, got "${alarmTopicArn}"`);
  }
  const approvalsMailFrom = text('approvalsMailFrom');
  const approvalsHoldSeconds = integer('approvalsHoldSeconds', 0, 840);
  const approvalsPublicUrl = text('approvalsPublicUrl');
  if (approvalsPublicUrl !== undefined && !/^https:\/\/[^/]/.test(approvalsPublicUrl)) {
    problems.push(`-c approvalsPublicUrl: must be an https:// URL, got "${approvalsPublicUrl}"`);
  }
  const approvalsSenderIdentity = text('approvalsSenderIdentity');
  if (approvalsSenderIdentity !== undefined && !['domain', 'address', 'existing'].includes(approvalsSenderIdentity)) {
    problems.push(`-c approvalsSenderIdentity: must be domain, address or existing, got "${approvalsSenderIdentity}"`);
  }
  const approvalsSandboxRecipients = (text('approvalsSandboxRecipients') ?? '')
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  for (const address of approvalsSandboxRecipients) {
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(address)) problems.push(`-c approvalsSandboxRecipients: "${address}" is not an e-mail address`);
  }
  const approvalsName = text('approvalsName');
  if (approvalsName !== undefined && approvalsName.length > 100) problems.push(`-c approvalsName: at most 100 characters, got ${approvalsName.length}`);
  const approvalsOnly = ['approvalsSenderDomain', 'approvalsSenderIdentity', 'approvalsSandboxRecipients', 'approvalsPublicUrl', 'approvalsHoldSeconds', 'approvalsName'].filter((name) => text(name) !== undefined);
  if (approvalsMailFrom === undefined && approvalsOnly.length > 0) {
    problems.push(`-c ${approvalsOnly.join(', -c ')}: approvals are on only with -c approvalsMailFrom=<sender address>`);
  }

  if (problems.length > 0) {
    throw new StackParametersError(`GatehouseStack cannot be synthesized:\n${problems.map((p) => `  - ${p}`).join('\n')}\nSee docs/aws.md for every parameter.`);
  }
  const props: AppParameters['props'] = {
    oidcIssuer,
    oidcAudience,
    ...(clusters === undefined ? { clusterName: clusterName ?? '' } : { clusters }),
    policyFile: text('policyFile') ?? join(REPO_ROOT, 'policy', 'default.yaml'),
  };
  const optional = {
    kubernetesGroup: text('kubernetesGroup'),
    oidcUsernameClaim: text('oidcUsernameClaim'),
    oidcGroupsClaim: text('oidcGroupsClaim'),
    oidcUsernamePrefix: text('oidcUsernamePrefix'),
    oidcGroupsPrefix: text('oidcGroupsPrefix'),
  };
  for (const [key, value] of Object.entries(optional)) if (value !== undefined) Object.assign(props, { [key]: value });
  if (logRetentionDays !== undefined) props.logRetention = logRetentionDays as RetentionDays;
  if (timeoutSeconds !== undefined) props.timeout = Duration.seconds(timeoutSeconds);
  if (reservedConcurrency !== undefined) props.reservedConcurrency = reservedConcurrency;
  if (maxStreamSeconds !== undefined) props.maxStreamSeconds = maxStreamSeconds;
  if (maxStreamsPerUser !== undefined) props.maxStreamsPerUser = maxStreamsPerUser;
  if (recordsCarryOverSeconds !== undefined) props.records = { carryOverSeconds: recordsCarryOverSeconds };
  if (alarmTopicArn !== undefined) props.alarmTopicArn = alarmTopicArn;
  if (vpcId !== undefined) {
    props.network = {
      vpcId,
      subnetIds,
      ...(securityGroupId === undefined ? {} : { securityGroupId }),
      ...(routeTableIds.length === 0 ? {} : { routeTableIds }),
      ...(vpcEndpoints === 'false' ? { endpoints: false } : {}),
    };
  }
  if (approvalsMailFrom !== undefined) {
    const approvals: NonNullable<GatehouseStackProps['approvals']> = { mailFrom: approvalsMailFrom };
    const senderDomain = text('approvalsSenderDomain');
    if (senderDomain !== undefined) approvals.senderDomain = senderDomain;
    if (approvalsSenderIdentity !== undefined) approvals.senderIdentity = approvalsSenderIdentity as NonNullable<typeof approvals.senderIdentity>;
    if (approvalsSandboxRecipients.length > 0) approvals.sandboxRecipients = approvalsSandboxRecipients;
    if (approvalsPublicUrl !== undefined) approvals.publicUrl = approvalsPublicUrl;
    if (approvalsHoldSeconds !== undefined) approvals.holdSeconds = approvalsHoldSeconds;
    if (approvalsName !== undefined) approvals.name = approvalsName;
    props.approvals = approvals;
  }
  return {
    stackName: text('stackName') ?? 'Gatehouse',
    account: text('account') ?? process.env.CDK_DEFAULT_ACCOUNT,
    region: text('region') ?? process.env.CDK_DEFAULT_REGION,
    props,
  };
}

/**
 * `-c clusters=dev,prod` (names, each an EKS cluster of that name in the stack's region) or a
 * JSON list, `-c clusters='[{"name":"prod","clusterName":"prod-eks","region":"us-east-1","roleArn":"arn:…"}]'`
 * (in cdk.json: the list itself). Undefined when not given; problems are pushed.
 */
function clusterList(value: unknown, problems: string[]): GatehouseClusterProps[] | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  let list: unknown = value;
  if (typeof value === 'string') {
    if (value.trim().startsWith('[')) {
      try {
        list = JSON.parse(value);
      } catch {
        problems.push(`-c clusters: not a JSON list: ${value}`);
        return [];
      }
    } else {
      list = value.split(',').map((name) => ({ name: name.trim() })).filter((cluster) => cluster.name !== '');
    }
  }
  const keys = new Set(['name', 'clusterName', 'region', 'roleArn']);
  const entries = Array.isArray(list) ? (list as unknown[]) : [];
  if (!Array.isArray(list)) problems.push('-c clusters: must be a list of cluster names or of {name, clusterName?, region?, roleArn?}');
  const clusters: GatehouseClusterProps[] = [];
  entries.forEach((entry, index) => {
    const fields = typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>) : {};
    const unknown = Object.keys(fields).filter((key) => !keys.has(key) || typeof fields[key] !== 'string');
    if (typeof fields.name !== 'string' || unknown.length > 0) {
      problems.push(`-c clusters[${index}]: must be {name, clusterName?, region?, roleArn?} with string values${unknown.length > 0 ? ` (not: ${unknown.join(', ')})` : ''}`);
      return;
    }
    clusters.push(fields as unknown as GatehouseClusterProps);
  });
  problems.push(...clusterListProblems(clusters).map((problem) => `-c clusters: ${problem}`));
  return clusters;
}

export function buildApp(app: App = new App()): { app: App; stack: GatehouseStack } {
  const parameters = readParameters(app);
  const env = parameters.account === undefined && parameters.region === undefined ? undefined : { account: parameters.account, region: parameters.region };
  const stack = new GatehouseStack(app, parameters.stackName, { ...parameters.props, ...(env === undefined ? {} : { env }) });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { app, stack };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  try {
    buildApp().app.synth();
  } catch (error) {
    if (!(error instanceof StackParametersError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
}
