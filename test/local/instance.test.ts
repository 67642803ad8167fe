// One local Gatehouse per state folder, and never its own upstream: the lock file (a running
// holder refused with its PID and URL, a stale one taken over, released on close), and the
// three ways an upstream can be Gatehouse itself (its users' kubeconfig, a kubeconfig trusting
// its local CA, its own address).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatehouseConfigError } from '../../src/config-error.ts';
import { userKubeconfig, writeKubeconfig } from '../../src/kubeconfig.ts';
import { acquireInstanceLock, INSTANCE_FILE, InstanceRunningError } from '../../src/local/instance-lock.ts';
import { refuseSelfUpstream } from '../../src/local/self-upstream.ts';

const OWN_CA = '-----BEGIN CERTIFICATE-----\nOWN\n-----END CERTIFICATE-----\n';
const OTHER_CA = '-----BEGIN CERTIFICATE-----\nOTHER\n-----END CERTIFICATE-----\n';
let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-instance-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('the state folder lock', () => {
  test('a second start in this process is refused, naming the holder; after release it is free again', () => {
    const state = mkdtempSync(join(dir, 'same-'));
    const lock = acquireInstanceLock(state);
    lock.setUrl('https://127.0.0.1:8443');
    assert.throws(() => acquireInstanceLock(state), (error: unknown) => {
      assert.ok(error instanceof InstanceRunningError);
      assert.equal(
        error.message,
        `Gatehouse is already running from the state folder ${state} (PID ${process.pid}, https://127.0.0.1:8443); stop it first (Ctrl-C in its terminal, or kill ${process.pid}), or start this one with another --state-dir`,
      );
      return true;
    });
    lock.release();
    assert.equal(existsSync(join(state, INSTANCE_FILE)), false);
    acquireInstanceLock(state).release();
  });

  test('a running process named in the file holds the folder', async () => {
    const state = mkdtempSync(join(dir, 'other-'));
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    try {
      writeFileSync(join(state, INSTANCE_FILE), JSON.stringify({ pid: sleeper.pid, url: '', startedAt: '' }));
      assert.throws(() => acquireInstanceLock(state), { name: 'InstanceRunningError', message: new RegExp(`\\(PID ${sleeper.pid}, still starting\\)`) });
    } finally {
      sleeper.kill('SIGKILL');
      await new Promise((resolve) => sleeper.once('exit', resolve));
    }
    // Gone now: its file is stale and taken over.
    const lock = acquireInstanceLock(state);
    assert.equal((JSON.parse(readFileSync(join(state, INSTANCE_FILE), 'utf8')) as { pid: number }).pid, process.pid);
    lock.release();
  });

  test('an unreadable file is taken over', () => {
    const state = mkdtempSync(join(dir, 'garbage-'));
    writeFileSync(join(state, INSTANCE_FILE), 'not json');
    acquireInstanceLock(state).release();
  });
});

describe('an upstream that is Gatehouse itself', () => {
  const own = (): string => join(dir, 'own-kubeconfig');
  const kubeconfigFor = (name: string, server: string, ca: string): string => {
    const path = join(dir, name);
    writeKubeconfig(path, userKubeconfig({ server, caPem: ca, auth: { kind: 'token', token: 't' } }));
    return path;
  };
  const cases = [
    { name: 'its own users\' kubeconfig', kubeconfig: own, problem: /^the upstream kubeconfig is this Gatehouse's own kubeconfig for its users: Gatehouse would forward every call to itself/ },
    { name: 'a copy trusting its local CA', kubeconfig: () => kubeconfigFor('copy', 'https://127.0.0.1:9443', OWN_CA), problem: /^context "gatehouse" trusts this Gatehouse's own local CA, so it is a kubeconfig for this Gatehouse/ },
    { name: 'a server at its own address', kubeconfig: () => kubeconfigFor('address', 'https://localhost:8443', OTHER_CA), problem: /^context "gatehouse" names https:\/\/localhost:8443, this Gatehouse's own address/ },
  ];
  for (const { name, kubeconfig, problem } of cases) {
    test(`refuses ${name}`, () => {
      writeKubeconfig(own(), userKubeconfig({ server: 'https://127.0.0.1:8443', caPem: OWN_CA, auth: { kind: 'token', token: 't' } }));
      assert.throws(() => refuseSelfUpstream({ kubeconfig: kubeconfig(), context: undefined, ownKubeconfig: own(), ownCaPem: OWN_CA, ownUrls: ['https://127.0.0.1:8443'] }), (error: unknown) => {
        assert.ok(error instanceof GatehouseConfigError);
        assert.match(error.problems[0] ?? '', problem);
        return true;
      });
    });
  }

  test('a real cluster passes', () => {
    refuseSelfUpstream({ kubeconfig: kubeconfigFor('cluster', 'https://10.0.0.1:6443', OTHER_CA), context: undefined, ownKubeconfig: own(), ownCaPem: OWN_CA, ownUrls: ['https://127.0.0.1:8443'] });
  });
});
