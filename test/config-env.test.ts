/** Configuration from environment variables: mapping, defaults, and every problem at once by variable name. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { configFromEnv, ENV_VARIABLES, type Env } from '../src/config-env.ts';
import { configSchema } from '../src/config.ts';

/** Dotted paths of every leaf setting in a zod (v4) schema, through optional/default wrappers and unions. */
function schemaLeaves(schema: unknown, prefix = ''): string[] {
  const def = (schema as { _zod: { def: { type: string; innerType?: unknown; shape?: Record<string, unknown>; options?: unknown[] } } })._zod.def;
  if (def.type === 'optional' || def.type === 'default' || def.type === 'nullable' || def.type === 'prefault') return schemaLeaves(def.innerType, prefix);
  if (def.type === 'union') return [...new Set((def.options ?? []).flatMap((option) => schemaLeaves(option, prefix)))];
  if (def.type === 'object') return Object.entries(def.shape ?? {}).flatMap(([key, child]) => schemaLeaves(child, prefix === '' ? key : `${prefix}.${key}`));
  return [prefix];
}
import { GatehouseConfigError } from '../src/config-error.ts';

const MINIMAL: Env = {
  AWS_REGION: 'eu-west-1',
  GATEHOUSE_OIDC_ISSUER: 'https://idp.example.com',
  GATEHOUSE_OIDC_AUDIENCE: 'gatehouse',
  GATEHOUSE_EKS_CLUSTER_NAME: 'prod',
  GATEHOUSE_EKS_ROLE_ARN: 'arn:aws:iam::123456789012:role/gatehouse-cluster-access',
};
const options = { runtime: 'lambda' as const, defaultPolicyFile: '/var/task/policy.yaml' };

describe('configuration from environment variables', () => {
  test('reads a minimal EKS configuration and fills the defaults', () => {
    const config = configFromEnv(MINIMAL, options);
    assert.equal(config.runtime, 'lambda');
    assert.deepEqual(config.upstream, {
      kind: 'eks',
      clusterName: 'prod',
      region: 'eu-west-1',
      roleArn: 'arn:aws:iam::123456789012:role/gatehouse-cluster-access',
    });
    assert.equal(config.oidc.issuer, 'https://idp.example.com');
    assert.equal(config.oidc.audience, 'gatehouse');
    assert.equal(config.oidc.usernameClaim, 'email');
    assert.equal(config.policy.file, '/var/task/policy.yaml');
    assert.equal(config.upstreamTimeoutSeconds, 30);
    assert.equal(config.approvals, undefined);
    assert.equal(config.records, undefined);
  });

  test('reads lists, numbers, overrides and optional sections', () => {
    const config = configFromEnv(
      {
        ...MINIMAL,
        GATEHOUSE_OIDC_AUDIENCE: 'gatehouse, kubectl',
        GATEHOUSE_OIDC_ALGORITHMS: 'RS256,ES256',
        GATEHOUSE_OIDC_CLOCK_SKEW_SECONDS: '10',
        GATEHOUSE_EKS_REGION: 'us-east-1',
        GATEHOUSE_UPSTREAM_TIMEOUT_SECONDS: '12.5',
        GATEHOUSE_POLICY_FILE: '/opt/policy.yaml',
        GATEHOUSE_RECORDS_BUCKET: 'records-bucket',
        GATEHOUSE_APPROVALS_PUBLIC_URL: 'https://abc.lambda-url.eu-west-1.on.aws',
        GATEHOUSE_APPROVALS_MAIL_FROM: 'gatehouse@example.com',
        GATEHOUSE_APPROVALS_SIGNING_SECRET: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:gatehouse-link-key',
        GATEHOUSE_RECORDS_TRUST_FORWARDED_FOR: 'true',
      },
      options,
    );
    assert.deepEqual(config.oidc.audience, ['gatehouse', 'kubectl']);
    assert.deepEqual(config.oidc.algorithms, ['RS256', 'ES256']);
    assert.equal(config.oidc.clockSkewSeconds, 10);
    assert.equal(config.upstream?.kind === 'eks' && config.upstream.region, 'us-east-1');
    assert.equal(config.upstreamTimeoutSeconds, 12.5);
    assert.equal(config.policy.file, '/opt/policy.yaml');
    assert.equal(config.records?.bucket, 'records-bucket');
    assert.equal(config.records?.prefix, 'records/');
    assert.equal(config.records?.trustForwardedFor, true);
    assert.equal(config.approvals?.tableName, 'gatehouse-approvals');
    assert.equal(config.approvals?.signingSecretId, 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:gatehouse-link-key');
  });

  test('reads a kubeconfig upstream', () => {
    const config = configFromEnv(
      { GATEHOUSE_OIDC_ISSUER: 'https://idp.example.com', GATEHOUSE_OIDC_AUDIENCE: 'a', GATEHOUSE_UPSTREAM: 'kubeconfig', GATEHOUSE_KUBECONFIG: '/tmp/kc' },
      options,
    );
    assert.deepEqual(config.upstream, { kind: 'kubeconfig', kubeconfig: '/tmp/kc' });
  });

  test('reads several clusters from GATEHOUSE_CLUSTERS, an EKS region defaulting to AWS_REGION', () => {
    const role = 'arn:aws:iam::123456789012:role/gatehouse-cluster-access';
    const clusters = [
      { name: 'dev', upstream: { kind: 'eks', clusterName: 'dev-eks', roleArn: role } },
      { name: 'prod', upstream: { kind: 'eks', clusterName: 'prod-eks', region: 'us-east-1', roleArn: role } },
    ];
    const { GATEHOUSE_EKS_CLUSTER_NAME: _name, GATEHOUSE_EKS_ROLE_ARN: _role, ...rest } = MINIMAL;
    const config = configFromEnv({ ...rest, GATEHOUSE_CLUSTERS: JSON.stringify(clusters) }, options);
    assert.equal(config.upstream, undefined);
    assert.deepEqual(config.clusters, [
      { name: 'dev', upstream: { kind: 'eks', clusterName: 'dev-eks', region: 'eu-west-1', roleArn: role } },
      { name: 'prod', upstream: { kind: 'eks', clusterName: 'prod-eks', region: 'us-east-1', roleArn: role } },
    ]);
  });

  const failures: { name: string; env: Env; problems: string[] }[] = [
    {
      name: 'refuses clusters listed beside the single-cluster variables',
      env: { ...MINIMAL, GATEHOUSE_CLUSTERS: '[{"name":"dev","upstream":{"kind":"kubeconfig"}}]' },
      problems: ['GATEHOUSE_CLUSTERS: exactly one of upstream (one cluster, served at the root) or clusters (several, each under /clusters/<name>) names what Gatehouse fronts'],
    },
    {
      name: 'refuses GATEHOUSE_CLUSTERS that is not JSON',
      env: { GATEHOUSE_OIDC_ISSUER: 'https://idp.example.com', GATEHOUSE_OIDC_AUDIENCE: 'a', GATEHOUSE_CLUSTERS: 'dev,prod' },
      problems: [
        'GATEHOUSE_CLUSTERS: must be JSON, got "dev,prod"',
        'upstream: exactly one of upstream (one cluster, served at the root) or clusters (several, each under /clusters/<name>) names what Gatehouse fronts',
      ],
    },
    {
      name: 'refuses a cluster name that cannot be a URL segment, and a name given twice',
      env: {
        GATEHOUSE_OIDC_ISSUER: 'https://idp.example.com',
        GATEHOUSE_OIDC_AUDIENCE: 'a',
        GATEHOUSE_CLUSTERS: '[{"name":"../prod","upstream":{"kind":"kubeconfig"}},{"name":"dev","upstream":{"kind":"kubeconfig"}},{"name":"dev","upstream":{"kind":"kubeconfig"}}]',
      },
      problems: [
        'GATEHOUSE_CLUSTERS: must be 1-100 letters, digits, "-" or "_", starting with a letter or digit (the EKS rule for cluster names)',
        'GATEHOUSE_CLUSTERS: "dev" names two clusters; names must be unique',
      ],
    },
    {
      name: 'lists every missing required variable at once',
      env: {},
      problems: [
        'GATEHOUSE_OIDC_ISSUER: is required but not set',
        'GATEHOUSE_OIDC_AUDIENCE: is required but not set',
        'GATEHOUSE_EKS_CLUSTER_NAME: is required but not set',
        'GATEHOUSE_EKS_REGION: is required but not set',
        'GATEHOUSE_EKS_ROLE_ARN: is required but not set',
      ],
    },
    {
      name: 'names the variable of a malformed value, whatever the kind',
      env: {
        ...MINIMAL,
        GATEHOUSE_OIDC_ISSUER: 'not a url',
        GATEHOUSE_EKS_ROLE_ARN: 'gatehouse',
        GATEHOUSE_OIDC_CLOCK_SKEW_SECONDS: 'ten',
        GATEHOUSE_UPSTREAM_TIMEOUT_SECONDS: '5000',
        GATEHOUSE_OIDC_ALGORITHMS: 'RS256,HS256',
      },
      problems: [
        'GATEHOUSE_OIDC_CLOCK_SKEW_SECONDS: must be an integer, got "ten"',
        'GATEHOUSE_OIDC_ISSUER: Invalid URL',
        'GATEHOUSE_OIDC_ALGORITHMS: Invalid option: expected one of "RS256"|"RS384"|"RS512"|"PS256"|"PS384"|"PS512"|"ES256"|"ES384"|"ES512"|"EdDSA"|"Ed25519"',
        'GATEHOUSE_EKS_ROLE_ARN: must be an IAM role ARN',
        'GATEHOUSE_UPSTREAM_TIMEOUT_SECONDS: Too big: expected number to be <=900',
      ],
    },
    {
      name: 'refuses the local development issuer on Lambda',
      env: { ...MINIMAL, GATEHOUSE_OIDC_ISSUER: 'https://gatehouse.invalid/dev-issuer' },
      problems: [
        'GATEHOUSE_OIDC_ISSUER: the local development issuer (https://gatehouse.invalid/dev-issuer) cannot be used on AWS Lambda; configure your identity provider',
      ],
    },
    {
      name: 'reports the missing parts of a half-configured optional section',
      env: { ...MINIMAL, GATEHOUSE_APPROVALS_TABLE: 'approvals' },
      problems: ['GATEHOUSE_APPROVALS_MAIL_FROM: is required but not set'],
    },
    {
      name: 'keeps the message of a cross-field rule',
      env: { ...MINIMAL, GATEHOUSE_APPROVALS_MAIL_FROM: 'gatehouse@example.com' },
      problems: ['GATEHOUSE_APPROVALS_SIGNING_SECRET: exactly one of signingSecretId (Secrets Manager) or signingKeyFile (local) names the approval link key'],
    },
    {
      name: 'refuses a boolean that is not true or false',
      env: { ...MINIMAL, GATEHOUSE_RECORDS_BUCKET: 'records-bucket', GATEHOUSE_RECORDS_TRUST_FORWARDED_FOR: 'yes' },
      problems: ['GATEHOUSE_RECORDS_TRUST_FORWARDED_FOR: must be `true` or `false`, got "yes"'],
    },
    {
      name: 'refuses an unknown upstream kind',
      env: { ...MINIMAL, GATEHOUSE_UPSTREAM: 'gke' },
      problems: ["GATEHOUSE_UPSTREAM: Invalid discriminator value. Expected 'kubeconfig' | 'eks'"],
    },
  ];
  for (const { name, env, problems } of failures) {
    test(name, () => {
      assert.throws(
        () => configFromEnv(env, options),
        (error: unknown) => {
          assert.ok(error instanceof GatehouseConfigError);
          assert.deepEqual(error.problems, problems);
          assert.match(error.message, /^invalid configuration in the environment:\n {2}- /);
          return true;
        },
      );
    });
  }

  test('every setting of the configuration schema has a variable (runtime aside)', () => {
    const mapped = new Set(ENV_VARIABLES.map((v) => v.path.join('.')));
    const missing = schemaLeaves(configSchema).filter((path) => path !== 'runtime' && path !== 'upstream.kind' && !mapped.has(path));
    assert.deepEqual(missing, []);
    assert.ok(mapped.has('upstream.kind'));
  });

  test('every variable is documented in docs/aws.md', () => {
    const docs = readFileSync(new URL('../docs/aws.md', import.meta.url), 'utf8');
    const missing = ENV_VARIABLES.map((v) => v.name).filter((name) => !docs.includes(`\`${name}\``));
    assert.deepEqual(missing, []);
  });
});
