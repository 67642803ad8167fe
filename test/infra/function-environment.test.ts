/**
 * What the function reads at cold start comes from the stack: each stack below is synthesized
 * once, the environment of its function is resolved the way CloudFormation resolves it (a
 * `Ref` becomes the resource's physical name, `Fn::GetAtt …Arn` an ARN, `Fn::Join` its parts
 * joined), and handed to the Lambda runtime's own config reader (`configFromEnv`, as
 * functions/handler.ts calls it). The reader must accept it, every variable must be one it
 * reads, and every setting of a deployed part (approvals table, signing secret, records
 * bucket, stream lease table, the approvals name) must be the stack's own — not a default that
 * merely happens to validate (`gatehouse-approvals` is the table name's default, and no such
 * table exists in the stack).
 */
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../infra/app.ts';
import { GatehouseStack, REPO_ROOT } from '../../infra/stack.ts';
import { configFromEnv, ENV_VARIABLES } from '../../src/config-env.ts';
import type { GatehouseConfig } from '../../src/config.ts';

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const POLICY_FILE = join(REPO_ROOT, 'policy', 'default.yaml');

/** Variables the function reads that are not Gatehouse's own (Powertools, Node, the runtime). */
const OTHER_READERS = /^(POWERTOOLS_|NODE_OPTIONS$|AWS_)/;

interface Synthesized {
  template: Template;
  environment: Record<string, string>;
}

/** A CloudFormation value as the deployed function sees it. */
function resolve(value: unknown): string {
  if (typeof value === 'string') return value;
  const intrinsic = value as Record<string, unknown>;
  if (typeof intrinsic.Ref === 'string') return intrinsic.Ref === 'AWS::Region' ? REGION : intrinsic.Ref === 'AWS::AccountId' ? ACCOUNT : `physical-${intrinsic.Ref}`;
  const getAtt = intrinsic['Fn::GetAtt'] as [string, string] | undefined;
  if (getAtt !== undefined) return getAtt[1] === 'Arn' ? `arn:aws:iam::${ACCOUNT}:role/physical-${getAtt[0]}` : `physical-${getAtt[0]}-${getAtt[1]}`;
  const join = intrinsic['Fn::Join'] as [string, unknown[]] | undefined;
  if (join !== undefined) return join[1].map(resolve).join(join[0]);
  throw new Error(`the test cannot resolve ${JSON.stringify(value)}`);
}

function synthesize(build: (app: App) => GatehouseStack): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'gatehouse-cdk-env-'));
  try {
    const app = new App({ outdir });
    const stack = build(app);
    const template = Template.fromJSON(app.synth().getStackArtifact(stack.artifactId).template as Record<string, unknown>);
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as { Properties: { Handler: string; Environment?: { Variables: Record<string, unknown> } } }[];
    const gatehouse = functions.filter((fn) => fn.Properties.Environment?.Variables.GATEHOUSE_OIDC_ISSUER !== undefined);
    assert.equal(gatehouse.length, 1, 'one Gatehouse function');
    const variables = gatehouse[0]?.Properties.Environment?.Variables ?? {};
    const environment = Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, resolve(value)]));
    return { template, environment };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** The Lambda runtime's reading of the environment (AWS_REGION is Lambda's own). */
function readConfig(environment: Record<string, string>): GatehouseConfig {
  return configFromEnv({ ...environment, AWS_REGION: REGION }, { runtime: 'lambda', defaultPolicyFile: POLICY_FILE });
}

const known = new Set(ENV_VARIABLES.map((v) => v.name));

const stacks: { name: string; build: (app: App) => GatehouseStack; approvalsName: string; clusters: string[] }[] = [
  {
    name: 'one cluster, approvals from cdk context with a name',
    build: (app) => {
      app.node.setContext('oidcIssuer', 'https://idp.example.com');
      app.node.setContext('oidcAudience', 'gatehouse');
      app.node.setContext('clusterName', 'prod');
      app.node.setContext('region', REGION);
      app.node.setContext('account', ACCOUNT);
      app.node.setContext('policyFile', POLICY_FILE);
      app.node.setContext('approvalsMailFrom', 'gatehouse@example.com');
      app.node.setContext('approvalsName', 'Production EKS');
      return buildApp(app).stack;
    },
    approvalsName: 'Production EKS',
    clusters: ['prod'],
  },
  {
    name: 'several clusters, approvals without a name',
    build: (app) =>
      new GatehouseStack(app, 'GatehouseFleet', {
        env: { account: ACCOUNT, region: REGION },
        oidcIssuer: 'https://idp.example.com',
        oidcAudience: ['gatehouse'],
        policyFile: POLICY_FILE,
        clusters: [{ name: 'dev' }, { name: 'prod', clusterName: 'prod-eks' }],
        approvals: { mailFrom: 'gatehouse@example.com' },
      }),
    approvalsName: 'GatehouseFleet',
    clusters: ['dev', 'prod'],
  },
];

for (const stack of stacks) {
  describe(`the function's environment, ${stack.name}`, () => {
    let synthesized: Synthesized;
    let config: GatehouseConfig;
    before(() => {
      synthesized = synthesize(stack.build);
      config = readConfig(synthesized.environment);
    });

    test('every variable the stack sets is one Gatehouse reads (no misspelt name goes unnoticed)', () => {
      const unknown = Object.keys(synthesized.environment).filter((name) => !known.has(name) && !OTHER_READERS.test(name));
      assert.deepEqual(unknown, []);
    });

    test("the Lambda config reader accepts the stack's environment, as the function reads it at cold start", () => {
      assert.equal(config.runtime, 'lambda');
      assert.equal(config.oidc.issuer, 'https://idp.example.com');
    });

    test("the approvals settings are the stack's: its table, its signing secret, the sender and the name approvers see", () => {
      assert.equal(config.approvals?.tableName, physicalName(synthesized, 'AWS::DynamoDB::Table', 'Approvals'));
      assert.equal(config.approvals?.signingSecretId, physicalName(synthesized, 'AWS::SecretsManager::Secret', 'Approvals'));
      assert.equal(config.approvals?.mailFrom, 'gatehouse@example.com');
      assert.equal(config.approvals?.name, stack.approvalsName);
    });

    test("records go to the stack's bucket, and the stream cap uses the stack's lease table", () => {
      assert.equal(config.records?.bucket, physicalName(synthesized, 'AWS::S3::Bucket', 'RecordsBucket'));
      assert.equal(config.streams?.tableName, physicalName(synthesized, 'AWS::DynamoDB::Table', 'StreamLeases'));
    });

    test('the clusters are the ones the stack fronts', () => {
      const names = config.clusters?.map((cluster) => cluster.name) ?? [config.upstream?.name ?? (config.upstream?.kind === 'eks' ? config.upstream.clusterName : '')];
      assert.deepEqual(names, stack.clusters);
    });
  });
}

/** What a `Ref` to the one resource of `type` whose logical id starts with `scope` resolves to. */
function physicalName(synthesized: Synthesized, type: string, scope: string): string {
  const ids = Object.keys(synthesized.template.findResources(type)).filter((id) => id.startsWith(scope));
  assert.equal(ids.length, 1, `one ${type} under ${scope}: ${ids.join(', ')}`);
  return `physical-${ids[0]}`;
}
