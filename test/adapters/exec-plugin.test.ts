// Upstream exec credential plugins, run as client-go runs them: the real plugin process
// (exec-plugin-fixture.mjs) behind the kubeconfig upstream adapter, time frozen by an
// injected clock; then end to end, real kubectl → local Gatehouse → the stand-in, whose
// token only the plugin knows, including a stale token the cluster answers 401 to.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createKubeconfigUpstream } from '../../src/adapters/kubeconfig-upstream.ts';
import { GatehouseConfigError } from '../../src/config-error.ts';
import { GatehouseError } from '../../src/errors.ts';
import type { ExecConfig } from '../../src/kubeconfig.ts';
import { startLocalGatehouse, type LocalGatehouse } from '../../src/runtime/local.ts';
import { startFakeApiServer, type FakeApiServer } from '../stand-in/apiserver.ts';
import { kubectlBinary } from '../support/harness.ts';
import { execFile } from 'node:child_process';

const FIXTURE = new URL('./exec-plugin-fixture.mjs', import.meta.url).pathname;
const V1 = 'client.authentication.k8s.io/v1';
const V1BETA1 = 'client.authentication.k8s.io/v1beta1';

let dir: string;
let counter = 0;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-exec-plugin-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

interface PluginSetup {
  mode?: string;
  apiVersion?: string;
  tokens?: string[];
  expires?: string;
  exec?: Partial<ExecConfig>;
  cluster?: Record<string, unknown>;
}

/** A kubeconfig whose user runs the fixture plugin; returns it and the plugin's run log. */
function pluginKubeconfig(setup: PluginSetup = {}): { path: string; log: string } {
  const n = ++counter;
  const log = join(dir, `runs-${n}.jsonl`);
  const env = [
    { name: 'PLUGIN_LOG', value: log },
    { name: 'PLUGIN_MODE', value: setup.mode ?? 'token' },
    { name: 'PLUGIN_EXTRA', value: 'from-the-kubeconfig' },
    ...(setup.apiVersion === undefined ? [] : [{ name: 'PLUGIN_API_VERSION', value: setup.apiVersion }]),
    ...(setup.tokens === undefined ? [] : [{ name: 'PLUGIN_TOKENS', value: setup.tokens.join(',') }]),
    ...(setup.expires === undefined ? [] : [{ name: 'PLUGIN_EXPIRES', value: setup.expires }]),
  ];
  const path = join(dir, `config-${n}`);
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: 'https://10.0.0.1:6443', ...setup.cluster } }],
      users: [{ name: 'u', user: { exec: { apiVersion: setup.apiVersion ?? V1, command: process.execPath, args: [FIXTURE, '--cluster', 'prod'], env, interactiveMode: 'Never', ...setup.exec } } }],
      contexts: [{ name: 'dev', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'dev',
    }),
  );
  return { path, log };
}

const runsOf = (log: string): { args: string[]; info: { apiVersion: string; kind: string; spec: Record<string, unknown> }; extra: string }[] => {
  try {
    return readFileSync(log, 'utf8').trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as never);
  } catch {
    return [];
  }
};

function frozenClock(iso: string): { now(): number; set(next: string): void } {
  let now = Date.parse(iso);
  return { now: () => now, set: (next) => (now = Date.parse(next)) };
}

describe('upstream exec plugins', () => {
  test('a v1 token is cached until its expirationTimestamp, then the plugin runs again', async () => {
    const clock = frozenClock('2026-01-01T10:00:00Z');
    const { path, log } = pluginKubeconfig({ expires: '2026-01-01T10:15:00Z' });
    const upstream = createKubeconfigUpstream({ kubeconfig: path, clock });
    assert.equal((await upstream.connection()).token, 'run-1');
    clock.set('2026-01-01T10:14:59Z');
    assert.equal((await upstream.connection()).token, 'run-1');
    assert.equal(runsOf(log).length, 1, 'cached while valid');
    clock.set('2026-01-01T10:15:00Z');
    assert.equal((await upstream.connection()).token, 'run-2');
    assert.equal(runsOf(log).length, 2);
  });

  test('v1beta1 plugins work the same, and concurrent calls share one run', async () => {
    const { path, log } = pluginKubeconfig({ apiVersion: V1BETA1, exec: { interactiveMode: undefined } });
    const upstream = createKubeconfigUpstream({ kubeconfig: path });
    const tokens = await Promise.all(Array.from({ length: 5 }, async () => (await upstream.connection()).token));
    assert.deepEqual(tokens, ['run-1', 'run-1', 'run-1', 'run-1', 'run-1']);
    assert.equal(runsOf(log).length, 1);
  });

  test('the plugin gets its args, the kubeconfig env and KUBERNETES_EXEC_INFO (not interactive; the cluster when asked)', async () => {
    const { path, log } = pluginKubeconfig({ exec: { provideClusterInfo: true }, cluster: { 'tls-server-name': 'api.internal' } });
    await createKubeconfigUpstream({ kubeconfig: path }).connection();
    const [run] = runsOf(log);
    assert.deepEqual(run?.args, ['--cluster', 'prod']);
    assert.equal(run?.extra, 'from-the-kubeconfig');
    assert.deepEqual(run?.info, { apiVersion: V1, kind: 'ExecCredential', spec: { interactive: false, cluster: { server: 'https://10.0.0.1:6443', 'tls-server-name': 'api.internal' } } });
  });

  test('a token the cluster refused (401) is not used again: the next call runs the plugin', async () => {
    const { path, log } = pluginKubeconfig();
    const upstream = createKubeconfigUpstream({ kubeconfig: path });
    const first = await upstream.connection();
    assert.equal((await upstream.connection()).token, 'run-1');
    upstream.rejected?.(first);
    assert.equal((await upstream.connection()).token, 'run-2');
    assert.equal(runsOf(log).length, 2);
  });

  test('a client certificate from the plugin is presented instead of a token', async () => {
    const { path } = pluginKubeconfig({ mode: 'cert' });
    const connection = await createKubeconfigUpstream({ kubeconfig: path }).connection();
    assert.equal(connection.token, undefined);
    assert.match(connection.cert ?? '', /BEGIN CERTIFICATE/);
    assert.match(connection.key ?? '', /BEGIN PRIVATE KEY/);
  });

  const failures: { name: string; setup: PluginSetup; message: RegExp }[] = [
    {
      name: 'a failing plugin is reported with its exit status and stderr',
      setup: { mode: 'fail' },
      message: /^upstream credential plugin ".*node" failed: exit status 3: no credentials: run aws sso login$/,
    },
    { name: 'output that is not JSON is refused', setup: { mode: 'garbage' }, message: /answered badly: its output is not JSON \(an ExecCredential was expected\)$/ },
    {
      name: 'an answer in another apiVersion is refused',
      setup: { apiVersion: V1BETA1, exec: { apiVersion: V1 } },
      message: /answered badly: apiVersion is "client.authentication.k8s.io\/v1beta1", but the kubeconfig asked for client.authentication.k8s.io\/v1$/,
    },
    {
      name: 'a missing command says so, with the install hint',
      setup: { exec: { command: 'gatehouse-no-such-plugin', installHint: 'install it with: brew install no-such-plugin' } },
      message: /^upstream credential plugin "gatehouse-no-such-plugin" failed: command not found \(install it with: brew install no-such-plugin\)$/,
    },
  ];
  for (const { name, setup, message } of failures) {
    test(name, async () => {
      const upstream = createKubeconfigUpstream({ kubeconfig: pluginKubeconfig(setup).path });
      await assert.rejects(upstream.connection(), (error: unknown) => {
        assert.ok(error instanceof GatehouseError);
        assert.equal(error.code, 'ERR_CREDENTIALS_UNAVAILABLE');
        assert.match(error.message, message);
        return true;
      });
    });
  }

  const refusals: { name: string; exec: Partial<ExecConfig>; problem: string }[] = [
    {
      name: 'interactiveMode Always is refused at start-up',
      exec: { interactiveMode: 'Always' },
      problem: `user "u": exec plugin ${process.execPath} has interactiveMode Always, but Gatehouse is a server with no terminal to ask anyone in; use a plugin mode that runs unattended (Never or IfAvailable)`,
    },
    { name: 'v1 without interactiveMode is refused, as client-go refuses it', exec: { interactiveMode: undefined }, problem: 'user "u": exec plugin interactiveMode must be set for client.authentication.k8s.io/v1 (Never or IfAvailable)' },
    {
      name: 'v1alpha1 is refused',
      exec: { apiVersion: 'client.authentication.k8s.io/v1alpha1' },
      problem: 'user "u": exec plugin apiVersion "client.authentication.k8s.io/v1alpha1" is not supported (use client.authentication.k8s.io/v1 or client.authentication.k8s.io/v1beta1)',
    },
  ];
  for (const { name, exec, problem } of refusals) {
    test(name, () => {
      const { path, log } = pluginKubeconfig({ exec });
      assert.throws(() => createKubeconfigUpstream({ kubeconfig: path }), (error: unknown) => {
        assert.ok(error instanceof GatehouseConfigError);
        assert.deepEqual(error.problems, [problem]);
        return true;
      });
      assert.equal(runsOf(log).length, 0, 'nothing ran');
    });
  }

  test('a relative command with a slash runs from the kubeconfig\'s folder', async () => {
    copyFileSync(FIXTURE, join(dir, 'plugin.mjs'));
    const { path } = pluginKubeconfig({ exec: { command: './plugin.mjs', args: [] }, tokens: ['relative'] });
    assert.equal((await createKubeconfigUpstream({ kubeconfig: path }).connection()).token, 'relative');
  });
});

describe('upstream exec plugin end to end (real kubectl)', () => {
  let api: FakeApiServer;
  let gatehouse: LocalGatehouse;
  let log: string;

  before(async () => {
    api = await startFakeApiServer();
    api.store.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'plugin-made', namespace: 'default' }, data: { a: '1' } });
    // The first run hands out a token the cluster does not know; every later run the right one.
    const kubeconfig = pluginKubeconfig({ tokens: ['stale-token', api.token], cluster: { server: api.url, 'certificate-authority-data': Buffer.from(api.caPem).toString('base64') } });
    log = kubeconfig.log;
    writeFileSync(join(dir, 'policy.yaml'), 'apiVersion: gatehouse/v1\nrules:\n  - name: everything\n    effect: allow\n    nonResourceURLs: ["*"]\n  - name: every-resource\n    effect: allow\n    resources: ["*"]\n');
    gatehouse = await startLocalGatehouse({ stateDir: join(dir, 'state'), port: 0, upstreamKubeconfig: kubeconfig.path, auth: 'token', policyFile: join(dir, 'policy.yaml') });
  });
  after(async () => {
    await gatehouse?.close();
    await api?.close();
  });

  function kubectl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(kubectlBinary('1.33'), ['--kubeconfig', gatehouse.kubeconfigPath, ...args], { env: { ...process.env, HOME: dir } }, (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
      );
    });
  }

  test('a stale token is answered 401, the plugin runs again, and later calls go through', async () => {
    const first = await kubectl(['get', '--raw', '/api/v1/namespaces/default/configmaps/plugin-made']);
    assert.equal(first.code, 1);
    assert.match(first.stderr, /Unauthorized/);
    assert.deepEqual(api.received.map((r) => r.status), [401], 'the stale token reached the cluster once');
    const second = await kubectl(['get', 'configmap', 'plugin-made', '-o', 'name']);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, 'configmap/plugin-made\n');
    assert.equal(runsOf(log).length, 2, 'one run for the stale token, one after the 401');
    assert.ok(api.received.slice(1).every((r) => r.status !== 401));
  });
});
