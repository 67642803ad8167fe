/**
 * How a pipeline uses its OIDC token with kubectl: `gatehouse kubeconfig --token-file` writes
 * a context whose user reads the token from the file the job wrote (GitHub Actions, GitLab CI:
 * docs/ci.md); a real kubectl then works through Gatehouse with no browser, no refresh token
 * and no credential plugin.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { clientToken, startHarness, type Harness } from '../support/harness.ts';

const GATEHOUSE = fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url));
let h: Harness;

before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.close();
});

test('gatehouse kubeconfig --token-file writes a user that reads the token file, and kubectl works with it', async () => {
  const tokenFile = join(h.dir, 'ci-token');
  const caFile = join(h.dir, 'gatehouse-ca.pem');
  const kubeconfig = join(h.dir, 'ci-kubeconfig');
  writeFileSync(tokenFile, clientToken(h), { mode: 0o600 });
  writeFileSync(caFile, h.gatehouse.caPem);
  const { stderr } = await promisify(execFile)(process.execPath, [GATEHOUSE, 'kubeconfig', '--server', h.gatehouse.url, '--ca-file', caFile, '--token-file', tokenFile, '--kubeconfig', kubeconfig, '--name', 'ci']);
  assert.match(stderr, /Context "ci" for https:\/\/127\.0\.0\.1:\d+ written to .*ci-kubeconfig; "ci" made current\./);
  const written = parseYaml((await import('node:fs')).readFileSync(kubeconfig, 'utf8')) as { users: { name: string; user: Record<string, unknown> }[] };
  assert.deepEqual(written.users, [{ name: 'ci', user: { tokenFile } }], 'the token stays in its file: the kubeconfig holds only its path');

  const result = await h.kubectl('1.33', ['get', 'pods', '-n', 'default'], { kubeconfig });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(h.api.received.at(-1)?.user, h.user);
});

test('gatehouse kubeconfig without a way to sign in says what to give', async () => {
  const failed = await promisify(execFile)(process.execPath, [GATEHOUSE, 'kubeconfig', '--server', 'https://gatehouse.example.com', '--kubeconfig', join(h.dir, 'unused')], { env: { PATH: process.env.PATH ?? '' } }).catch((error: { code: number; stderr: string }) => error);
  assert.equal((failed as { code: number }).code, 2);
  assert.match((failed as { stderr: string }).stderr, /give --issuer and --client-id \(people sign in with a browser\), or --token-file \(a pipeline's OIDC token\)/);
});
