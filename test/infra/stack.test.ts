/**
 * The GatehouseStack, synthesized ONCE (with cdk-nag's AWS Solutions checks as a validation
 * plugin: any unacknowledged finding fails the synth), then checked resource by resource
 * for the properties that matter for security, plus the bundle the function ships.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { parseAllDocuments } from 'yaml';
import { buildApp, readParameters, StackParametersError } from '../../infra/app.ts';
import { DEFAULT_KUBERNETES_GROUP, RBAC_MANIFEST, REPO_ROOT } from '../../infra/stack.ts';
import { policyFileAsJson, readPolicyFile } from '../../src/policy/policy-file.ts';

const POLICY_FILE = join(REPO_ROOT, 'policy', 'default.yaml');
const CONTEXT = {
  oidcIssuer: 'https://idp.example.com/realms/staff',
  oidcAudience: 'gatehouse,kubectl',
  clusterName: 'prod',
  region: 'eu-west-1',
  account: '123456789012',
  policyFile: POLICY_FILE,
  logRetentionDays: '90',
};

let outdir: string;
let template: Template;
let bundleDir: string;

before(() => {
  outdir = mkdtempSync(join(tmpdir(), 'gatehouse-cdk-'));
  // Asset metadata (the CLI turns it on) tells where the bundle was staged.
  const { app, stack } = buildApp(new App({ outdir, context: { ...CONTEXT, 'aws:cdk:enable-asset-metadata': true } }));
  const assembly = app.synth();
  template = Template.fromJSON(assembly.getStackArtifact(stack.artifactId).template as Record<string, unknown>);
  const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0] as { Metadata: Record<string, string> };
  bundleDir = join(outdir, fn.Metadata['aws:asset:path'] ?? '');
});

after(() => {
  rmSync(outdir, { recursive: true, force: true });
});

const functionRoleRef = () => Match.objectLike({ 'Fn::GetAtt': [Match.stringLikeRegexp('^FunctionRole'), 'Arn'] });
const clusterRoleArn = () => ({ 'Fn::GetAtt': [Match.stringLikeRegexp('^ClusterAccessRole'), 'Arn'] });

describe('GatehouseStack', () => {
  test('carries read records over for 60 s, with the shutdown extension as a layer of the function', () => {
    const layers = Object.keys(template.findResources('AWS::Lambda::LayerVersion'));
    assert.equal(layers.length, 1);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Layers: [{ Ref: layers[0] }],
      Environment: { Variables: Match.objectLike({ GATEHOUSE_RECORDS_CARRY_OVER_SECONDS: '60' }) },
    });
  });

  test('stages the shutdown extension as an executable under extensions/, where Lambda starts it', () => {
    const layer = Object.values(template.findResources('AWS::Lambda::LayerVersion'))[0] as { Metadata: Record<string, string> };
    const staged = join(outdir, layer.Metadata['aws:asset:path'] ?? '');
    assert.equal(statSync(join(staged, 'extensions', 'gatehouse-shutdown')).mode & 0o111, 0o111);
    assert.ok(statSync(join(staged, 'gatehouse-shutdown', 'extension.mjs')).isFile());
  });

  test('has one Function URL and one EKS access entry', () => {
    template.resourceCountIs('AWS::Lambda::Url', 1);
    template.resourceCountIs('AWS::EKS::AccessEntry', 1);
  });

  test('runs the function on Node.js 22, arm64, with a 15-minute timeout for streams', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Timeout: 900,
      LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('^Logs') } },
    });
  });

  test('configures the function through the documented environment variables', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: {
          NODE_OPTIONS: '--enable-source-maps',
          GATEHOUSE_OIDC_ISSUER: 'https://idp.example.com/realms/staff',
          GATEHOUSE_OIDC_AUDIENCE: 'gatehouse,kubectl',
          GATEHOUSE_UPSTREAM: 'eks',
          GATEHOUSE_EKS_CLUSTER_NAME: 'prod',
          GATEHOUSE_EKS_REGION: 'eu-west-1',
          GATEHOUSE_EKS_ROLE_ARN: clusterRoleArn(),
        },
      },
    });
  });

  test('keeps logs in an explicit log group with the configured retention', () => {
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
  });

  test('exposes a Function URL without IAM auth (OIDC is verified in the app) that streams responses', () => {
    template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'NONE',
      InvokeMode: 'RESPONSE_STREAM',
      TargetFunctionArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Function'), 'Arn'] },
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunctionUrl',
      Principal: '*',
      FunctionUrlAuthType: 'NONE',
    });
     // The public may invoke the function only through its URL, never with the Invoke API.
    template.hasResourceProperties('AWS::Lambda::Permission', { Action: 'lambda:InvokeFunction', Principal: '*', InvokedViaFunctionUrl: true });
    const publicInvokes = Object.values(template.findResources('AWS::Lambda::Permission')).filter(
      (p) => (p as { Properties: { Principal: string; InvokedViaFunctionUrl?: boolean; FunctionUrlAuthType?: string } }).Properties.Principal === '*',
    ) as { Properties: { InvokedViaFunctionUrl?: boolean; FunctionUrlAuthType?: string } }[];
    assert.ok(publicInvokes.every((p) => p.Properties.InvokedViaFunctionUrl === true || p.Properties.FunctionUrlAuthType === 'NONE'));
  });

  test("lets only Lambda assume the function's role, with no managed policies", () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } }],
      },
      ManagedPolicyArns: Match.absent(),
    });
  });

  test("gives the function's role its own log group, assuming the cluster access role and describing the cluster", () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^FunctionRole') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          { Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Logs'), 'Arn'] } },
          { Action: 'sts:AssumeRole', Effect: 'Allow', Resource: clusterRoleArn() },
          {
            Action: 'eks:DescribeCluster',
            Effect: 'Allow',
            Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':eks:eu-west-1:123456789012:cluster/prod']] },
          },
        ]),
      },
    });
  });

  test("gives the function's role no wildcard action and no wildcard resource, whatever later parts add", () => {
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p).includes('"Ref":"FunctionRole'))
      .flatMap((p) => (p as { Properties: { PolicyDocument: { Statement: { Action: unknown; Resource: unknown }[] } } }).Properties.PolicyDocument.Statement);
    assert.ok(statements.length >= 3);
    for (const statement of statements) {
      for (const action of [statement.Action].flat()) assert.ok(typeof action === 'string' && !action.includes('*'), `action ${String(action)}`);
      assert.ok(![statement.Resource].flat().includes('*'), `resource * for ${JSON.stringify(statement.Action)}`);
    }
  });

  test("lets only the function's role assume the cluster access role, for at most an hour", () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { AWS: functionRoleRef() } }],
      },
      MaxSessionDuration: 3600,
    });
  });

  test('gives the cluster access role no IAM permissions at all', () => {
    const roles = template.findResources('AWS::IAM::Role', {
      Properties: { AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { AWS: Match.anyValue() } })] } },
    });
    const [logicalId, role] = Object.entries(roles)[0] as [string, { Properties: Record<string, unknown> }];
    assert.equal(Object.keys(roles).length, 1);
    assert.equal(role.Properties.Policies, undefined);
    assert.equal(role.Properties.ManagedPolicyArns, undefined);
    const attached = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) => JSON.stringify(p).includes(`"Ref":"${logicalId}"`));
    assert.deepEqual(attached, []);
  });

  test('maps the cluster access role to the impersonators group, with no EKS access policy', () => {
    template.hasResourceProperties('AWS::EKS::AccessEntry', {
      ClusterName: 'prod',
      PrincipalArn: clusterRoleArn(),
      Type: 'STANDARD',
      Username: 'gatehouse',
      KubernetesGroups: [DEFAULT_KUBERNETES_GROUP],
      AccessPolicies: Match.absent(),
    });
  });

  test('outputs the URL users put in their kubeconfig', () => {
    template.hasOutput('Url', { Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^FunctionFunctionUrl'), 'FunctionUrl'] } });
  });
});

describe('the function bundle', () => {
  test('holds the minified ESM handler, its source map and the policy file', () => {
    const code = readFileSync(join(bundleDir, 'index.mjs'), 'utf8');
    assert.ok(existsSync(join(bundleDir, 'index.mjs.map')));
    assert.ok(/\/\/# sourceMappingURL=index\.mjs\.map\s*$/.test(code), 'the bundle names its source map');
    assert.ok(!code.includes('createEksToken'), 'the bundle is minified (names are mangled)');
    assert.equal(readFileSync(join(bundleDir, 'policy.yaml'), 'utf8'), readFileSync(POLICY_FILE, 'utf8'));
  });

  test('holds the policy as the JSON the function reads, converted and validated at synth', () => {
    assert.equal(readFileSync(join(bundleDir, 'policy.json'), 'utf8'), policyFileAsJson(POLICY_FILE));
    assert.deepEqual(readPolicyFile(join(bundleDir, 'policy.json')), readPolicyFile(POLICY_FILE));
  });

  test('imports nothing but Node built-ins (the AWS SDK and every dependency are bundled)', () => {
    const code = readFileSync(join(bundleDir, 'index.mjs'), 'utf8');
    const statements = /(?:^|[;}\n])\s*import\s*(?:[\w*{}\s,$]+from\s*)?["']([^"']+)["']/g;
    const dynamic = /\bimport\(\s*["']([^"']+)["']\s*\)/g;
    const specifiers = [...code.matchAll(statements), ...code.matchAll(dynamic)].map((m) => m[1] ?? '');
    assert.ok(specifiers.includes('node:module'), 'the require banner is there');
    const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
    assert.deepEqual(
      specifiers.filter((s) => !builtins.has(s)),
      [],
    );
  });

  test('loads on Node with the environment the stack sets, and exports a streaming handler', () => {
    const script = `
      const marker = Symbol.for('aws.lambda.runtime.handler.streaming');
      globalThis.awslambda = { streamifyResponse: (h) => { h[marker] = 'response'; return h; }, HttpResponseStream: { from: (s) => s } };
      const m = await import(${JSON.stringify(pathToFileURL(join(bundleDir, 'index.mjs')).href)});
      console.log(typeof m.handler, m.handler[marker]);`;
    const env = {
      PATH: process.env.PATH ?? '',
      AWS_REGION: 'eu-west-1',
      GATEHOUSE_OIDC_ISSUER: 'https://idp.example.com/realms/staff',
      GATEHOUSE_OIDC_AUDIENCE: 'gatehouse',
      GATEHOUSE_EKS_CLUSTER_NAME: 'prod',
      GATEHOUSE_EKS_ROLE_ARN: 'arn:aws:iam::123456789012:role/gatehouse-cluster-access',
    };
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.stderr.replace(/^.*NodeVersionSupportWarning[\s\S]*?trace-warnings[^\n]*\n/m, ''), '');
    assert.equal(run.stdout.trim(), 'function response');
  });

  test('fails its cold start with every configuration problem when the environment is incomplete', () => {
    const script = `globalThis.awslambda = { streamifyResponse: (h) => h, HttpResponseStream: { from: (s) => s } };
      await import(${JSON.stringify(pathToFileURL(join(bundleDir, 'index.mjs')).href)});`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8', timeout: 30_000 });
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /invalid configuration in the environment:/);
    for (const name of ['GATEHOUSE_OIDC_ISSUER', 'GATEHOUSE_OIDC_AUDIENCE', 'GATEHOUSE_EKS_CLUSTER_NAME', 'GATEHOUSE_EKS_REGION', 'GATEHOUSE_EKS_ROLE_ARN']) {
      assert.match(run.stderr, new RegExp(`- ${name}: is required but not set`));
    }
  });
});

describe('the RBAC manifest', () => {
  const docs = parseAllDocuments(readFileSync(RBAC_MANIFEST, 'utf8')).map((d) => d.toJS() as Record<string, unknown>);

  test('grants only impersonate, on users, groups and uids', () => {
    const role = docs.find((d) => d.kind === 'ClusterRole') as { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] };
    assert.deepEqual(role.rules, [
      { apiGroups: [''], resources: ['users', 'groups'], verbs: ['impersonate'] },
      { apiGroups: ['authentication.k8s.io'], resources: ['uids'], verbs: ['impersonate'] },
    ]);
  });

  test('binds it to the group the access entry maps the role to', () => {
    const binding = docs.find((d) => d.kind === 'ClusterRoleBinding') as { roleRef: { name: string }; subjects: unknown[] };
    assert.equal(binding.roleRef.name, 'gatehouse-impersonator');
    assert.deepEqual(binding.subjects, [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: DEFAULT_KUBERNETES_GROUP }]);
  });
});

describe('stack parameters', () => {
  const cases: { name: string; context: Record<string, string>; problems: string[] }[] = [
    {
      name: 'lists every missing required parameter at once',
      context: {},
      problems: [
        '-c oidcIssuer=… is required (e.g. -c oidcIssuer=https://idp.example.com)',
        '-c oidcAudience=… is required (e.g. -c oidcAudience=gatehouse)',
        '-c clusterName=… is required (e.g. -c clusterName=prod), or -c clusters=… for several (e.g. -c clusters=dev,prod)',
      ],
    },
    {
      name: 'refuses a plain-HTTP issuer, an unknown retention and an over-long timeout',
      context: { ...CONTEXT, oidcIssuer: 'http://idp.example.com', logRetentionDays: '100', timeoutSeconds: '1000' },
      problems: [
        '-c oidcIssuer: must be an https:// URL, got "http://idp.example.com"',
        '-c logRetentionDays: CloudWatch Logs does not offer 100 days (e.g. 30, 90, 180, 365, 731)',
        '-c timeoutSeconds: must be an integer from 30 to 900, got "1000"',
      ],
    },
    {
      name: 'refuses approval settings without a sender address',
      context: { ...CONTEXT, approvalsHoldSeconds: '60', approvalsPublicUrl: 'https://gatehouse.example.com' },
      problems: ['-c approvalsPublicUrl, -c approvalsHoldSeconds: approvals are on only with -c approvalsMailFrom=<sender address>'],
    },
  ];
  for (const { name, context, problems } of cases) {
    test(name, () => {
      assert.throws(
        () => readParameters(new App({ context })),
        (error: unknown) => {
          assert.ok(error instanceof StackParametersError);
          assert.equal(error.message, `GatehouseStack cannot be synthesized:\n${problems.map((p) => `  - ${p}`).join('\n')}\nSee docs/aws.md for every parameter.`);
          return true;
        },
      );
    });
  }

  test('reads the optional parameters', () => {
    const parameters = readParameters(new App({ context: { ...CONTEXT, kubernetesGroup: 'ops:gatehouse', oidcGroupsPrefix: 'oidc:', timeoutSeconds: '300' } }));
    assert.equal(parameters.props.kubernetesGroup, 'ops:gatehouse');
    assert.equal(parameters.props.oidcGroupsPrefix, 'oidc:');
    assert.equal(parameters.props.timeout?.toSeconds(), 300);
    assert.deepEqual(parameters.props.oidcAudience, ['gatehouse', 'kubectl']);
    assert.equal(parameters.region, 'eu-west-1');
    assert.equal(parameters.props.approvals, undefined);
  });

  test('turns approvals on with a sender address', () => {
    const parameters = readParameters(
      new App({ context: { ...CONTEXT, approvalsMailFrom: 'gatehouse@example.com', approvalsSenderDomain: 'example.com', approvalsHoldSeconds: '120' } }),
    );
    assert.deepEqual(parameters.props.approvals, { mailFrom: 'gatehouse@example.com', senderDomain: 'example.com', holdSeconds: 120 });
  });
});
