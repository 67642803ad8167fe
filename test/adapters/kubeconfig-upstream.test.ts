// The kubeconfig upstream adapter: which context, server, CA and credentials it resolves,
// and every way a kubeconfig is refused at start-up (all problems listed at once).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createKubeconfigUpstream } from '../../src/adapters/kubeconfig-upstream.ts';
import { GatehouseConfigError } from '../../src/config-error.ts';
import { resolveKubeconfigPath } from '../../src/kubeconfig.ts';

const CA = '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n';
const CERT = '-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n';
const b64 = (text: string): string => Buffer.from(text).toString('base64');

let dir: string;
let counter = 0;

/** Writes a kubeconfig with one context "dev" (current) built from the given cluster and user. */
function kubeconfig(cluster: Record<string, unknown>, user: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  const path = join(dir, `config-${++counter}`);
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster }],
      users: [{ name: 'u', user }],
      contexts: [
        { name: 'dev', context: { cluster: 'c', user: 'u' } },
        { name: 'other', context: { cluster: 'c', user: 'u', namespace: 'x' } },
      ],
      'current-context': 'dev',
      ...extra,
    }),
  );
  return path;
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-kubeconfig-'));
  mkdirSync(join(dir, 'pki'));
  writeFileSync(join(dir, 'pki', 'ca.crt'), CA);
  writeFileSync(join(dir, 'pki', 'client.crt'), CERT);
  writeFileSync(join(dir, 'pki', 'client.key'), KEY);
  writeFileSync(join(dir, 'token'), 'file-token\n');
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('createKubeconfigUpstream resolves', () => {
  const cases = [
    {
      name: 'server, inline CA and token of the current context',
      cluster: { server: 'https://10.0.0.1:6443', 'certificate-authority-data': b64(CA) },
      user: { token: 'abc' },
      expected: { server: 'https://10.0.0.1:6443/', ca: CA, token: 'abc' },
    },
    {
      name: 'CA, client certificate and key from files relative to the kubeconfig',
      cluster: { server: 'https://k8s.example:443/prefix', 'certificate-authority': 'pki/ca.crt', 'tls-server-name': 'kubernetes' },
      user: { 'client-certificate': 'pki/client.crt', 'client-key': 'pki/client.key' },
      expected: { server: 'https://k8s.example/prefix', ca: CA, cert: CERT, key: KEY, tlsServerName: 'kubernetes' },
    },
    {
      name: 'inline client certificate data',
      cluster: { server: 'https://10.0.0.1' },
      user: { 'client-certificate-data': b64(CERT), 'client-key-data': b64(KEY) },
      expected: { server: 'https://10.0.0.1/', cert: CERT, key: KEY },
    },
    {
      name: 'a token from tokenFile, trimmed',
      cluster: { server: 'https://10.0.0.1' },
      user: { tokenFile: 'token' },
      expected: { server: 'https://10.0.0.1/', token: 'file-token' },
    },
    {
      name: 'plain http to a loopback address (kubectl proxy) without credentials',
      cluster: { server: 'http://127.0.0.1:8001' },
      user: {},
      expected: { server: 'http://127.0.0.1:8001/' },
    },
  ];
  for (const tc of cases) {
    test(tc.name, async () => {
      const connection = await createKubeconfigUpstream({ kubeconfig: kubeconfig(tc.cluster, tc.user) }).connection();
      assert.deepEqual({ ...connection, server: connection.server.href }, tc.expected);
    });
  }

  test('the context named in the options over the current one', async () => {
    const path = kubeconfig({ server: 'https://10.0.0.1' }, { token: 't' }, { 'current-context': 'missing' });
    const upstream = createKubeconfigUpstream({ kubeconfig: path, context: 'other' });
    assert.equal(upstream.description, `context "other" (https://10.0.0.1) from ${path}`);
    assert.equal((await upstream.connection()).token, 't');
  });
});

describe('createKubeconfigUpstream refuses at start-up', () => {
  const cases = [
    {
      name: 'a cluster with insecure-skip-tls-verify',
      cluster: { server: 'https://10.0.0.1', 'insecure-skip-tls-verify': true },
      user: { token: 't' },
      problems: ['cluster "c": insecure-skip-tls-verify is set; Gatehouse only talks to a cluster whose certificate it can verify (give certificate-authority-data)'],
    },
    {
      name: 'an exec credential plugin user without interactiveMode (v1 requires it)',
      cluster: { server: 'https://10.0.0.1' },
      user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'aws' } },
      problems: ['user "u": exec plugin interactiveMode must be set for client.authentication.k8s.io/v1 (Never or IfAvailable)'],
    },
    {
      name: 'an auth-provider user',
      cluster: { server: 'https://10.0.0.1' },
      user: { 'auth-provider': { name: 'oidc' } },
      problems: ['user "u": auth-provider is not supported for the upstream in this version; use a token, tokenFile or client certificate'],
    },
    {
      name: 'plain http to another machine',
      cluster: { server: 'http://10.0.0.1:8080' },
      user: { token: 't' },
      problems: ['cluster "c": server http://10.0.0.1:8080 is plain http to a non-loopback host; credentials and caller identities would travel in clear'],
    },
    {
      name: 'every problem of a broken context at once',
      cluster: { 'certificate-authority': 'pki/nope.crt', 'proxy-url': 'http://proxy:3128' },
      user: { 'client-certificate-data': 'bm90IHBlbQ==', username: 'admin', password: 'secret' },
      problems: [
        'cluster "c": no server',
        'cluster "c": proxy-url is not supported for the upstream',
        `cluster "c": certificate-authority file ${'DIR'}/pki/nope.crt cannot be read: ENOENT`,
        'user "u": basic authentication (username/password) is not supported; use a token or client certificate',
        'user "u": client-certificate-data is not base64 of a PEM block',
      ],
    },
    {
      name: 'a client certificate without its key',
      cluster: { server: 'https://10.0.0.1' },
      user: { 'client-certificate-data': b64(CERT) },
      problems: ['user "u": a client certificate needs both client-certificate and client-key'],
    },
  ];
  for (const tc of cases) {
    test(tc.name, () => {
      const path = kubeconfig(tc.cluster, tc.user);
      assertProblems(() => createKubeconfigUpstream({ kubeconfig: path }), path, tc.problems.map((p) => p.replace('DIR', dir)));
    });
  }

  test('a context that does not exist, naming the ones that do', () => {
    const path = kubeconfig({ server: 'https://10.0.0.1' }, {});
    assertProblems(() => createKubeconfigUpstream({ kubeconfig: path, context: 'prod' }), path, ['context "prod" not found (contexts: "dev", "other")']);
  });

  test('a kubeconfig file that does not exist', () => {
    const path = join(dir, 'absent');
    assertProblems(() => createKubeconfigUpstream({ kubeconfig: path }), path, ['kubeconfig file does not exist']);
  });
});

describe('resolveKubeconfigPath', () => {
  const cases = [
    { name: 'prefers the explicit path', explicit: '/x/config', env: { KUBECONFIG: '/a:/b', HOME: '/home/me' }, expected: '/x/config' },
    { name: 'takes the first entry of $KUBECONFIG', explicit: undefined, env: { KUBECONFIG: ':/a:/b', HOME: '/home/me' }, expected: '/a' },
    { name: 'falls back to ~/.kube/config', explicit: undefined, env: { HOME: '/home/me' }, expected: '/home/me/.kube/config' },
  ];
  for (const tc of cases) {
    test(tc.name, () => assert.equal(resolveKubeconfigPath(tc.explicit, tc.env), tc.expected));
  }
});

function assertProblems(run: () => unknown, source: string, problems: string[]): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof GatehouseConfigError);
    assert.deepEqual(error.problems, problems);
    assert.equal(error.message, `invalid configuration in ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    return true;
  });
}
