// A self-hoster's first start: `gatehouse policy init` writes the starter policy, and
// `gatehouse serve --config … --dev-issuer` runs a configured Gatehouse on loopback with the
// local development issuer — then the real kubectl: discovery, `version`, `api-resources`
// and `auth can-i` work for a signed-in caller with no other rule; anything else is refused.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { initPolicy, STARTER_POLICY_PATH, validatePolicy } from '../../src/cli/policy.ts';
import { GATEHOUSE_BIN } from '../../src/runtime/local.ts';
import { startFakeApiServer, type FakeApiServer } from '../stand-in/apiserver.ts';
import { kubectlBinary } from '../support/harness.ts';

let dir: string;
let api: FakeApiServer;
let serve: ChildProcess;
let output = '';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-starter-'));
  api = await startFakeApiServer();
});
after(async () => {
  if (serve !== undefined && serve.exitCode === null) serve.kill('SIGKILL');
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

function kubectl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(kubectlBinary('1.33'), args, { env: { ...process.env, HOME: dir, KUBECONFIG: join(dir, 'state', 'kubeconfig') } }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
    );
  });
}

describe('gatehouse policy init', () => {
  test('writes the starter policy, which validates', () => {
    const file = join(dir, 'policy.yaml');
    const result = initPolicy(file);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, /^wrote .*policy\.yaml: the starter policy/);
    assert.equal(readFileSync(file, 'utf8'), readFileSync(STARTER_POLICY_PATH, 'utf8'));
    // Both rules are for everyone signed in on purpose (kubectl cannot work without them), so
    // validate names them as rules without a subject — warnings, not errors.
    const validated = validatePolicy(file);
    assert.equal(validated.stdout, `${file}: valid, 2 rules (0 deny, 0 review, 2 allow), 2 warnings\n`);
  });

  test('never overwrites an existing file', () => {
    const file = join(dir, 'mine.yaml');
    writeFileSync(file, 'my own\n');
    const result = initPolicy(file);
    assert.equal(result.exitCode, 1);
    assert.equal(result.stderr, `gatehouse policy init: not writing ${file}: it already exists (Gatehouse does not overwrite a policy; choose another file or remove it)\n`);
    assert.equal(readFileSync(file, 'utf8'), 'my own\n');
  });
});

describe('gatehouse serve --config --dev-issuer with the starter policy', () => {
  before(async () => {
    // A configuration without an oidc section: --dev-issuer stands in for it.
    writeFileSync(join(dir, 'gatehouse.yaml'), stringify({ upstream: { kind: 'kubeconfig', kubeconfig: api.kubeconfigPath }, policy: { file: 'policy.yaml' } }));
    serve = spawn(process.execPath, [GATEHOUSE_BIN, 'serve', '--config', join(dir, 'gatehouse.yaml'), '--dev-issuer', '--port', '0', '--state-dir', join(dir, 'state'), '--auth', 'token', '--user', 'sam@example.com'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      const read = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes('Press Ctrl-C to stop.')) resolve();
      };
      serve.stdout?.on('data', read);
      serve.stderr?.on('data', read);
      serve.once('exit', () => reject(new Error(`serve exited:\n${output}`)));
    });
  });

  test('the banner says the development issuer replaces the oidc section and where the kubeconfig is', () => {
    assert.match(output, /oidc issuer: {3}https:\/\/gatehouse\.invalid\/dev-issuer/);
    assert.match(output, /kubeconfig for users: .*state\/kubeconfig {2}\(user "sam@example.com", groups: developers\)/);
    assert.match(output, /WARNING: the LOCAL DEVELOPMENT ISSUER replaces the file's oidc section/);
  });

  const works = [
    { name: 'kubectl version reads /version', args: ['version', '-o', 'json'], out: /"gitVersion": "v1\.33\.0"/ },
    { name: 'kubectl api-resources reads discovery', args: ['api-resources', '--api-group', 'apps', '-o', 'name'], out: /^deployments\.apps\nreplicasets\.apps\n$/ },
    { name: 'kubectl auth can-i asks about the caller itself', args: ['auth', 'can-i', 'get', 'pods'], out: /^yes\n$/ },
  ];
  for (const { name, args, out } of works) {
    test(name, async () => {
      const result = await kubectl(args);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, out);
    });
  }

  test('anything else is refused until a rule allows it', async () => {
    const result = await kubectl(['get', 'pods']);
    assert.equal(result.code, 1);
    assert.equal(result.stderr, 'Error from server (Forbidden): user "sam@example.com" (groups: developers) may not list pods in namespace "default": no rule allows it (default deny)\n');
  });

  test('refuses --dev-issuer on a non-loopback address, and without --config', () => {
    const wide = spawnSync(process.execPath, [GATEHOUSE_BIN, 'serve', '--config', join(dir, 'gatehouse.yaml'), '--dev-issuer', '--host', '0.0.0.0', '--port', '0', '--state-dir', join(dir, 'wide')], { encoding: 'utf8' });
    assert.equal(wide.status, 2);
    assert.match(wide.stderr, /the local development issuer is allowed only on loopback \(127\.0\.0\.1, ::1, localhost\), but Gatehouse listens on "0\.0\.0\.0"/);
    const alone = spawnSync(process.execPath, [GATEHOUSE_BIN, 'serve', '--dev-issuer', '--port', '0'], { encoding: 'utf8' });
    assert.equal(alone.status, 2);
    assert.match(alone.stderr, /--dev-issuer goes with --config \(without --config the development issuer is on anyway\)/);
  });
});
