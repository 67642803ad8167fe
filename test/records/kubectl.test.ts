/**
 * Session records of REAL kubectl runs through a local Gatehouse (embedded S3 stand-in) in
 * front of the kube-apiserver stand-in: a Secret created with --from-literal (kubectl 1.33
 * sends it as protobuf), read with -o yaml, listed, described and watched, and a denied read.
 * The upstream really holds the value; no record carries it, nor its base64. Each kubectl
 * invocation is one session, and `gatehouse sessions replay` shows it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { SessionRecord } from '../../src/records/schema.ts';
import { RUNNING_POD } from '../support/kubectl-fixtures.ts';
import { installedKubectlVersions, startHarness, type Harness } from '../support/harness.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PLAINTEXT = 'correct-horse-battery-staple';
const BASE64 = Buffer.from(PLAINTEXT).toString('base64');
const ROTATED_BASE64 = Buffer.from('rotated-value-42').toString('base64');
const VERSION = installedKubectlVersions().at(-1) ?? 'default';

describe(`session records of kubectl ${VERSION}`, () => {
  let h: Harness;
  let stateDir: string;
  let records: SessionRecord[] = [];
  const outputs: string[] = [];

  const readRecords = (): Promise<SessionRecord[]> => h.records();

  const ofCommand = (command: string, verb: string): SessionRecord[] =>
    records.filter((r) => (r.kubectl_command ?? '').startsWith(command) && r.verb === verb && r.resource === 'secrets');

  before(async () => {
    h = await startHarness();
    stateDir = join(h.dir, 'state');
    const run = async (args: string[]): Promise<void> => {
      const result = await h.kubectl(VERSION, args);
      outputs.push(result.stdout, result.stderr);
    };
    await run(['create', 'secret', 'generic', 'db-creds', `--from-literal=password=${PLAINTEXT}`]);
    await run(['get', 'secret', 'db-creds', '-o', 'yaml']);
    await run(['get', 'secrets']);
    await run(['describe', 'secret', 'db-creds']);
    await run(['get', 'secrets', '-n', 'kube-system']);
    h.api.store.put(RUNNING_POD);
    await run(['exec', 'web', '--', 'echo', 'hello']);
    const from = h.mark();
    const watch = h.startKubectl(VERSION, ['get', 'secret', 'db-creds', '-w']);
    await watch.waitFor(/db-creds/);
    await until(() => h.receivedSince(from).some((r) => /(^|&)watch=true/.test(r.query)));
    // A change while kubectl watches: the event carries the Secret, new value and all.
    const current = h.api.store.get('secrets', 'default', 'db-creds');
    assert.ok(current);
    h.api.store.put({ ...current, data: { password: BASE64, rotated: ROTATED_BASE64 } });
    await watch.waitFor(/^(?:.*\n){3}/, 15_000); // the header, the Secret, and the change
    const stopped = await watch.stop();
    outputs.push(stopped.stdout, stopped.stderr);
    // The watch's record is written when Gatehouse sees kubectl go; wait for that event, not for time.
    for (;;) {
      records = await readRecords();
      if (records.some((r) => r.verb === 'watch' && r.phase === 'outcome')) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
  });

  after(async () => {
    await h?.close();
  });

  test('the upstream really received the value', () => {
    const stored = h.api.store.get('secrets', 'default', 'db-creds') as { data?: Record<string, string> } | undefined;
    assert.equal(stored?.data?.['password'], BASE64);
  });

  test('no record carries the value or its base64', () => {
    assert.ok(records.length > 0);
    for (const r of records) {
      const text = JSON.stringify(r);
      assert.ok(!text.includes(PLAINTEXT) && !text.includes(BASE64) && !text.includes(ROTATED_BASE64), `record ${r.request_id} (${r.kubectl_command} ${r.verb} ${r.path}) carries the value`);
    }
  });

  test('records the create as an intent, then its outcome, with the key but not the value', () => {
    const create = ofCommand('kubectl create', 'create');
    assert.deepEqual(create.map((r) => r.phase).sort(), ['intent', 'outcome']);
    const [first, second] = create;
    assert.equal(first?.request_id, second?.request_id);
    const outcome = create.find((r) => r.phase === 'outcome');
    assert.equal(outcome?.status_code, 201);
    assert.equal(outcome?.decision, 'allow');
    assert.equal(outcome?.policy_rule, 'ordinary-writes');
    assert.equal(outcome?.user_name, h.user);
    assert.equal(outcome?.masked, true);
    assert.match(outcome?.request_body ?? '', /password/, 'the key is recorded');
    assert.ok((outcome?.request_body_bytes ?? 0) > 0);
  });

  test('records the reads with their kubectl command and session', () => {
    const gets = ofCommand('kubectl get', 'get');
    assert.equal(gets.length, 2, 'get -o yaml, and the get before the watch');
    for (const get of gets) {
      assert.equal(get.object_name, 'db-creds');
      assert.match(get.kubectl_session ?? '', /^[0-9a-f-]{36}$/);
    }
    const yaml = gets.find((get) => get.response_content_type === 'application/json');
    assert.equal(yaml?.masked, true, 'get -o yaml received the Secret object, masked');
    assert.match(yaml?.response_body ?? '', /"data":\{"password":"[^"]+"\}/, 'its recorded response keeps the key, masked');
    assert.notEqual(gets[0]?.kubectl_session, gets[1]?.kubectl_session, 'each kubectl run is its own session');
    assert.ok(ofCommand('kubectl get', 'list').some((r) => r.namespace === 'default' && r.status_code === 200));
    assert.ok(ofCommand('kubectl describe', 'get').some((r) => r.object_name === 'db-creds'));
  });

  test('records the denied read with its rule', () => {
    const denied = ofCommand('kubectl get', 'list').find((r) => r.namespace === 'kube-system');
    assert.equal(denied?.decision, 'deny');
    assert.equal(denied?.policy_rule, 'no-system-secrets');
    assert.equal(denied?.status_code, 403);
    assert.equal(denied?.error_code, 'ERR_POLICY_DENIED');
  });

  test('records the watch when kubectl stops it', () => {
    const watch = records.find((r) => r.verb === 'watch' && r.phase === 'outcome');
    assert.equal(watch?.stream_end, 'client_gone');
    assert.equal(watch?.object_name, 'db-creds');
    assert.ok((watch?.response_body_bytes ?? 0) > 0);
    assert.equal(watch?.masked, true);
    // kubectl -w watches Table rows: the first event and the change, as kubectl received them.
    assert.match(watch?.response_body ?? '', /^\{"type":"ADDED","object":\{"kind":"Table".*\n\{"type":"MODIFIED","object":\{"kind":"Table"/s);
  });

  test('records an exec as an intent before the tunnel opens, then its upgraded outcome', () => {
    const exec = records.filter((r) => r.subresource === 'exec');
    assert.deepEqual(exec.map((r) => r.phase).sort(), ['intent', 'outcome']);
    const outcome = exec.find((r) => r.phase === 'outcome');
    assert.equal(outcome?.verb, 'create');
    assert.equal(outcome?.method, 'GET');
    assert.equal(outcome?.object_name, 'web');
    assert.match(outcome?.query ?? '', /command=echo&command=hello/);
    assert.equal(outcome?.status_code, 101);
    assert.equal(outcome?.upstream_status, 101);
    assert.equal(outcome?.stream_end, 'upgraded');
  });

  test('gatehouse sessions replay shows the create session from the local records', () => {
    const session = ofCommand('kubectl create', 'create')[0]?.kubectl_session;
    assert.ok(session);
    const result = spawnSync(process.execPath, [join(ROOT, 'bin/gatehouse.mjs'), 'sessions', 'replay', session, '--local', stateDir], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^session ${session}: ${h.user.replace(/[.]/g, '\\.')} \\(`));
    assert.match(result.stdout, /\n\$ kubectl create secret generic\n/);
    assert.match(result.stdout, /create secrets -n default\n {6}decision: allow \(ordinary-writes\)\n {6}response: 201 Secret default\/db-creds\n/);
    assert.ok(!result.stdout.includes(BASE64));
  });
});

/** Waits for something the event loop brings about (a request reaching the stand-in), not for time. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}
