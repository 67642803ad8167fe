/**
 * The exec credential plugin against a real OAuth server (oidc-provider on loopback), run as
 * kubectl runs it: a subprocess with KUBERNETES_EXEC_INFO, reading the ExecCredential it prints.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeJwt } from 'jose';
import { startTestIdp, type TestIdp } from './oidc-provider.ts';
import { runProcess, type ProcessResult } from '../support/run-process.ts';
import { completeDeviceSignIn } from './device-browser.ts';
import { spawn } from 'node:child_process';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fakeBrowser = fileURLToPath(new URL('./fake-browser.mjs', import.meta.url));
const execInfo = JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', spec: { interactive: false } });

function gatehouse(args: string[], env: Record<string, string>): Promise<ProcessResult> {
  return runProcess(process.execPath, [join(root, 'bin/gatehouse.mjs'), ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: env.HOME ?? tmpdir(), ...env },
  });
}

describe('gatehouse credential (the kubectl exec plugin)', () => {
  let idp: TestIdp;
  let configDir: string;
  let idpArgs: string[];

  before(async () => {
    idp = await startTestIdp();
    configDir = await mkdtemp(join(tmpdir(), 'gatehouse-login-'));
    idpArgs = ['--issuer', idp.issuer, '--client-id', idp.clientId, '--scope', 'groups', '--config-dir', configDir];
  });
  after(async () => idp.close());

  /** The token cache file; beside it only the shell fast path's credential file of the same name. */
  async function cacheFile(): Promise<string> {
    const files = (await readdir(join(configDir, 'tokens'))).sort();
    assert.equal(files.length, 2, files.join(', '));
    const [credential, json] = files as [string, string];
    assert.match(json, /^[0-9a-f]{32}\.json$/);
    assert.equal(credential, json.replace(/\.json$/, '.exec-credential'));
    return join(configDir, 'tokens', json);
  }

  async function expireCachedToken(): Promise<void> {
    const file = await cacheFile();
    const cached = JSON.parse(await readFile(file, 'utf8')) as { expiresAt: number };
    cached.expiresAt = Math.floor(Date.now() / 1000) - 60;
    await writeFile(file, JSON.stringify(cached));
  }

  test('refuses with a clear message when nobody is signed in and no one can be asked', async () => {
    const run = await gatehouse(['credential', ...idpArgs], { KUBERNETES_EXEC_INFO: execInfo });
    assert.equal(run.code, 4);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /not signed in to Gatehouse \(no cached token for http:\/\/127\.0\.0\.1:\d+\)\. Sign in first: gatehouse login --issuer/);
  });

  test('signs in through the browser flow on first use and prints an ExecCredential', async () => {
    const run = await gatehouse(['credential', ...idpArgs], { KUBERNETES_EXEC_INFO: execInfo, GATEHOUSE_BROWSER: `${process.execPath} ${fakeBrowser}` });
    assert.equal(run.code, 0, run.stderr);
    const credential = JSON.parse(run.stdout) as { apiVersion: string; kind: string; status: { token: string; expirationTimestamp: string } };
    assert.equal(credential.apiVersion, 'client.authentication.k8s.io/v1');
    assert.equal(credential.kind, 'ExecCredential');
    const claims = decodeJwt(credential.status.token);
    assert.equal(claims.iss, idp.issuer);
    assert.equal(claims.aud, idp.clientId);
    assert.equal(claims.email, 'alice@example.com');
    assert.deepEqual(claims.groups, ['developers']);
    assert.equal(credential.status.expirationTimestamp, new Date((claims.exp as number) * 1000).toISOString().replace('.000Z', 'Z'));
    assert.match(run.stderr, /Opening the browser to sign in to Gatehouse/);
    assert.equal(idp.logins, 1);
  });

  test('keeps the tokens in a 0600 file inside a 0700 directory', async () => {
    const file = await cacheFile();
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(join(configDir, 'tokens'))).mode & 0o777, 0o700);
    const cached = JSON.parse(await readFile(file, 'utf8')) as { refreshToken?: string };
    assert.ok(cached.refreshToken, 'a refresh token is cached');
  });

  test('leaves the shell fast path its credential, 0600: valid until 30 s before the token expires, then the ExecCredential it printed', async () => {
    const tokens = JSON.parse(await readFile(await cacheFile(), 'utf8')) as { idToken: string; expiresAt: number };
    const credentialFile = (await cacheFile()).replace(/\.json$/, '.exec-credential');
    assert.equal((await stat(credentialFile)).mode & 0o777, 0o600);
    const expirationTimestamp = new Date(tokens.expiresAt * 1000).toISOString().replace('.000Z', 'Z');
    assert.equal(
      await readFile(credentialFile, 'utf8'),
      `${tokens.expiresAt - 30}\n` +
        `{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{},"status":{"token":"${tokens.idToken}","expirationTimestamp":"${expirationTimestamp}"}}\n`,
    );
  });

  test('answers the second call from the cache without signing in', async () => {
    const before = JSON.parse(await readFile(await cacheFile(), 'utf8')) as { idToken: string };
    const run = await gatehouse(['credential', ...idpArgs], { KUBERNETES_EXEC_INFO: execInfo, GATEHOUSE_BROWSER: '/bin/false' });
    assert.equal(run.code, 0, run.stderr);
    assert.equal((JSON.parse(run.stdout) as { status: { token: string } }).status.token, before.idToken);
    assert.equal(run.stderr, '');
    assert.equal(idp.logins, 1);
  });

  test('refreshes an expired token silently, without a browser or a prompt', async () => {
    await expireCachedToken();
    const run = await gatehouse(['credential', ...idpArgs], { KUBERNETES_EXEC_INFO: execInfo });
    assert.equal(run.code, 0, run.stderr);
    const token = (JSON.parse(run.stdout) as { status: { token: string } }).status.token;
    assert.equal(decodeJwt(token).email, 'alice@example.com');
    assert.equal(run.stderr, '');
    assert.equal(idp.refreshes, 1);
    assert.equal(idp.logins, 1);
    const cached = JSON.parse(await readFile(await cacheFile(), 'utf8')) as { expiresAt: number; idToken: string };
    assert.ok(cached.expiresAt > Date.now() / 1000, 'the refreshed expiry is cached');
    assert.equal(cached.idToken, token);
  });

  test('says the sign-in has ended, and how to sign in again, when the refresh token was revoked', async () => {
    await idp.revokeRefreshTokens();
    await expireCachedToken();
    const run = await gatehouse(['credential', ...idpArgs], { KUBERNETES_EXEC_INFO: execInfo });
    assert.equal(run.code, 4);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /your Gatehouse sign-in has ended: http:\/\/127\.0\.0\.1:\d+ refused the refresh token \(invalid_grant[^)]*\)\. Sign in again: gatehouse login --issuer http:\/\/127\.0\.0\.1:\d+ --client-id gatehouse-cli/);
    assert.equal(idp.logins, 1);
    assert.deepEqual(await readdir(join(configDir, 'tokens')), [], 'the token cache and the fast path credential are gone');
  });

  test('gatehouse login --flow device signs in with the device code, where no browser can open', async () => {
    const child = spawn(process.execPath, [join(root, 'bin/gatehouse.mjs'), 'login', ...idpArgs, '--flow', 'device'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: configDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const verification = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const match = /To sign in to Gatehouse, visit (\S+)/.exec(stderr);
        if (match?.[1] !== undefined) resolve(match[1]);
      });
      child.on('close', () => reject(new Error(`gatehouse login exited before showing a verification URL:\n${stderr}`)));
    });
    const loginsBefore = idp.logins;
    const page = await completeDeviceSignIn(verification);
    assert.match(page, /Sign-in Success/i);
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /Signed in; token valid until \d{4}-/);
    assert.equal(idp.logins, loginsBefore + 1);
  });

  test('gatehouse login signs in again and replaces the cache', async () => {
    const loginsBefore = idp.logins;
    const run = await gatehouse(['login', ...idpArgs, '--browser', `${process.execPath} ${fakeBrowser}`], {});
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /Signed in; token valid until \d{4}-/);
    assert.equal(idp.logins, loginsBefore + 1);
    await cacheFile();
  });

  test('gatehouse logout removes the token cache and the fast path credential', async () => {
    const run = await gatehouse(['logout', ...idpArgs], {});
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, 'Signed out.\n');
    assert.deepEqual(await readdir(join(configDir, 'tokens')), []);
  });
});

describe('the loopback redirect listener', () => {
  let idp: TestIdp;
  before(async () => {
    idp = await startTestIdp();
  });
  after(async () => idp.close());

  test('ignores callbacks with a wrong or missing state (another local process) and completes the real sign-in', async () => {
    const otherDir = await mkdtemp(join(tmpdir(), 'gatehouse-login-forged-'));
    const statusesFile = join(otherDir, 'forged-statuses.json');
    const args = ['--issuer', idp.issuer, '--client-id', idp.clientId, '--scope', 'groups', '--config-dir', otherDir];
    const run = await gatehouse(['credential', ...args], { KUBERNETES_EXEC_INFO: execInfo, GATEHOUSE_BROWSER: `${process.execPath} ${fakeBrowser} --forge-first=${statusesFile}` });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(await readFile(statusesFile, 'utf8')), [400, 400, 400, 400]);
    assert.equal(decodeJwt((JSON.parse(run.stdout) as { status: { token: string } }).status.token).email, 'alice@example.com');
  });
});
