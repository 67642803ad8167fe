/**
 * The credential fast path (src/login/fast-path-exec.ts) run by the real kubectl, 1.27 and
 * 1.33, through a local Gatehouse to the kube-apiserver stand-in: the kubeconfigs Gatehouse
 * writes run `/bin/sh` with a few lines that print the cached ExecCredential while it is valid
 * and start the Node plugin otherwise.
 *
 * Whether Node started is seen, not guessed: kubectl passes its environment to the plugin, and
 * with NODE_OPTIONS naming a module that does not exist every Node process fails at once. A
 * call with that environment succeeds only if the shell answered alone, and fails with Node's
 * own message when the shell handed over.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { Kubeconfig } from '../../src/kubeconfig.ts';
import { cachePath, credentialCachePath, writeCachedTokens } from '../../src/login/token-cache.ts';
import { startLocalGatehouse, type LocalGatehouse } from '../../src/runtime/local.ts';
import { startFakeApiServer, type FakeApiServer } from '../stand-in/apiserver.ts';
import { kubectlBinary } from '../support/harness.ts';
import { runProcess, type ProcessResult } from '../support/run-process.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NO_NODE = { NODE_OPTIONS: '--require=/nonexistent/node-must-not-start' };
/** What kubectl prints when the shell handed over to Node and Node could not start. */
const NODE_STARTED = /Cannot find module '\/nonexistent\/node-must-not-start'[\s\S]*getting credentials: exec: executable \/bin\/sh failed with exit code 1/;
const ISSUER = 'https://idp.example.com/realms/staff';
const FAR_FUTURE = 4_102_444_800; // 2100-01-01
const IS_ROOT = process.getuid?.() === 0;

/** A credential line as the plugin writes it, for a token the Gatehouse does not accept. */
function plantedCredential(token: string): string {
  return JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', spec: {}, status: { token, expirationTimestamp: '2100-01-01T00:00:00Z' } });
}

function cacheFileOf(kubeconfigPath: string): string {
  const config = parse(readFileSync(kubeconfigPath, 'utf8')) as Kubeconfig;
  const exec = config.users?.[0]?.user.exec;
  assert.equal(exec?.command, '/bin/sh');
  const file = exec?.args?.[3];
  assert.ok(file !== undefined && file.endsWith('.exec-credential'), `the fast path's cache file in ${kubeconfigPath}`);
  return file;
}

const validUntilOf = (file: string): number => Number(readFileSync(file, 'utf8').split('\n')[0]);

let dir: string;
let api: FakeApiServer;
let gatehouse: LocalGatehouse;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-fast-path-'));
  api = await startFakeApiServer();
  // auth 'exec': the users' kubeconfig runs `gatehouse dev-token` behind the fast path, as `gatehouse serve` writes it.
  gatehouse = await startLocalGatehouse({ stateDir: join(dir, 'state'), port: 0, upstreamKubeconfig: api.kubeconfigPath, user: 'alice@example.com', groups: ['developers'] });
});

after(async () => {
  await gatehouse?.close();
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

function kubectl(version: string, kubeconfig: string, env: Record<string, string> = {}): Promise<ProcessResult> {
  return runProcess(kubectlBinary(version), ['--kubeconfig', kubeconfig, 'get', 'namespaces', '-o', 'name'], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', HOME: dir, KUBECACHEDIR: join(dir, `cache-${version}`), ...env },
  });
}

/** kubectl answered, as the kubeconfig's user, with nothing on stderr. */
function assertServedAsAlice(result: ProcessResult, from: number): void {
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '');
  assert.match(result.stdout, /namespace\/default/);
  const received = api.received.slice(from);
  assert.ok(received.length > 0, 'the call reached the cluster');
  for (const request of received) assert.equal(request.user, 'alice@example.com');
}

/** The cache as the plugin leaves it: a regular file of ours, 0600 in a 0700 directory, valid for a while yet. */
function assertFreshCache(file: string): void {
  const stat = lstatSync(file);
  assert.ok(stat.isFile(), `${file} is a regular file`);
  assert.equal(stat.mode & 0o777, 0o600);
  assert.equal(statSync(join(file, '..')).mode & 0o777, 0o700);
  if (process.getuid !== undefined) assert.equal(stat.uid, process.getuid());
  assert.ok(validUntilOf(file) > Date.now() / 1000 + 60, 'valid for more than a minute');
}

/** A case: put the cache in some state, then the call without Node either succeeds (the shell answered) or shows Node starting. */
interface Case {
  name: string;
  skip?: string | false;
  arrange(file: string): void;
  shellAlone: boolean;
  /** After the normal call (Node allowed) that follows. */
  check?(file: string): void;
}

/** A folder outside the cache directory, for what a case plants. */
const sandbox = (): string => mkdtempSync(join(dir, 'elsewhere-'));
/** The file a command hidden in a tampered cache would create. */
let witness = '';

const CASES: Case[] = [
  {
    name: 'a valid cache is printed by the shell alone: no Node starts, the cache is left as it was',
    arrange: () => undefined,
    shellAlone: true,
  },
  {
    name: 'a missing cache hands over to the Node plugin, which mints a token, writes the cache 0600 and prints',
    arrange: (file) => rmSync(file, { force: true }),
    shellAlone: false,
    check: assertFreshCache,
  },
  {
    name: 'an expired cache hands over to the Node plugin, which mints a new token and rewrites the cache',
    arrange: (file) => {
      const [, credential] = readFileSync(file, 'utf8').split('\n');
      writeFileSync(file, `${Math.floor(Date.now() / 1000) - 1}\n${credential}\n`, { mode: 0o600 });
    },
    shellAlone: false,
    check: assertFreshCache,
  },
  {
    name: 'a cache that is a symlink is not followed: Node runs, replaces the link with its own file and leaves the planted file alone',
    arrange: (file) => {
      const planted = join(sandbox(), 'planted');
      writeFileSync(planted, `${FAR_FUTURE}\n${plantedCredential('planted-token')}\n`, { mode: 0o600 });
      rmSync(file, { force: true });
      symlinkSync(planted, file);
    },
    shellAlone: false,
    check: (file) => {
      assertFreshCache(file);
      assert.ok(!readFileSync(file, 'utf8').includes('planted-token'));
    },
  },
  {
    name: 'a cache owned by another user is not used: Node runs and puts its own file in its place',
    skip: IS_ROOT ? false : 'only root can give a file to another user (CI runs as root)',
    arrange: (file) => {
      writeFileSync(file, `${FAR_FUTURE}\n${plantedCredential('other-users-token')}\n`, { mode: 0o644 });
      chownSync(file, 65534, 65534);
    },
    shellAlone: false,
    check: assertFreshCache,
  },
  {
    name: 'a first line that is not a number is never evaluated: nothing in it runs, and Node takes over',
    arrange: (file) => {
      witness = join(sandbox(), 'ran');
      writeFileSync(file, `x[$(touch ${witness})]\n${plantedCredential('tampered-token')}\n`, { mode: 0o600 });
    },
    shellAlone: false,
    check: (file) => {
      assertFreshCache(file);
      assert.equal(existsSync(witness), false, 'the command in the cache never ran');
    },
  },
  {
    name: 'a second line that is not an ExecCredential is not printed: Node takes over',
    arrange: (file) => writeFileSync(file, `${FAR_FUTURE}\n{"kind":"Status","token":"tampered-token"}\n`, { mode: 0o600 }),
    shellAlone: false,
    check: assertFreshCache,
  },
];

for (const version of ['1.27', '1.33']) {
  describe(`kubectl ${version} with the kubeconfig gatehouse serve writes (dev-token behind the fast path)`, () => {
    let file: string;
    before(async () => {
      file = cacheFileOf(gatehouse.kubeconfigPath);
      // Whatever an earlier version's cases left: start from the plugin's own cache.
      rmSync(file, { force: true });
      const first = await kubectl(version, gatehouse.kubeconfigPath);
      assert.equal(first.code, 0, first.stderr);
      assertFreshCache(file);
    });

    for (const c of CASES) {
      test(c.name, { skip: c.skip ?? false }, async () => {
        c.arrange(file);
        const before = existsSync(file) && !lstatSync(file).isSymbolicLink() ? readFileSync(file, 'utf8') : undefined;
        const from = api.received.length;
        const withoutNode = await kubectl(version, gatehouse.kubeconfigPath, NO_NODE);
        if (c.shellAlone) {
          assertServedAsAlice(withoutNode, from);
          assert.equal(readFileSync(file, 'utf8'), before);
          return;
        }
        assert.notEqual(withoutNode.code, 0, 'the shell handed over to Node');
        assert.match(withoutNode.stderr, NODE_STARTED);
        assert.equal(api.received.length, from, 'nothing reached the cluster without a credential');

        const withNode = await kubectl(version, gatehouse.kubeconfigPath);
        assertServedAsAlice(withNode, from);
        c.check?.(file);
        // And from now on the shell answers alone again.
        assertServedAsAlice(await kubectl(version, gatehouse.kubeconfigPath, NO_NODE), from);
      });
    }
  });
}

describe('the kubeconfig gatehouse kubeconfig writes (credential behind the fast path)', () => {
  let kubeconfig: string;
  let configDir: string;
  let tokens: string;

  before(async () => {
    configDir = join(dir, 'config');
    tokens = cachePath(configDir, ISSUER, 'gatehouse-cli');
    writeFileSync(join(dir, 'ca.pem'), gatehouse.caPem);
    kubeconfig = join(dir, 'credential-kubeconfig');
    const written = await runProcess(
      process.execPath,
      ['bin/gatehouse.mjs', 'kubeconfig', '--server', gatehouse.url, '--ca-file', join(dir, 'ca.pem'), '--issuer', ISSUER, '--client-id', 'gatehouse-cli', '--config-dir', configDir, '--kubeconfig', kubeconfig],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: dir } },
    );
    assert.equal(written.code, 0, written.stderr);
    assert.equal(cacheFileOf(kubeconfig), credentialCachePath(tokens));
    // A signed-in user's cache: the dev issuer's token stands in for the identity provider's ID token.
    const idToken = await gatehouse.devIssuer.mint('alice@example.com', ['developers'], 3600);
    mkdirSync(join(configDir, 'tokens'), { recursive: true, mode: 0o700 });
    await writeCachedTokens(tokens, { issuer: ISSUER, clientId: 'gatehouse-cli', idToken, expiresAt: Math.floor(Date.now() / 1000) + 3600 });
  });

  for (const version of ['1.27', '1.33']) {
    test(`kubectl ${version}: the credential gatehouse login cached is printed by the shell alone`, async () => {
      const from = api.received.length;
      assertServedAsAlice(await kubectl(version, kubeconfig, NO_NODE), from);
    });

    test(`kubectl ${version}: without the fast path's file the Node plugin answers from the token cache and writes the file for next time`, async () => {
      rmSync(credentialCachePath(tokens));
      const from = api.received.length;
      assert.match((await kubectl(version, kubeconfig, NO_NODE)).stderr, NODE_STARTED);
      assertServedAsAlice(await kubectl(version, kubeconfig), from);
      assertFreshCache(credentialCachePath(tokens));
      assertServedAsAlice(await kubectl(version, kubeconfig, NO_NODE), from);
    });
  }
});
