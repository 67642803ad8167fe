/**
 * End to end: the REAL kubectl (oldest, middle and newest installed) writes back what Gatehouse showed
 * it — placeholders where values were masked — and the values survive: Gatehouse restores
 * them from the live object (read as the caller) and conditions the write on its
 * resourceVersion. Each case checks what kubectl printed, that no value reached its output,
 * and what the kube-apiserver stand-in really holds afterwards.
 */
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { LAST_APPLIED } from '../../src/masking/mask-document.ts';
import { placeholderBase64, placeholderText } from '../../src/masking/placeholder.ts';
import type { KubeObject } from '../stand-in/store.ts';
import { ALLOW_ALL_POLICY } from './fixtures/policies.ts';
import { installedKubectlVersions, startHarness, type Harness } from '../support/harness.ts';

const PASSWORD = 'correct-horse-battery-staple';
const API_KEY = 'ak_live_5f2d8c1e9b7a4630';
const TOKEN = 'tok_0123456789abcdef0123';
const SAME_SIZE = 'another-horse-battery-stap!'; // as long as PASSWORD: the same placeholder
const VALUES = [PASSWORD, API_KEY, TOKEN, SAME_SIZE];
const b64 = (text: string): string => Buffer.from(text).toString('base64');

const POLICY = `${ALLOW_ALL_POLICY}masking:
  - name: tokens-in-env
    envNames: ["*_TOKEN"]
`;

function assertNoValue(text: string, where: string): void {
  for (const value of VALUES) {
    assert.ok(!text.includes(value), `${where} shows ${value}`);
    assert.ok(!text.includes(b64(value)), `${where} shows ${value} in base64`);
  }
}

function secretManifest(name: string, data: Record<string, string>, labels?: Record<string, string>): string {
  return toYaml({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'default', ...(labels ? { labels } : {}) }, type: 'Opaque', data });
}

function deploymentManifest(name: string, token: string, replicas = 1): string {
  return toYaml({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default' },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'web', image: 'nginx:1.27', env: [{ name: 'LOG_LEVEL', value: 'info' }, { name: 'API_TOKEN', value: token }] }] },
      },
    },
  });
}

/** A manifest as someone keeps it: what `get -o yaml` showed, without the fields the server sets. */
function asManifest(shown: string): string {
  const object = parseYaml(shown) as KubeObject;
  const { resourceVersion: _rv, uid: _uid, creationTimestamp: _ct, managedFields: _mf, generation: _g, annotations, ...metadata } = object.metadata as Record<string, unknown>;
  const { [LAST_APPLIED]: _lastApplied, ...kept } = (annotations ?? {}) as Record<string, string>;
  const { status: _status, ...rest } = object as Record<string, unknown>;
  return toYaml({ ...rest, metadata: Object.keys(kept).length === 0 ? metadata : { ...metadata, annotations: kept } });
}

function lastApplied(object: KubeObject | undefined): Record<string, unknown> {
  const text = object?.metadata.annotations?.[LAST_APPLIED];
  assert.equal(typeof text, 'string', 'the object carries a last-applied annotation');
  return JSON.parse(text as string) as Record<string, unknown>;
}

/** The oldest, the middle and the newest installed kubectl (1.27, 1.30, 1.33 here): apply and edit changed between them. */
function versionsUnderTest(): string[] {
  const installed = installedKubectlVersions();
  return [...new Set([installed[0], installed[Math.floor(installed.length / 2)], installed[installed.length - 1]])].filter((v): v is string => v !== undefined);
}

for (const version of versionsUnderTest()) {
  describe(`kubectl ${version}: writing back what Gatehouse showed keeps the values`, () => {
    let h: Harness;
    const secret = (name: string): KubeObject | undefined => h.api.store.get('secrets', 'default', name);
    const run = async (args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> => {
      const result = await h.kubectl(version, args, options);
      assertNoValue(result.stdout, `kubectl ${args.join(' ')}`);
      assertNoValue(result.stderr, `kubectl ${args.join(' ')} (stderr)`);
      return result;
    };

    before(async () => {
      h = await startHarness({ policy: POLICY });
    });
    after(async () => {
      await h?.close();
    });

    test('kubectl edit secret changing only a label keeps every value', async () => {
      let r = await run(['apply', '-f', '-'], { input: secretManifest('edited', { password: b64(PASSWORD), 'api-key': b64(API_KEY) }) });
      assert.equal(r.code, 0, r.stderr);
      const editor = (name: string, sed: string): string => {
        const path = join(h.dir, `${name}-${version}.sh`);
        writeFileSync(path, `#!/bin/sh\nsed -i '${sed}' "$1"\n`);
        chmodSync(path, 0o755);
        return path;
      };
      // The second edit also rewrites the last-applied annotation from the edited object, placeholders and all.
      const edits: [string, string[]][] = [
        [editor('add-label', 's/^metadata:$/metadata:\\n  labels:\\n    edited: "yes"/'), []],
        [editor('change-label', 's/edited: "yes"/edited: "again"/'), ['--save-config']],
      ];
      for (const [script, extra] of edits) {
        r = await run(['edit', 'secret', 'edited', ...extra], { env: { EDITOR: script } });
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /secret\/edited edited/);
      }
      const stored = secret('edited');
      assert.deepEqual(stored?.metadata.labels, { edited: 'again' });
      assert.deepEqual(stored?.['data'], { password: b64(PASSWORD), 'api-key': b64(API_KEY) });
      // --save-config wrote the edited object (placeholders and all) into the annotation: restored there too.
      assert.deepEqual(lastApplied(stored)['data'], { password: b64(PASSWORD), 'api-key': b64(API_KEY) });
    });

    test('get -o yaml | replace -f - and get -o yaml | apply -f - round-trip', async () => {
      h.api.store.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'round-trip', namespace: 'default' }, type: 'Opaque', data: { password: b64(PASSWORD) } });
      for (const command of ['replace', 'apply']) {
        const shown = await run(['get', 'secret', 'round-trip', '-o', 'yaml']);
        assert.equal(shown.code, 0, shown.stderr);
        assert.match(shown.stdout, new RegExp(placeholderBase64(PASSWORD.length).replace(/[+=]/g, '\\$&')));
        const r = await run([command, '-f', '-'], { input: shown.stdout });
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /secret\/round-trip (replaced|configured)/);
        assert.deepEqual(secret('round-trip')?.['data'], { password: b64(PASSWORD) }, `after ${command}`);
      }
      assert.deepEqual(lastApplied(secret('round-trip'))['data'], { password: b64(PASSWORD) }, 'the annotation apply wrote holds the value, not the placeholder');
    });

    test('repeated client-side apply of an unchanged manifest with placeholders says unchanged', async () => {
      // `<`, `>` and `&` in the object: kubectl writes them escaped (as Go does) into the annotation, and so must Gatehouse.
      const annotations = { note: 'rotate <monthly> & on leaks' };
      h.api.store.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'kept', namespace: 'default', annotations }, type: 'Opaque', data: { password: b64(PASSWORD), token: b64(TOKEN) } });
      const manifest = asManifest((await run(['get', 'secret', 'kept', '-o', 'yaml'])).stdout);
      let r = await run(['apply', '-f', '-'], { input: manifest });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /secret\/kept configured/, 'the first apply writes the annotation');
      for (const round of [2, 3]) {
        r = await run(['apply', '-f', '-'], { input: manifest });
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /secret\/kept unchanged/, `apply #${round}`);
      }
      assert.deepEqual(secret('kept')?.['data'], { password: b64(PASSWORD), token: b64(TOKEN) });
      assert.equal(secret('kept')?.metadata.annotations?.['note'], annotations.note);
    });

    test('a manifest holding the real values applies again as configured, values as they were (kubectl cannot see them to compare)', async () => {
      const manifest = secretManifest('real-values', { password: b64(PASSWORD) });
      for (const expected of [/created/, /configured/]) {
        const r = await run(['apply', '-f', '-'], { input: manifest });
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, expected);
      }
      assert.deepEqual(secret('real-values')?.['data'], { password: b64(PASSWORD) });
    });

    test('moving from client-side to server-side apply migrates without a warning', async () => {
      const manifest = secretManifest('migrated', { password: b64(PASSWORD) });
      let r = await run(['apply', '-f', '-'], { input: manifest });
      assert.equal(r.code, 0, r.stderr);
      const from = h.mark();
      for (let round = 0; round < 2; round += 1) {
        r = await run(['apply', '--server-side', '-f', '-'], { input: manifest });
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /secret\/migrated serverside-applied/);
        assert.doesNotMatch(r.stderr, /Warning|placeholder/);
      }
      const migration = h.receivedSince(from).filter((request) => request.method === 'PATCH' && /fieldManager=kubectl-last-applied/.test(request.query));
      assert.ok(migration.length > 0, 'kubectl sent its last-applied migration patch');
      for (const request of migration) {
        assert.equal(request.status, 200);
        const body = JSON.parse(request.body) as KubeObject;
        assert.match(String(body.metadata.resourceVersion), /^\d+$/, 'the restored write is conditioned on the live resourceVersion');
      }
      const stored = secret('migrated');
      assert.deepEqual(stored?.['data'], { password: b64(PASSWORD) });
      assert.deepEqual(lastApplied(stored)['data'], { password: b64(PASSWORD) });
    });

    test('a Deployment whose env a masking rule names applies, round-trips, migrates and takes set env cleanly', async () => {
      const name = 'api';
      let r = await run(['apply', '-f', '-'], { input: deploymentManifest(name, TOKEN) });
      assert.equal(r.code, 0, r.stderr);
      const shown = await run(['get', 'deployment', name, '-o', 'yaml']);
      assert.ok(shown.stdout.includes(placeholderText(TOKEN.length)), 'the env value is shown masked');
      r = await run(['apply', '-f', '-'], { input: asManifest(shown.stdout).replace('replicas: 1', 'replicas: 3') });
      assert.equal(r.code, 0, r.stderr);
      r = await run(['apply', '--server-side', '-f', '-'], { input: deploymentManifest(name, TOKEN, 3) });
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /Warning/);
      r = await run(['set', 'env', `deployment/${name}`, 'LOG_LEVEL=debug']);
      assert.equal(r.code, 0, r.stderr);
      r = await run(['set', 'env', `deployment/${name}`, 'LOG_LEVEL=info']);
      assert.equal(r.code, 0, r.stderr);
      const stored = h.api.store.get('deployments', 'default', name) as { spec: { replicas: number; template: { spec: { containers: { env: unknown[] }[] } } } } & KubeObject;
      assert.equal(stored.spec.replicas, 3);
      assert.deepEqual(stored.spec.template.spec.containers[0]?.env, [{ name: 'LOG_LEVEL', value: 'info' }, { name: 'API_TOKEN', value: TOKEN }]);
      const applied = lastApplied(stored) as { spec: { template: { spec: { containers: { env: unknown[] }[] } } } };
      assert.deepEqual(applied.spec.template.spec.containers[0]?.env, [{ name: 'LOG_LEVEL', value: 'info' }, { name: 'API_TOKEN', value: TOKEN }]);
    });

    test('kubectl diff shows masked fields as placeholders: a change within a size class is not visible, other changes are', async () => {
      h.api.store.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'diffed', namespace: 'default' }, type: 'Opaque', data: { password: b64(PASSWORD) } });
      const r = await run(['diff', '-f', '-'], { input: secretManifest('diffed', { password: b64(SAME_SIZE) }, { team: 'payments' }) });
      assert.equal(r.code, 1, `diff exits 1 when something differs: ${r.stderr}`);
      assert.match(r.stdout, /^\+\s+team: payments$/m);
      assert.doesNotMatch(r.stdout, /^[-+]\s+password:/m, 'the value line is the same placeholder on both sides');
      assert.deepEqual(secret('diffed')?.['data'], { password: b64(PASSWORD) }, 'diff changed nothing');
      // A manifest holding the placeholders it was shown: kubectl computes its dry-run patch
      // against the live object as it read it (masked), so matching placeholders patch nothing.
      const shown = asManifest((await run(['get', 'secret', 'diffed', '-o', 'yaml'])).stdout);
      const from = h.mark();
      const clean = await run(['diff', '-f', '-'], { input: shown });
      assert.ok(clean.code === 0 || clean.code === 1, clean.stderr);
      assert.doesNotMatch(clean.stdout, /^[-+]\s+password:/m, 'the value line is the same on both sides');
      const dryRun = h.receivedSince(from).find((r) => r.method === 'PATCH' && /dryRun=All/.test(r.query));
      assert.equal(dryRun?.status, 200, 'the dry run reached the cluster');
      assert.ok(!dryRun.body.includes('password'), 'and changed no value');
    });

    test('kubectl diff of an env-masked Deployment: a value within its size class is invisible, one that changes class shows as placeholders', async () => {
      let r = await run(['apply', '-f', '-'], { input: deploymentManifest('diffed-api', TOKEN) });
      assert.equal(r.code, 0, r.stderr);
      const sameClass = 'tok_fedcba9876543210fedc'; // as long as TOKEN
      r = await run(['diff', '-f', '-'], { input: deploymentManifest('diffed-api', sameClass, 2) });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stdout, /^-\s+replicas: 1$/m);
      assert.match(r.stdout, /^\+\s+replicas: 2$/m);
      assert.doesNotMatch(r.stdout, /^[-+]\s+value: '\*\*\*masked/m);
      assert.ok(!r.stdout.includes(sameClass));
      r = await run(['diff', '-f', '-'], { input: deploymentManifest('diffed-api', 'short') });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stdout, new RegExp(`^-\\s+value: '\\*\\*\\*masked \\(${placeholderText(TOKEN.length).slice(11, -4)}\\)\\*\\*\\*'$`, 'm'));
      assert.match(r.stdout, /^\+\s+value: '\*\*\*masked \(1-15 bytes\)\*\*\*'$/m);
      assert.ok(!r.stdout.includes('short'), 'the new value is masked in the dry run’s answer too');
    });

    test('a placeholder that is not the live value is refused, naming the field; nothing changes', async () => {
      h.api.store.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'source', namespace: 'default' }, type: 'Opaque', data: { password: b64(PASSWORD) } });
      h.api.store.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'short', namespace: 'default' }, type: 'Opaque', data: { password: b64('short') } });
      const shown = asManifest((await run(['get', 'secret', 'source', '-o', 'yaml'])).stdout);
      let r = await run(['apply', '-f', '-'], { input: shown.replace('name: source', 'name: short') });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Error from server \(BadRequest\)[\s\S]*may not patch secrets "short" in namespace "default" with a masked placeholder \("\*\*\*masked \(…\)\*\*\*"\) at data\.password, metadata\.annotations\[kubectl\.kubernetes\.io\/last-applied-configuration\]\.data\.password: it is not what masking shows for the live value there/);
      assert.deepEqual(secret('short')?.['data'], { password: b64('short') });
      r = await run(['create', '-f', '-'], { input: shown.replace('name: source', 'name: copied') });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /may not create secrets in namespace "default" with a masked placeholder \("\*\*\*masked \(…\)\*\*\*"\) at data\.password: a create has no live object whose value it could keep/);
      assert.equal(secret('copied'), undefined);
    });

    test('patch --type json copying a Secret value to an annotation is refused (it would show there)', async () => {
      h.api.store.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'copy-source', namespace: 'default' }, type: 'Opaque', data: { password: b64(PASSWORD) } });
      const r = await run(['patch', 'secret', 'copy-source', '--type', 'json', '-p', JSON.stringify([{ op: 'copy', from: '/data/password', path: '/metadata/annotations/leak' }])]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Error from server \(Forbidden\): .*may not patch secrets "copy-source" in namespace "default" with JSON Patch copy, move or test operations that read values: operation 0 \(copy from \/data\/password\) would read a masked value/);
      assert.equal(secret('copy-source')?.metadata.annotations, undefined);
    });

    test('a change made between Gatehouse reading the live object and the write fails with 409, the change kept', async () => {
      h.api.store.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'raced', namespace: 'default' }, type: 'Opaque', data: { password: b64(PASSWORD) } });
      // Another writer changes the Secret right after Gatehouse's own read of it (the GET with
      // no User-Agent; kubectl's carry one) is answered.
      const store = h.api.store;
      const read = store.read.bind(store);
      let raced = false;
      store.read = (type, namespace, name) => {
        const found = read(type, namespace, name);
        const last = h.api.received.at(-1);
        if (!raced && name === 'raced' && last?.method === 'GET' && last.user === h.user && last.headers['user-agent'] === undefined) {
          raced = true;
          const copy = structuredClone(found) as KubeObject;
          store.put({ ...copy, data: { password: b64(SAME_SIZE) } });
        }
        return found;
      };
      try {
        const r = await run(['patch', 'secret', 'raced', '--type', 'merge', '-p', JSON.stringify({ metadata: { labels: { x: 'y' } }, data: { password: placeholderBase64(PASSWORD.length) } })]);
        assert.equal(raced, true, 'the concurrent change happened');
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /Error from server \(Conflict\).*the object has been modified/);
      } finally {
        store.read = read;
      }
      assert.deepEqual(secret('raced')?.['data'], { password: b64(SAME_SIZE) });
      assert.equal(secret('raced')?.metadata.labels, undefined);
    });
  });
}
