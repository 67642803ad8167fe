/**
 * The Lambda bundling settings (infra/lambda-bundle.ts): the credential sources aliased away
 * leave the SDK's default chain working as it does on Lambda — the execution role's
 * credentials from the environment — and failing closed, with the SDK's own message, when
 * there are none. Bundled for real with the shared settings and run in a fresh Node process
 * with nothing in its environment but what each case sets (no HOME: no shared config file).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { LAMBDA_ALIASES, LAMBDA_ESBUILD } from '../../infra/lambda-bundle.ts';

let scratch: string;
let bundle: string;

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'gatehouse-lambda-bundle-'));
  const entry = join(scratch, 'entry.mjs');
  writeFileSync(
    entry,
    `import { defaultProvider } from '@aws-sdk/credential-provider-node';
     try { const c = await defaultProvider()(); console.log(JSON.stringify({ accessKeyId: c.accessKeyId })); }
     catch (error) { console.log(JSON.stringify({ error: error.name, message: error.message })); }`,
  );
  bundle = join(scratch, 'index.mjs');
  await build({ ...LAMBDA_ESBUILD, mainFields: [...LAMBDA_ESBUILD.mainFields], sourcemap: false, entryPoints: [entry], outfile: bundle, nodePaths: [join(process.cwd(), 'node_modules')], logLevel: 'silent' });
});

after(() => rmSync(scratch, { recursive: true, force: true }));

function run(env: Record<string, string>): unknown {
  const result = spawnSync(process.execPath, [bundle], {
    // The instance metadata source must not wait on a network that is not there.
    env: { PATH: process.env.PATH ?? '', AWS_EC2_METADATA_DISABLED: 'true', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout.trim().split('\n').pop() ?? '');
}

describe('the Lambda bundle’s AWS credentials', () => {
  test('replaces the SSO, shared-file, process and web identity sources', () => {
    const code = readFileSync(bundle, 'utf8');
    assert.ok(code.includes('credentials are not available to Gatehouse on AWS Lambda'), 'the stand-in is bundled');
    for (const gone of ['credential-provider-ini - fromIni', 'credential-provider-sso - fromSSO']) assert.ok(!code.includes(gone), `${gone} is not bundled`);
    assert.deepEqual(Object.keys(LAMBDA_ALIASES).sort(), [
      '@aws-sdk/credential-provider-ini',
      '@aws-sdk/credential-provider-process',
      '@aws-sdk/credential-provider-sso',
      '@aws-sdk/credential-provider-web-identity',
    ]);
  });

  test('come from the environment, as Lambda provides the execution role’s', () => {
    assert.deepEqual(run({ AWS_ACCESS_KEY_ID: 'ASIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret', AWS_SESSION_TOKEN: 'token' }), { accessKeyId: 'ASIAEXAMPLE' });
  });

  test('fail closed with the SDK’s own message when the environment has none', () => {
    assert.deepEqual(run({ AWS_PROFILE: 'someone', AWS_WEB_IDENTITY_TOKEN_FILE: '/nonexistent', AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/x' }), {
      error: 'CredentialsProviderError',
      message: 'Could not load credentials from any providers',
    });
  });
});
