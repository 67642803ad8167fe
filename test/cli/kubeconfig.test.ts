// `gatehouse kubeconfig` (the built CLI): one context for a single-cluster Gatehouse, one per
// cluster with --cluster (server <url>/clusters/<name>), other entries kept, the first current.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { runProcess } from '../support/run-process.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COMMON = ['--issuer', 'https://idp.example.com', '--client-id', 'kubectl', '--exec-command', '/usr/bin/gatehouse'];

interface Written {
  clusters: { name: string; cluster: { server: string } }[];
  users: { name: string; user: { exec: { command: string; args: string[] } } }[];
  contexts: { name: string; context: { cluster: string; user: string } }[];
  'current-context': string;
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-kubeconfig-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function kubeconfig(file: string, args: string[]): Promise<{ code: number | null; stderr: string; written: Written | undefined }> {
  const result = await runProcess(process.execPath, ['bin/gatehouse.mjs', 'kubeconfig', ...COMMON, '--kubeconfig', file, ...args], { cwd: ROOT, env: { HOME: dir, PATH: process.env.PATH ?? '' } });
  let written: Written | undefined;
  try {
    written = parse(readFileSync(file, 'utf8')) as Written;
  } catch {
    written = undefined;
  }
  return { code: result.code, stderr: result.stderr, written };
}

describe('gatehouse kubeconfig', () => {
  test('a single-cluster Gatehouse gets one context at its URL', async () => {
    const file = join(dir, 'single');
    const { code, stderr, written } = await kubeconfig(file, ['--server', 'https://gatehouse.example/']);
    assert.equal(code, 0, stderr);
    assert.deepEqual(written?.clusters.map((c) => [c.name, c.cluster.server]), [['gatehouse', 'https://gatehouse.example']]);
    assert.equal(written?.['current-context'], 'gatehouse');
  });

  test('--cluster writes one context per cluster under /clusters/<name>, keeps other entries, and makes the first current', async () => {
    const file = join(dir, 'several');
    writeFileSync(file, stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'kind', cluster: { server: 'https://127.0.0.1:6443' } }], users: [{ name: 'kind', user: { token: 't' } }], contexts: [{ name: 'kind', context: { cluster: 'kind', user: 'kind' } }], 'current-context': 'kind' }));
    const { code, stderr, written } = await kubeconfig(file, ['--server', 'https://abc.lambda-url.eu-west-1.on.aws/', '--name', 'acme', '--cluster', 'dev', '--cluster', 'prod']);
    assert.equal(code, 0, stderr);
    assert.deepEqual(written?.clusters.map((c) => [c.name, c.cluster.server]), [
      ['kind', 'https://127.0.0.1:6443'],
      ['acme-dev', 'https://abc.lambda-url.eu-west-1.on.aws/clusters/dev'],
      ['acme-prod', 'https://abc.lambda-url.eu-west-1.on.aws/clusters/prod'],
    ]);
    assert.deepEqual(written?.contexts.map((c) => [c.name, c.context.cluster, c.context.user]), [
      ['kind', 'kind', 'kind'],
      ['acme-dev', 'acme-dev', 'acme-dev'],
      ['acme-prod', 'acme-prod', 'acme-prod'],
    ]);
    // Every context signs in the same way (one token cache): the same exec, ending in the plugin's own command line.
    const execs = written?.users.filter((u) => u.name.startsWith('acme-')).map((u) => u.user.exec);
    assert.equal(execs?.length, 2);
    assert.deepEqual(execs?.[0], execs?.[1]);
    assert.deepEqual(execs?.[0]?.args.slice(-8), ['/usr/bin/gatehouse', 'credential', '--issuer', 'https://idp.example.com', '--client-id', 'kubectl', '--config-dir', join(dir, '.config', 'gatehouse')]);
    assert.equal(written?.['current-context'], 'acme-dev');
    assert.match(stderr, /Context "acme-dev" for https:\/\/abc\.lambda-url\.eu-west-1\.on\.aws\/clusters\/dev written to .*\nContext "acme-prod" for https:\/\/abc\.lambda-url\.eu-west-1\.on\.aws\/clusters\/prod written to .*; "acme-dev" made current\.\nTry: kubectl --context acme-dev get namespaces\n/);
  });

  const refused = [
    { name: 'refuses a cluster name that is not one (a path trick)', args: ['--cluster', '../prod'], stderr: /not a cluster name \(letters, digits, "-" and "_"\): "\.\.\/prod"/ },
    { name: 'refuses a cluster given twice', args: ['--cluster', 'dev', '--cluster', 'dev'], stderr: /--cluster dev is given twice/ },
  ];
  for (const { name, args, stderr } of refused) {
    test(name, async () => {
      const file = join(dir, `refused-${name.length}`);
      const result = await kubeconfig(file, ['--server', 'https://gatehouse.example', ...args]);
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, stderr);
      assert.equal(result.written, undefined, 'nothing was written');
    });
  }
});
