// `gatehouse serve` as a user runs it: the start-up banner, clean exit on SIGTERM, exit 2
// with every problem of a bad configuration, the embedded demo cluster on a machine without
// a kubeconfig, and self-hosting from a config file (OIDC, no development issuer).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { DEFAULT_POLICY_FILE, GATEHOUSE_BIN } from '../../src/runtime/local.ts';
import { startFakeApiServer } from '../stand-in/apiserver.ts';
import type { FakeApiServer } from '../stand-in/apiserver.ts';

interface Serve {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** The exit code, or the signal's name when a signal ended the process. */
  exited: Promise<number | string | null>;
}

function serve(args: string[], env: NodeJS.ProcessEnv = process.env): Serve {
  const child = spawn(process.execPath, [GATEHOUSE_BIN, 'serve', '--port', '0', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Resolves with stdout once the banner is complete; rejects if the process exits first. */
function banner(run: Serve): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (run.stdout().includes('Press Ctrl-C to stop.')) resolve(run.stdout());
    };
    run.child.stdout?.on('data', check);
    void run.exited.then((code) => reject(new Error(`serve exited ${code} before it listened:\n${run.stdout()}\n${run.stderr()}`)));
  });
}

async function stop(run: Serve): Promise<number | string | null> {
  run.child.kill('SIGTERM');
  return run.exited;
}

/** GET over HTTPS trusting nothing but `ca`. */
function get(url: string, ca: string | undefined): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca, agent: false, rejectUnauthorized: ca !== undefined }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('gatehouse serve', () => {
  let dir: string;
  let api: FakeApiServer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-serve-'));
    api = await startFakeApiServer();
  });

  after(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A self-hosting config file with OIDC (no development issuer) for the fake API server; returns its path. */
  function writeOidcConfig(name: string): string {
    const configPath = join(dir, name);
    writeFileSync(
      configPath,
      stringify({
        oidc: { issuer: 'https://idp.example.com', audience: 'gatehouse' },
        upstream: { kind: 'kubeconfig', kubeconfig: api.kubeconfigPath },
        policy: { file: DEFAULT_POLICY_FILE },
      }),
    );
    return configPath;
  }

  test('prints where it listens, the users\' kubeconfig, policy, upstream and the dev-issuer warning; SIGTERM exits 0', async () => {
    const stateDir = join(dir, 'state');
    const run = serve(['--state-dir', stateDir, '--kubeconfig', api.kubeconfigPath, '--user', 'alice@example.com', '--group', 'dev', '--group', 'ops']);
    const out = await banner(run);
    const url = /Gatehouse is listening on (https:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
    assert.ok(url, out);
    assert.match(out, new RegExp(`kubeconfig for users: ${join(stateDir, 'kubeconfig')}  \\(user "alice@example.com", groups: dev, ops\\)`));
    assert.match(out, new RegExp(`export KUBECONFIG=${join(stateDir, 'kubeconfig')}`));
    assert.match(out, /policy: {3}\/.*policy\/default\.yaml/);
    assert.match(out, new RegExp(`upstream: context "[^"]+" \\(${api.url}\\) from ${api.kubeconfigPath}`));
    assert.match(out, /WARNING: the LOCAL DEVELOPMENT ISSUER is on/);
    const health = await get(`${url}/_gatehouse/healthz`, readCa(stateDir));
    assert.deepEqual(health, { status: 200, body: 'ok' });
    assert.equal(await stop(run), 0);
  });

  test('exits 2 listing every problem of a bad configuration', async () => {
    const run = serve(['--state-dir', join(dir, 'bad'), '--kubeconfig', join(dir, 'no-kubeconfig'), '--policy', join(dir, 'no-policy.yaml')]);
    assert.equal(await run.exited, 2);
    assert.match(run.stderr(), /invalid configuration in the Gatehouse configuration:/);
    assert.match(run.stderr(), new RegExp(`  - policy ${join(dir, 'no-policy.yaml')}: `));
    assert.match(run.stderr(), new RegExp(`  - upstream kubeconfig ${join(dir, 'no-kubeconfig')}: kubeconfig file does not exist`));
  });

  test('starts the embedded demo cluster on a machine without any kubeconfig, and says so', async () => {
    const home = join(dir, 'fresh-home');
    mkdirSync(home);
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
    delete env['KUBECONFIG'];
    const run = serve(['--state-dir', join(home, '.gatehouse')], env);
    const out = await banner(run);
    assert.match(out, new RegExp(`NOTE: no kubeconfig found \\(${join(home, '.kube', 'config')}\\), so Gatehouse forwards to the EMBEDDED DEMO CLUSTER at https://127\\.0\\.0\\.1:\\d+`));
    assert.equal(await stop(run), 0, `stdout:\n${run.stdout()}\nstderr:\n${run.stderr()}`);
  });

  test('--demo-clusters fronts two embedded demo clusters, a kubeconfig context each, and says so', async () => {
    const stateDir = join(dir, 'two-clusters');
    const run = serve(['--state-dir', stateDir, '--demo-clusters', 'dev,prod']);
    const out = await banner(run);
    assert.match(out, /\n {6}contexts, one per cluster: gatehouse-dev, gatehouse-prod {2}\(kubectl --context …\)\n/);
    assert.match(out, /\n {2}upstream: \/clusters\/dev: context "[^"]+" \([^)]+\) from [^;]+; \/clusters\/prod: context /);
    assert.match(out, /NOTE: the clusters are EMBEDDED DEMO CLUSTERS \(dev at https:\/\/127\.0\.0\.1:\d+, prod at https:\/\/127\.0\.0\.1:\d+\)/);
    const url = /Gatehouse is listening on (https:\/\/\S+)/.exec(out)?.[1] ?? '';
    const ca = readFileSync(join(stateDir, 'ca.crt'), 'utf8');
    assert.equal((await get(`${url}/_gatehouse/healthz`, ca)).status, 200);
    assert.equal(await stop(run), 0, `stdout:\n${run.stdout()}\nstderr:\n${run.stderr()}`);
  });

  test('--demo-clusters refuses a name that is not one, and --kubeconfig beside it', async () => {
    const bad = serve(['--state-dir', join(dir, 'bad-clusters'), '--demo-clusters', 'dev,../prod']);
    assert.notEqual(await bad.exited, 0);
    assert.match(bad.stderr(), /not a cluster name \(letters, digits, "-" and "_"\): "\.\.\/prod"/);
    const both = serve(['--state-dir', join(dir, 'both-clusters'), '--demo-clusters', 'dev', '--kubeconfig', api.kubeconfigPath]);
    assert.equal(await both.exited, 2);
    assert.match(both.stderr(), /--demo-clusters fronts embedded demo clusters: leave out --kubeconfig and --context/);
  });

  test('serves a self-hosting config file with OIDC (no development issuer): a call without a token is 401', async () => {
    const configPath = writeOidcConfig('gatehouse.yaml');
    const run = serve(['--config', configPath, '--state-dir', join(dir, 'hosted')]);
    const out = await banner(run);
    assert.doesNotMatch(out, /DEVELOPMENT ISSUER/);
    assert.match(out, /oidc issuer: {3}https:\/\/idp\.example\.com/);
    const url = /Gatehouse is listening on (https:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
    const reply = await get(`${url}/api/v1/namespaces`, readCa(join(dir, 'hosted')));
    assert.equal(reply.status, 401);
    assert.equal((JSON.parse(reply.body) as { reason: string }).reason, 'Unauthorized');
    assert.equal(await stop(run), 0);
  });

  test('--workers 2 serves one port from two processes, and SIGTERM closes them all', async () => {
    const configPath = writeOidcConfig('workers.yaml');
    const run = serve(['--config', configPath, '--state-dir', join(dir, 'workers'), '--workers', '2']);
    await new Promise<void>((resolve, reject) => {
      run.child.stdout?.on('data', () => {
        if (/workers: 2 processes \(pids \d+, \d+\)/.test(run.stdout())) resolve();
      });
      void run.exited.then((code) => reject(new Error(`serve exited ${code}:\n${run.stdout()}\n${run.stderr()}`)));
    });
    assert.equal(run.stdout().match(/Gatehouse is listening on/g)?.length, 1, 'one banner for all workers');
    const url = /Gatehouse is listening on (https:\/\/127\.0\.0\.1:\d+)/.exec(run.stdout())?.[1];
    const replies = await Promise.all([1, 2, 3, 4].map(() => get(`${url}/_gatehouse/healthz`, readCa(join(dir, 'workers')))));
    assert.deepEqual(replies.map((r) => r.status), [200, 200, 200, 200]);
    assert.equal(await stop(run), 0);
  });

  test('--workers without --config exits 2, saying why', async () => {
    const run = serve(['--state-dir', join(dir, 'w'), '--kubeconfig', api.kubeconfigPath, '--workers', '2']);
    assert.equal(await run.exited, 2);
    assert.match(run.stderr(), /--workers needs --config: the local defaults \(development issuer, embedded stand-ins, demo cluster\) run in one process/);
  });

  test('exits 2 naming every invalid field of a config file', async () => {
    const configPath = join(dir, 'broken.yaml');
    writeFileSync(configPath, stringify({ oidc: { issuer: 'not a url' }, upstream: { kind: 'gke' } }));
    const run = serve(['--config', configPath]);
    assert.equal(await run.exited, 2);
    for (const field of ['oidc.issuer', 'oidc.audience', 'upstream.kind', 'policy']) assert.match(run.stderr(), new RegExp(`  - ${field.replace('.', '\\.')}: `));
  });
});

function readCa(stateDir: string): string {
  return readFileSync(join(stateDir, 'ca.crt'), 'utf8');
}
