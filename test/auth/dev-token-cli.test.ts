// `gatehouse dev-token` as a real process, and its ExecCredential consumed by the real
// kubectl over HTTPS against a server running the authenticate stage.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Hono } from 'hono';
import { decodeJwt } from 'jose';
import '../../src/context.ts';
import { loadDevIssuer } from '../../src/auth/dev-issuer.ts';
import { asGatehouseError, statusResponse } from '../../src/errors.ts';
import { ensureLocalTls } from '../../src/local/tls.ts';
import { authenticate } from '../../src/pipeline/authenticate.ts';
import { startNodeServer } from '../../src/runtime/node-server.ts';
import type { NodeServer } from '../../src/runtime/node-server.ts';

const run = promisify(execFile);
// The built CLI, as kubectl runs it (test/run.mjs builds dist/ before the suite).
const CLI_ARGV = [fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url)), 'dev-token'];

let root: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'gatehouse-dev-token-'));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function devToken(args: string[], env: Record<string, string> = {}): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(process.execPath, [...CLI_ARGV, ...args], { env: { ...process.env, ...env }, cwd: root });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('gatehouse dev-token', { concurrency: true }, () => {
  test('prints a token its state dir verifies, naming the user and groups', async () => {
    const stateDir = join(root, 'plain');
    const result = await devToken(['--user', 'alice@example.com', '--group', 'dev', '--group', 'oncall', '--state-dir', stateDir]);
    assert.equal(result.code, 0, result.stderr);
    const identity = await (await loadDevIssuer(stateDir)).authenticator.verify(result.stdout.trim());
    assert.deepEqual([identity.user, identity.groups], ['alice@example.com', ['dev', 'oncall']]);
  });

  test('prints an ExecCredential with the token and its expiry', async () => {
    const stateDir = join(root, 'exec');
    const result = await devToken(['--user', 'bob@example.com', '--ttl', '120', '--exec-credential', '--state-dir', stateDir]);
    assert.equal(result.code, 0, result.stderr);
    const credential = JSON.parse(result.stdout) as { apiVersion: string; kind: string; status: { token: string; expirationTimestamp: string } };
    assert.equal(credential.apiVersion, 'client.authentication.k8s.io/v1');
    assert.equal(credential.kind, 'ExecCredential');
    const { exp, iat } = decodeJwt(credential.status.token);
    assert.equal((exp as number) - (iat as number), 120);
    assert.equal(credential.status.expirationTimestamp, new Date((exp as number) * 1000).toISOString().replace('.000Z', 'Z'));
  });

  test('keeps its key in $GATEHOUSE_STATE_DIR when no --state-dir is given', async () => {
    const stateDir = join(root, 'from-env');
    const result = await devToken(['--user', 'carol@example.com'], { GATEHOUSE_STATE_DIR: stateDir });
    assert.equal(result.code, 0, result.stderr);
    assert.equal((await (await loadDevIssuer(stateDir)).authenticator.verify(result.stdout.trim())).user, 'carol@example.com');
  });

  const refusals = [
    {
      name: 'refuses a lifetime of zero as bad usage',
      args: ['--user', 'alice@example.com', '--ttl', '0'],
      stderr: "error: option '--ttl <seconds>' argument '0' is invalid. must be a whole number of seconds from 1 to 86400\n(run with --help for usage)\n",
    },
    {
      name: 'refuses to mint for a system: user as bad usage',
      args: ['--user', 'system:admin'],
      stderr:
        'gatehouse dev-token: token claim "email" names the user "system:admin", which is refused: names starting with "system:" are reserved for the cluster\'s own identities (set oidc.usernamePrefix to keep identity-provider names apart)\n',
    },
    {
      name: 'requires --user',
      args: [],
      stderr: "error: required option '--user <name>' not specified\n(run with --help for usage)\n",
    },
  ];
  for (const c of refusals) {
    test(c.name, async () => {
      const result = await devToken([...c.args, '--state-dir', join(root, 'refusals')]);
      assert.equal(result.code, 2);
      assert.equal(result.stdout, '');
      assert.equal(result.stderr, c.stderr);
    });
  }
});

describe('kubectl with the dev-token exec credential', () => {
  let server: NodeServer;
  let stateDir: string;
  let caData: string;

  before(async () => {
    stateDir = join(root, 'kubectl');
    const [tls, issuer] = await Promise.all([ensureLocalTls(stateDir), loadDevIssuer(stateDir)]);
    caData = Buffer.from(tls.caPem).toString('base64');
    const app = new Hono();
    app.onError((error) => statusResponse(asGatehouseError(error)));
    app.use('*', authenticate(issuer.authenticator));
    app.get('/whoami', (c) => c.json({ user: c.get('identity').user, groups: c.get('identity').groups }));
    server = await startNodeServer({ app, host: '127.0.0.1', port: 0, tls: { cert: tls.certPem, key: tls.keyPem } });
  });

  after(async () => {
    await server.close();
  });

  async function kubeconfig(name: string, user: object): Promise<string> {
    const path = join(root, `${name}.kubeconfig`);
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'gatehouse', cluster: { server: server.url, 'certificate-authority-data': caData } }],
      users: [{ name: 'me', user }],
      contexts: [{ name: 'gatehouse', context: { cluster: 'gatehouse', user: 'me' } }],
      'current-context': 'gatehouse',
    };
    await writeFile(path, JSON.stringify(config));
    return path;
  }

  const execUser = () => ({
    exec: {
      apiVersion: 'client.authentication.k8s.io/v1',
      command: process.execPath,
      args: [...CLI_ARGV, '--user', 'alice@example.com', '--group', 'dev', '--exec-credential', '--state-dir', stateDir],
      interactiveMode: 'Never',
    },
  });

  async function kubectl(config: string, args: string[]): Promise<Outcome> {
    try {
      const { stdout, stderr } = await run('kubectl', ['--kubeconfig', config, ...args], { cwd: root });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  }

  test('kubectl authenticates with a token from the exec plugin', async () => {
    const result = await kubectl(await kubeconfig('exec', execUser()), ['get', '--raw', '/whoami']);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { user: 'alice@example.com', groups: ['dev'] });
  });

  test('kubectl --as is refused, and kubectl prints why', async () => {
    const result = await kubectl(await kubeconfig('exec-as', execUser()), ['get', '--raw', '/whoami', '--as', 'admin']);
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      "Error from server (Forbidden): Gatehouse refuses client impersonation headers (Impersonate-User): the caller's identity comes from its token\n",
    );
  });

  test('kubectl with a bad token is told to log in, and why', async () => {
    // (No credentials at all would make kubectl prompt for a password on stdin instead.)
    const result = await kubectl(await kubeconfig('bad-token', { token: 'not-a-jwt' }), ['get', '--raw', '/whoami']);
    assert.equal(result.code, 1);
    assert.equal(result.stderr, 'error: You must be logged in to the server (token is not a JWT: it has 1 dot-separated parts, a signed JWT has 3)\n');
  });
});
