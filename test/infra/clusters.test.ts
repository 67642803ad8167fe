/**
 * One GatehouseStack in front of several EKS clusters, synthesized ONCE with cdk-nag's AWS
 * Solutions checks (an unacknowledged finding fails the synth): the clusters reach the function
 * as GATEHOUSE_CLUSTERS, IAM names each cluster and role exactly, the stack's role is mapped
 * by an access entry where CloudFormation can create one (its own region) and by a printed
 * command elsewhere, and the records table projects one partition per cluster.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readParameters, StackParametersError } from '../../infra/app.ts';
import { GatehouseStack, REPO_ROOT } from '../../infra/stack.ts';

const ENV = { account: '123456789012', region: 'eu-west-1' };
const LEGACY_ROLE = 'arn:aws:iam::123456789012:role/legacy-gatehouse';
const COMMON = { env: ENV, oidcIssuer: 'https://idp.example.com', oidcAudience: ['gatehouse'], policyFile: join(REPO_ROOT, 'policy', 'default.yaml') };
const CLUSTERS = [
  { name: 'dev' },
  { name: 'prod', clusterName: 'prod-eks' },
  { name: 'us', region: 'us-east-1' },
  { name: 'legacy', roleArn: LEGACY_ROLE },
];

let outdir: string;
let template: Template;
let environment: Record<string, unknown>;

before(() => {
  outdir = mkdtempSync(join(tmpdir(), 'gatehouse-cdk-clusters-'));
  const app = new App({ outdir });
  const stack = new GatehouseStack(app, 'GatehouseFleet', { ...COMMON, clusters: CLUSTERS });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  const assembly = app.synth();
  template = Template.fromJSON(assembly.getStackArtifact(stack.artifactId).template as Record<string, unknown>);
  const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0] as { Properties: { Environment: { Variables: Record<string, unknown> } } };
  environment = fn.Properties.Environment.Variables;
});

after(() => rmSync(outdir, { recursive: true, force: true }));

const clusterRoleArn = { 'Fn::GetAtt': [Match.stringLikeRegexp('^ClusterAccessRole'), 'Arn'] };

/** The GATEHOUSE_CLUSTERS value with the role reference spelled `<ClusterAccessRole>`: what the function parses. */
function clustersVariable(): unknown {
  const value = environment.GATEHOUSE_CLUSTERS as { 'Fn::Join': [string, unknown[]] };
  const text = value['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : '<ClusterAccessRole>')).join('');
  return JSON.parse(text);
}

describe('GatehouseStack in front of several clusters', () => {
  test('hands the function its clusters as GATEHOUSE_CLUSTERS, each with its EKS name, region and role', () => {
    assert.deepEqual(clustersVariable(), [
      { name: 'dev', upstream: { kind: 'eks', clusterName: 'dev', region: 'eu-west-1', roleArn: '<ClusterAccessRole>' } },
      { name: 'prod', upstream: { kind: 'eks', clusterName: 'prod-eks', region: 'eu-west-1', roleArn: '<ClusterAccessRole>' } },
      { name: 'us', upstream: { kind: 'eks', clusterName: 'us', region: 'us-east-1', roleArn: '<ClusterAccessRole>' } },
      { name: 'legacy', upstream: { kind: 'eks', clusterName: 'legacy', region: 'eu-west-1', roleArn: LEGACY_ROLE } },
    ]);
    for (const single of ['GATEHOUSE_UPSTREAM', 'GATEHOUSE_EKS_CLUSTER_NAME', 'GATEHOUSE_EKS_REGION', 'GATEHOUSE_EKS_ROLE_ARN']) assert.equal(environment[single], undefined, single);
  });

  test('lets the function describe exactly these clusters, each in its region', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Action: 'eks:DescribeCluster',
            Effect: 'Allow',
            Resource: ['eu-west-1:123456789012:cluster/dev', 'eu-west-1:123456789012:cluster/prod-eks', 'us-east-1:123456789012:cluster/us', 'eu-west-1:123456789012:cluster/legacy'].map((rest) => ({
              'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:eks:${rest}`]],
            })),
          },
        ]),
      },
    });
  });

  test('lets the function assume the stack\'s cluster access role and the legacy cluster\'s own role, nothing else', () => {
    const assumable = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((policy) =>
      (policy as { Properties: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } } }).Properties.PolicyDocument.Statement.filter((s) => [s.Action].flat().includes('sts:AssumeRole')).map((s) => s.Resource),
    );
    assert.equal(assumable.length, 2);
    assert.deepEqual(assumable[1], LEGACY_ROLE);
    template.hasResourceProperties('AWS::IAM::Policy', { PolicyDocument: { Statement: Match.arrayWith([{ Action: 'sts:AssumeRole', Effect: 'Allow', Resource: clusterRoleArn }]) } });
  });

  test('maps the stack\'s role in each cluster of its region that has no role of its own', () => {
    template.resourceCountIs('AWS::EKS::AccessEntry', 2);
    for (const clusterName of ['dev', 'prod-eks']) {
      template.hasResourceProperties('AWS::EKS::AccessEntry', { ClusterName: clusterName, PrincipalArn: clusterRoleArn, Type: 'STANDARD', Username: 'gatehouse', KubernetesGroups: ['gatehouse:impersonators'] });
    }
  });

  test('prints the access entry command for the cluster in another region', () => {
    const outputs = template.findOutputs('*');
    const command = Object.entries(outputs).find(([id]) => id.startsWith('ClusterAccessEntryus'))?.[1] as { Value: { 'Fn::Join': [string, unknown[]] } } | undefined;
    assert.ok(command, `outputs: ${Object.keys(outputs).join(', ')}`);
    const [before, , after] = command.Value['Fn::Join'][1];
    assert.equal(before, 'aws eks create-access-entry --region us-east-1 --cluster-name us --principal-arn ');
    assert.equal(after, ' --type STANDARD --username gatehouse --kubernetes-groups gatehouse:impersonators');
  });

  test('projects one records partition per cluster, and one for calls that named none', () => {
    template.hasResourceProperties('AWS::Glue::Table', {
      TableInput: { Parameters: Match.objectLike({ 'projection.cluster.type': 'enum', 'projection.cluster.values': 'dev,prod,us,legacy,_unrouted' }) },
    });
  });

  test('says in the URL output how each cluster\'s server is made', () => {
    template.hasOutput('Url', { Description: "Gatehouse URL: the `server` of each cluster in users' kubeconfig is <Url>clusters/<name> (dev, prod, us, legacy); gatehouse kubeconfig --cluster writes them" });
  });
});

describe('several clusters, refused at synth', () => {
  const cases = [
    { name: 'a policy rule naming a cluster the stack does not front', clusters: [{ name: 'dev' }], policy: 'apiVersion: gatehouse/v1\nrules:\n  - { name: prod-reads, effect: allow, clusters: [prod], verbs: [get], resources: ["*"] }\n', message: /rule "prod-reads" names cluster "prod", which matches none of the clusters this Gatehouse fronts \("dev"\)/ },
    { name: 'a cluster name that is no URL segment, a name twice, a bad region and role', clusters: [{ name: 'a/b' }, { name: 'dev', region: 'Europe' }, { name: 'dev', roleArn: 'gatehouse' }], policy: undefined, message: /"a\/b" is not a cluster name[\s\S]*cluster dev: "Europe" is not an AWS region[\s\S]*"dev" names two clusters[\s\S]*cluster dev: "gatehouse" is not an IAM role ARN/ },
  ];
  for (const { name, clusters, policy, message } of cases) {
    test(name, () => {
      const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cdk-refused-'));
      try {
        const policyFile = join(dir, 'policy.yaml');
        if (policy !== undefined) writeFileSync(policyFile, policy);
        assert.throws(() => new GatehouseStack(new App({ outdir: dir }), 'Refused', { ...COMMON, ...(policy === undefined ? {} : { policyFile }), clusters }), message);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('-c clusters', () => {
  const base = { oidcIssuer: 'https://idp.example.com', oidcAudience: 'gatehouse' };
  test('a comma-separated list names clusters of the stack\'s region', () => {
    assert.deepEqual(readParameters(new App({ context: { ...base, clusters: 'dev, prod' } })).props.clusters, [{ name: 'dev' }, { name: 'prod' }]);
  });
  test('a JSON list gives each its EKS name, region and role', () => {
    const clusters = [{ name: 'prod', clusterName: 'prod-eks', region: 'us-east-1', roleArn: LEGACY_ROLE }];
    assert.deepEqual(readParameters(new App({ context: { ...base, clusters: JSON.stringify(clusters) } })).props.clusters, clusters);
  });
  const refused = [
    { name: 'refuses clusterName and clusters together', context: { clusterName: 'prod', clusters: 'dev' }, problem: '-c clusterName and -c clusters: give one of them (one cluster at the root, or several, each under /clusters/<name>)' },
    { name: 'refuses a cluster entry with unknown keys', context: { clusters: '[{"name":"dev","account":"1"}]' }, problem: '-c clusters[0]: must be {name, clusterName?, region?, roleArn?} with string values (not: account)' },
    { name: 'refuses a name that is no URL segment', context: { clusters: 'dev,../prod' }, problem: '-c clusters: "../prod" is not a cluster name (1-100 letters, digits, "-" or "_", starting with a letter or digit)' },
    { name: 'refuses JSON that does not parse', context: { clusters: '[{"name":' }, problem: '-c clusters: not a JSON list: [{"name":' },
  ];
  for (const { name, context, problem } of refused) {
    test(name, () => {
      assert.throws(() => readParameters(new App({ context: { ...base, ...context } })), (error: unknown) => {
        assert.ok(error instanceof StackParametersError);
        assert.ok(error.message.includes(`  - ${problem}\n`), error.message);
        return true;
      });
    });
  }
});
