/**
 * GatehouseStacks side by side in one account and region — the default one, a second with
 * its own limits, alarm topic and the first one's mail domain, and two in a VPC (a private
 * cluster endpoint) — synthesized ONCE with cdk-nag's AWS Solutions checks
 * (an unacknowledged finding fails the synth), then checked for what a real deployment needs:
 * no fixed resource names that would collide, limits (reserved concurrency, longest stream),
 * and alarms with their SNS topic and a dashboard.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readParameters, StackParametersError } from '../../infra/app.ts';
import { DEFAULT_RESERVED_CONCURRENCY, GatehouseStack, REPO_ROOT } from '../../infra/stack.ts';

const ENV = { account: '123456789012', region: 'eu-west-1' };
const COMMON = {
  env: ENV,
  oidcIssuer: 'https://idp.example.com/realms/staff',
  oidcAudience: ['gatehouse'],
  policyFile: join(REPO_ROOT, 'policy', 'default.yaml'),
};
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:platform-oncall';

let outdir: string;
let prod: Template;
let staging: Template;
let inVpc: Template;
let ownGroup: Template;

before(() => {
  outdir = mkdtempSync(join(tmpdir(), 'gatehouse-cdk-pair-'));
  const app = new App({ outdir });
  const first = new GatehouseStack(app, 'Gatehouse', { ...COMMON, clusterName: 'prod', approvals: { mailFrom: 'gatehouse@example.com' } });
  const second = new GatehouseStack(app, 'GatehouseStaging', {
    ...COMMON,
    clusterName: 'staging',
    reservedConcurrency: 20,
    maxStreamSeconds: 300,
    maxStreamsPerUser: 3,
    records: { carryOverSeconds: 0 },
    alarmTopicArn: TOPIC,
    // The first stack verified example.com; an SES sandbox account with two approvers.
    approvals: { mailFrom: 'gatehouse-staging@example.com', senderIdentity: 'existing', sandboxRecipients: ['ann@example.org', 'bob@example.org'] },
  });
  // A cluster with a private endpoint: the function in the VPC, with the endpoints it needs.
  const third = new GatehouseStack(app, 'GatehousePrivate', {
    ...COMMON,
    clusterName: 'private',
    approvals: { mailFrom: 'gatehouse@example.com', senderIdentity: 'existing' },
    network: { vpcId: 'vpc-0abc', subnetIds: ['subnet-0a', 'subnet-0b'], routeTableIds: ['rtb-0a', 'rtb-0b'] },
  });
  // A VPC that has its endpoints already, and a security group of the platform team's.
  const fourth = new GatehouseStack(app, 'GatehouseOwnGroup', {
    ...COMMON,
    clusterName: 'private2',
    network: { vpcId: 'vpc-0abc', subnetIds: ['subnet-0a'], securityGroupId: 'sg-0f00', endpoints: false },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  const assembly = app.synth();
  inVpc = Template.fromJSON(assembly.getStackArtifact(third.artifactId).template as Record<string, unknown>);
  ownGroup = Template.fromJSON(assembly.getStackArtifact(fourth.artifactId).template as Record<string, unknown>);
  prod = Template.fromJSON(assembly.getStackArtifact(first.artifactId).template as Record<string, unknown>);
  staging = Template.fromJSON(assembly.getStackArtifact(second.artifactId).template as Record<string, unknown>);
});

after(() => rmSync(outdir, { recursive: true, force: true }));

/** Properties that give a resource a physical name of its own choosing. */
const NAME_PROPERTIES = ['BucketName', 'TableName', 'FunctionName', 'RoleName', 'TopicName', 'LogGroupName', 'DashboardName', 'AlarmName', 'Name'];
const NAMED_ON_PURPOSE = new Set(['AWS::Athena::WorkGroup', 'AWS::Athena::NamedQuery']);

function fixedNames(template: Template): string[] {
  const resources = template.toJSON().Resources as Record<string, { Type: string; Properties?: Record<string, unknown> }>;
  const names: string[] = [];
  for (const resource of Object.values(resources)) {
    for (const property of NAME_PROPERTIES) {
      const value = resource.Properties?.[property];
      // A reference to another resource (a log group, a function) names nothing new.
      if (typeof value === 'string' && !NAMED_ON_PURPOSE.has(resource.Type)) names.push(`${resource.Type}.${property}=${JSON.stringify(value)}`);
    }
  }
  return names;
}

describe('two Gatehouse stacks side by side', () => {
  test('name no bucket, table, function, role, topic, log group, dashboard or alarm themselves', () => {
    assert.deepEqual(fixedNames(prod), []);
    assert.deepEqual(fixedNames(staging), []);
  });

  test('get a Glue database of their own, named after the stack', () => {
    prod.hasResourceProperties('AWS::Glue::Database', { DatabaseInput: { Name: 'gatehouse' } });
    staging.hasResourceProperties('AWS::Glue::Database', { DatabaseInput: { Name: 'gatehousestaging' } });
    staging.hasResourceProperties('AWS::Glue::Table', { DatabaseName: 'gatehousestaging', TableInput: { Name: 'session_records' } });
  });

  test('get an Athena workgroup of their own, whose saved queries read their own database', () => {
    prod.hasResourceProperties('AWS::Athena::WorkGroup', { Name: 'gatehouse-records' });
    staging.hasResourceProperties('AWS::Athena::WorkGroup', { Name: 'gatehousestaging-records' });
    staging.hasResourceProperties('AWS::Athena::NamedQuery', {
      Database: 'gatehousestaging',
      WorkGroup: 'gatehousestaging-records',
      QueryString: Match.stringLikeRegexp('FROM gatehousestaging\\.session_records'),
    });
  });

  test('count their metrics from logs in a namespace of their own', () => {
    prod.hasResourceProperties('AWS::Logs::MetricFilter', { MetricTransformations: [Match.objectLike({ MetricNamespace: 'Gatehouse/Gatehouse', MetricName: 'RecordsErrors' })] });
    staging.hasResourceProperties('AWS::Logs::MetricFilter', { MetricTransformations: [Match.objectLike({ MetricNamespace: 'Gatehouse/GatehouseStaging', MetricName: 'RecordsErrors' })] });
  });
});

describe('approval mail', () => {
  test('the second stack reuses the sender domain the first verified, creating no identity for it', () => {
    prod.hasResourceProperties('AWS::SES::EmailIdentity', { EmailIdentity: 'example.com' });
    staging.resourceCountIs('AWS::SES::EmailIdentity', 2);
    assert.deepEqual(
      Object.values(staging.findResources('AWS::SES::EmailIdentity')).map((r) => (r as { Properties: { EmailIdentity: string } }).Properties.EmailIdentity),
      ['ann@example.org', 'bob@example.org'],
    );
  });

  test('the second stack may send from the existing domain identity, and (in the sandbox) to each verified approver', () => {
    const identityArn = (name: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:ses:eu-west-1:123456789012:identity/${name}`]] });
    staging.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([{ Action: ['ses:SendEmail', 'ses:SendRawEmail'], Effect: 'Allow', Resource: identityArn('example.com') }]) },
    });
    staging.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: ['ses:SendEmail', 'ses:SendRawEmail'], Resource: { 'Fn::Join': ['', Match.arrayWith([{ Ref: Match.stringLikeRegexp('^ApprovalsSandboxRecipient1') }])] } }),
          Match.objectLike({ Action: ['ses:SendEmail', 'ses:SendRawEmail'], Resource: { 'Fn::Join': ['', Match.arrayWith([{ Ref: Match.stringLikeRegexp('^ApprovalsSandboxRecipient2') }])] } }),
        ]),
      },
    });
  });
});

describe('the function in a VPC', () => {
  test('runs in the given subnets with a security group of its own (egress only)', () => {
    inVpc.hasResourceProperties('AWS::Lambda::Function', {
      VpcConfig: { SubnetIds: ['subnet-0a', 'subnet-0b'], SecurityGroupIds: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^NetworkFunctionSecurityGroup'), 'GroupId'] }] },
    });
    inVpc.hasResourceProperties('AWS::EC2::SecurityGroup', {
      VpcId: 'vpc-0abc',
      GroupDescription: 'Gatehouse function: egress only',
      SecurityGroupEgress: [{ CidrIp: '0.0.0.0/0', IpProtocol: '-1' }],
      SecurityGroupIngress: Match.absent(),
    });
  });

  const interfaceEndpoints: { name: string; service: string }[] = [
    { name: 'STS (AssumeRole of the cluster access role)', service: 'sts' },
    { name: 'EKS (DescribeCluster)', service: 'eks' },
    { name: 'Secrets Manager (the approval link key)', service: 'secretsmanager' },
  ];
  for (const { name, service } of interfaceEndpoints) {
    test(`reaches ${name} through an interface endpoint with private DNS`, () => {
      inVpc.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        VpcEndpointType: 'Interface',
        VpcId: 'vpc-0abc',
        ServiceName: `com.amazonaws.eu-west-1.${service}`,
        PrivateDnsEnabled: true,
        SubnetIds: ['subnet-0a', 'subnet-0b'],
      });
    });
  }

  for (const service of ['s3', 'dynamodb']) {
    test(`reaches ${service} through a gateway endpoint in the subnets' route tables`, () => {
      inVpc.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        VpcEndpointType: 'Gateway',
        ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, `.${service}`]] },
        RouteTableIds: ['rtb-0a', 'rtb-0b'],
      });
    });
  }

  test('lets only the function reach the interface endpoints, on 443', () => {
    inVpc.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      FromPort: 443,
      ToPort: 443,
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^NetworkFunctionSecurityGroup'), 'GroupId'] },
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^NetworkEndpointSecurityGroup'), 'GroupId'] },
    });
    inVpc.resourceCountIs('AWS::EC2::VPCEndpoint', 5);
  });

  test('outputs the group to allow in the cluster’s security group', () => {
    const outputs = Object.keys(inVpc.findOutputs('*')).filter((id) => id.startsWith('NetworkFunctionSecurityGroupId'));
    assert.equal(outputs.length, 1);
  });

  test('uses a given security group and creates no endpoints when the VPC has them', () => {
    ownGroup.hasResourceProperties('AWS::Lambda::Function', { VpcConfig: { SubnetIds: ['subnet-0a'], SecurityGroupIds: ['sg-0f00'] } });
    ownGroup.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    ownGroup.resourceCountIs('AWS::EC2::SecurityGroup', 0);
  });

  test('stays out of a VPC unless asked', () => {
    prod.hasResourceProperties('AWS::Lambda::Function', { VpcConfig: Match.absent() });
    prod.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
  });
});

describe('limits', () => {
  test(`reserve ${DEFAULT_RESERVED_CONCURRENCY} concurrent executions by default`, () => {
    prod.hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: DEFAULT_RESERVED_CONCURRENCY });
  });

  test('reserve the configured concurrency', () => {
    staging.hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: 20 });
  });

  test('cap each user at 10 concurrent long streams by default, in a lease table the function may only get, put and update', () => {
    const variables = (template: Template) => (Object.values(template.findResources('AWS::Lambda::Function'))[0] as { Properties: { Environment: { Variables: Record<string, unknown> } } }).Properties.Environment.Variables;
    assert.equal(variables(prod)['GATEHOUSE_STREAMS_MAX_PER_USER'], '10');
    assert.deepEqual(variables(prod)['GATEHOUSE_STREAMS_TABLE'], { Ref: Object.keys(prod.findResources('AWS::DynamoDB::Table')).find((id) => id.startsWith('StreamLeases')) });
    prod.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Delete',
      Properties: { KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], BillingMode: 'PAY_PER_REQUEST', TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true }, SSESpecification: { SSEEnabled: true } },
    });
    prod.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          { Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^StreamLeasesTable'), 'Arn'] } },
        ]),
      },
    });
  });

  test('write records at the end of every invocation, without the shutdown extension, when they are not carried over', () => {
    staging.resourceCountIs('AWS::Lambda::LayerVersion', 0);
    staging.hasResourceProperties('AWS::Lambda::Function', { Layers: Match.absent(), Environment: { Variables: Match.objectLike({ GATEHOUSE_RECORDS_CARRY_OVER_SECONDS: '0' }) } });
  });

  test('cap each user at the configured number of long streams', () => {
    staging.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ GATEHOUSE_STREAMS_MAX_PER_USER: '3' }) } });
  });

  test('bound streams by the function timeout only, unless a longest stream is configured', () => {
    prod.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ GATEHOUSE_LAMBDA_MAX_STREAM_SECONDS: Match.absent() }) } });
    staging.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ GATEHOUSE_LAMBDA_MAX_STREAM_SECONDS: '300' }) } });
  });
});

describe('alarms and dashboard', () => {
  const alarmCases: { name: string; metric: Record<string, unknown>; threshold: number }[] = [
    { name: 'records not written to S3', metric: { Namespace: 'Gatehouse/Gatehouse', MetricName: 'RecordsErrors', Statistic: 'Sum' }, threshold: 1 },
    { name: '5xx answers at the Function URL', metric: { Namespace: 'AWS/Lambda', MetricName: 'Url5xxCount', Statistic: 'Sum' }, threshold: 5 },
    { name: 'throttled calls', metric: { Namespace: 'AWS/Lambda', MetricName: 'Throttles', Statistic: 'Sum' }, threshold: 1 },
    { name: 'invocations that hit the timeout', metric: { Namespace: 'Gatehouse/Gatehouse', MetricName: 'Timeouts', Statistic: 'Sum' }, threshold: 1 },
  ];
  for (const { name, metric, threshold } of alarmCases) {
    test(`alarm on ${name}, notifying the stack's topic`, () => {
      prod.hasResourceProperties('AWS::CloudWatch::Alarm', {
        ...metric,
        Threshold: threshold,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [{ Ref: Match.stringLikeRegexp('^MonitoringAlarmTopic') }],
      });
    });
  }

  test('has exactly those four alarms', () => {
    prod.resourceCountIs('AWS::CloudWatch::Alarm', 4);
  });

  test('counts records errors from the records sink’s JSON log lines', () => {
    prod.hasResourceProperties('AWS::Logs::MetricFilter', {
      FilterPattern: '{ ($.component = "records") && ($.level = "error") }',
      LogGroupName: { Ref: Match.stringLikeRegexp('^Logs') },
    });
  });

  test('counts the runtime’s "Task timed out" lines', () => {
    prod.hasResourceProperties('AWS::Logs::MetricFilter', { FilterPattern: '"Task timed out"' });
  });

  test('creates a topic that takes TLS only and is encrypted, when none is given', () => {
    const topics = Object.values(prod.findResources('AWS::SNS::Topic')) as { Properties: { KmsMasterKeyId?: unknown } }[];
    assert.equal(topics.length, 1);
    assert.match(JSON.stringify(topics[0]?.Properties.KmsMasterKeyId), /:alias\/aws\/sns"/);
    prod.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: [Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })] },
    });
  });

  test('notifies the given topic and creates none', () => {
    staging.resourceCountIs('AWS::SNS::Topic', 0);
    staging.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmActions: [TOPIC] });
  });

  test('has a dashboard', () => {
    prod.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  test("has the function publish its Powertools metrics in the stack's namespace", () => {
    prod.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ POWERTOOLS_METRICS_NAMESPACE: 'Gatehouse/Gatehouse' }) } });
    staging.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ POWERTOOLS_METRICS_NAMESPACE: 'Gatehouse/GatehouseStaging' }) } });
  });
});

describe('the limit and alarm parameters', () => {
  const parameterCases: { name: string; context: Record<string, string>; problem: string }[] = [
    { name: 'refuses a reserved concurrency of 0', context: { reservedConcurrency: '0' }, problem: '-c reservedConcurrency: must be an integer from 1 to 10000, got "0"' },
    {
      name: 'refuses a longest stream that leaves no time for the record',
      context: { timeoutSeconds: '300', maxStreamSeconds: '295' },
      problem: '-c maxStreamSeconds: must leave 10 s before the function timeout (300 s) for the call\'s record, got "295"',
    },
    {
      name: 'refuses an unknown kind of sender identity',
      context: { approvalsMailFrom: 'gatehouse@example.com', approvalsSenderIdentity: 'dkim' },
      problem: '-c approvalsSenderIdentity: must be domain, address or existing, got "dkim"',
    },
    {
      name: 'refuses a sandbox recipient that is not an address',
      context: { approvalsMailFrom: 'gatehouse@example.com', approvalsSandboxRecipients: 'ann@example.org,bob' },
      problem: '-c approvalsSandboxRecipients: "bob" is not an e-mail address',
    },
    { name: 'refuses subnets without a VPC', context: { subnetIds: 'subnet-0a' }, problem: '-c subnetIds: the function is in a VPC only with -c vpcId=vpc-…' },
    { name: 'refuses a VPC without subnets', context: { vpcId: 'vpc-0abc' }, problem: '-c subnetIds=… is required with -c vpcId (the private subnets the function runs in, comma-separated)' },
    { name: 'refuses a subnet id that is not one', context: { vpcId: 'vpc-0abc', subnetIds: 'subnet-0a,private-b' }, problem: '-c subnetIds: "private-b" is not a subnet id (subnet-…)' },
    {
      name: 'refuses route tables that do not match the subnets one to one',
      context: { vpcId: 'vpc-0abc', subnetIds: 'subnet-0a,subnet-0b', routeTableIds: 'rtb-0a' },
      problem: '-c routeTableIds: one route table per subnet, in the order of -c subnetIds',
    },
    { name: 'refuses a stream cap of 0', context: { maxStreamsPerUser: '0' }, problem: '-c maxStreamsPerUser: must be an integer from 1 to 1000, got "0"' },
    { name: 'refuses carrying records over for longer than a function runs', context: { recordsCarryOverSeconds: '3600' }, problem: '-c recordsCarryOverSeconds: must be an integer from 0 to 900, got "3600"' },
    { name: 'refuses an alarm topic that is not an SNS ARN', context: { alarmTopicArn: 'platform-oncall' }, problem: '-c alarmTopicArn: must be an SNS topic ARN, got "platform-oncall"' },
  ];
  for (const { name, context, problem } of parameterCases) {
    test(name, () => {
      const app = new App({ context: { oidcIssuer: 'https://idp.example.com', oidcAudience: 'gatehouse', clusterName: 'prod', ...context } });
      assert.throws(
        () => readParameters(app),
        (error: unknown) => error instanceof StackParametersError && error.message.includes(`  - ${problem}\n`),
      );
    });
  }

  test('passes the VPC to the stack', () => {
    const app = new App({
      context: { oidcIssuer: 'https://idp.example.com', oidcAudience: 'gatehouse', clusterName: 'prod', vpcId: 'vpc-0abc', subnetIds: 'subnet-0a, subnet-0b', securityGroupId: 'sg-0f00', vpcEndpoints: 'false' },
    });
    assert.deepEqual(readParameters(app).props.network, { vpcId: 'vpc-0abc', subnetIds: ['subnet-0a', 'subnet-0b'], securityGroupId: 'sg-0f00', endpoints: false });
  });

  test('passes the limits and the topic to the stack', () => {
    const app = new App({
      context: {
        oidcIssuer: 'https://idp.example.com',
        oidcAudience: 'gatehouse',
        clusterName: 'prod',
        reservedConcurrency: '40',
        maxStreamSeconds: '600',
        maxStreamsPerUser: '4',
        recordsCarryOverSeconds: '0',
        alarmTopicArn: TOPIC,
      },
    });
    const { props } = readParameters(app);
    assert.equal(props.maxStreamsPerUser, 4);
    assert.deepEqual(props.records, { carryOverSeconds: 0 });
    assert.equal(props.network, undefined);
    assert.equal(props.reservedConcurrency, 40);
    assert.equal(props.maxStreamSeconds, 600);
    assert.equal(props.alarmTopicArn, TOPIC);
  });
});
