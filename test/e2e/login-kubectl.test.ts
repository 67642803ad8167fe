/**
 * Issue 6 end to end: the real kubectl runs `gatehouse credential` from a kubeconfig that
 * `gatehouse kubeconfig` wrote, against a real OAuth server (oidc-provider), through a local
 * Gatehouse that verifies the ID token, to the kube-apiserver stand-in.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createOidcAuthenticator } from '../../src/auth/oidc.ts';
import { configSchema } from '../../src/config.ts';
import { startLocalGatehouse, type LocalGatehouse } from '../../src/runtime/local.ts';
import { startFakeApiServer, type FakeApiServer } from '../stand-in/apiserver.ts';
import { kubectlBinary } from '../support/harness.ts';
import { startTestIdp, type TestIdp } from '../login/oidc-provider.ts';
import { runProcess, type ProcessResult } from '../support/run-process.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fakeBrowser = fileURLToPath(new URL('../login/fake-browser.mjs', import.meta.url));

function run(command: string, args: string[], env: Record<string, string>): Promise<ProcessResult> {
  return runProcess(command, args, { cwd: root, env: { PATH: process.env.PATH ?? '', ...env } });
}

describe('kubectl signs in through the gatehouse exec plugin', () => {
  let idp: TestIdp;
  let api: FakeApiServer;
  let gatehouse: LocalGatehouse;
  let dir: string;
  let kubeconfig: string;
  let env: Record<string, string>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-login-e2e-'));
    idp = await startTestIdp();
    api = await startFakeApiServer();
    const oidc = configSchema.shape.oidc.parse({ issuer: idp.issuer, audience: idp.clientId });
    gatehouse = await startLocalGatehouse({
      stateDir: join(dir, 'state'),
      port: 0,
      upstreamKubeconfig: api.kubeconfigPath,
      auth: 'token',
      overrides: { authenticator: createOidcAuthenticator(oidc) },
    });
    await writeFile(join(dir, 'ca.pem'), gatehouse.caPem);
    kubeconfig = join(dir, 'kubeconfig');
    env = { HOME: dir, KUBECACHEDIR: join(dir, 'cache'), GATEHOUSE_CONFIG_DIR: join(dir, 'config') };
    const written = await run(
      process.execPath,
      ['bin/gatehouse.mjs', 'kubeconfig', '--server', gatehouse.url, '--ca-file', join(dir, 'ca.pem'), '--issuer', idp.issuer,
        '--client-id', idp.clientId, '--scope', 'groups', '--kubeconfig', kubeconfig],
      env,
    );
    assert.equal(written.code, 0, written.stderr);
  });

  after(async () => {
    await gatehouse?.close();
    await api?.close();
    await idp?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** The cached token as it is once its time has passed: in the token cache and in the fast path's credential. */
  async function expireCachedToken(): Promise<void> {
    const tokens = join(dir, 'config', 'tokens');
    const files = await readdir(tokens);
    const json = files.find((file) => file.endsWith('.json'));
    const credential = files.find((file) => file.endsWith('.exec-credential'));
    assert.ok(json !== undefined && credential !== undefined, `token cache and fast-path credential in ${tokens}: ${files.join(', ')}`);
    const past = Math.floor(Date.now() / 1000) - 60;
    const cached = JSON.parse(await readFile(join(tokens, json), 'utf8')) as { expiresAt: number };
    cached.expiresAt = past;
    await writeFile(join(tokens, json), JSON.stringify(cached));
    const [, line] = (await readFile(join(tokens, credential), 'utf8')).split('\n');
    await writeFile(join(tokens, credential), `${past}\n${line}\n`);
  }

  function kubectl(args: string[], extraEnv: Record<string, string> = {}): Promise<ProcessResult> {
    return run(kubectlBinary('1.33'), ['--kubeconfig', kubeconfig, ...args], { ...env, ...extraEnv });
  }

  test('the first call signs in through the browser and runs as the signed-in person', async () => {
    const from = api.received.length;
    const result = await kubectl(['get', 'namespaces', '-o', 'name'], { GATEHOUSE_BROWSER: `${process.execPath} ${fakeBrowser}` });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /namespace\/default/);
    assert.equal(idp.logins, 1);
    const received = api.received.slice(from);
    assert.ok(received.length > 0);
    for (const request of received) {
      assert.equal(request.user, 'alice@example.com');
      assert.deepEqual(request.groups, ['developers']);
      assert.ok(!String(request.headers.authorization ?? '').includes('.'), 'the ID token never reaches the cluster');
    }
  });

  test('the second call uses the cached token from the shell fast path: no Node, no sign-in, no refresh', async () => {
    // Any Node process started with this environment fails at once: the call succeeds only if none starts.
    const result = await kubectl(['get', 'namespaces', '-o', 'name'], { GATEHOUSE_BROWSER: '/bin/false', NODE_OPTIONS: '--require=/nonexistent/node-must-not-start' });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    assert.equal(idp.logins, 1);
    assert.equal(idp.refreshes, 0);
  });

  test('an expired token is refreshed without a prompt', async () => {
    await expireCachedToken();
    const result = await kubectl(['get', 'namespaces', '-o', 'name']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(idp.logins, 1);
    assert.equal(idp.refreshes, 1);
  });

  test('a revoked refresh token ends in a clear message that says how to sign in again', async () => {
    await idp.revokeRefreshTokens();
    await expireCachedToken();
    const result = await kubectl(['get', 'namespaces', '-o', 'name']);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /your Gatehouse sign-in has ended: .* refused the refresh token \(invalid_grant/);
    assert.match(result.stderr, /Sign in again: gatehouse login --issuer http:\/\/127\.0\.0\.1:\d+ --client-id gatehouse-cli/);
    assert.equal(idp.logins, 1);
  });
});
