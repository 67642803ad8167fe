/**
 * The per-user cap on long streams with REAL kubectl through a local Gatehouse (stream leases
 * in its embedded dynalite) in front of the kube-apiserver stand-in: watches up to the cap run,
 * the next one — and a `logs -f`, an exec — gets the 429 Status with its message (kubectl
 * retries a 429 ten times, Retry-After: 1 apart, then prints it); a watch whose kubectl is
 * ended gives its slot back, and so does an exec tunnel when it closes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RUNNING_POD } from '../support/kubectl-fixtures.ts';
import { installedKubectlVersions, startHarness, type Harness, type RunningKubectl } from '../support/harness.ts';

const NEWEST = installedKubectlVersions().at(-1) ?? 'default';
const OLDEST = installedKubectlVersions()[0] ?? 'default';
const USER = 'you@example.com';
const REFUSAL = new RegExp(
  `^Error from server \\(TooManyRequests\\): user "you@example\\.com" has 2 long streams open \\(watch, logs -f, exec, attach, port-forward\\), ` +
    `the most Gatehouse allows per user \\(2\\); (?<what>[^:]+) was not started: end one of the others and retry`,
  'm',
);

/** Polls until `check` holds; a deadline, not a sleep: the release travels kubectl → Gatehouse → dynalite. */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('the per-user cap on long streams, with kubectl', () => {
  let h: Harness;
  const running: RunningKubectl[] = [];
  const live = async (): Promise<string[]> => ((await h.gatehouse.streams?.live(USER)) ?? []).map((lease) => lease.what).sort();

  before(async () => {
    h = await startHarness({ streams: { maxPerUser: 2 } });
    h.api.store.put(RUNNING_POD);
  });
  after(async () => {
    for (const kubectl of running) await kubectl.stop();
    await h.close();
  });

  test('an exec tunnel gives its slot back when it closes', async () => {
    const result = await h.kubectl(OLDEST, ['exec', 'web', '--', 'echo', 'hello']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'hello\n');
    await until(async () => (await live()).length === 0, 'the exec slot being released');
  });

  test('watches up to the cap run; the next watch, a logs -f and an exec get the 429 message', async () => {
    for (const resource of ['pods', 'services']) {
      const watch = h.startKubectl(NEWEST, ['get', resource, '-w']);
      running.push(watch);
      if (resource === 'pods') await watch.waitFor(/web/);
      await until(async () => (await live()).includes(`watch ${resource} in namespace "default"`), `the ${resource} watch taking its slot`);
    }
    assert.deepEqual(await live(), ['watch pods in namespace "default"', 'watch services in namespace "default"']);

    const watch = await h.kubectl(NEWEST, ['get', 'pods', '-w'], { timeoutMs: 60_000 });
    assert.equal(watch.code, 1, watch.stdout);
    assert.equal(REFUSAL.exec(watch.stderr)?.groups?.['what'], 'watch pods in namespace "default"', watch.stderr);

    const logs = await h.kubectl(NEWEST, ['logs', '-f', 'web'], { timeoutMs: 60_000 });
    assert.equal(logs.code, 1, logs.stdout);
    assert.equal(REFUSAL.exec(logs.stderr)?.groups?.['what'], 'logs -f pod "web" in namespace "default"', logs.stderr);

    const exec = await h.kubectl(OLDEST, ['exec', 'web', '--', 'echo', 'hello'], { timeoutMs: 60_000 });
    assert.notEqual(exec.code, 0);
    assert.equal(exec.stdout, '');
    assert.match(exec.stderr, /user "you@example\.com" has 2 long streams open .* exec pod "web" in namespace "default" was not started/);

    // A plain logs call (no -f) answers and ends: not a long stream, not capped.
    const plainLogs = await h.kubectl(NEWEST, ['logs', 'web']);
    assert.equal(plainLogs.code, 0, plainLogs.stderr);
  });

  test('a watch whose kubectl goes away gives its slot back, and the next watch runs', async () => {
    const first = running.shift();
    assert.ok(first, 'a watch from the test before');
    await first.stop();
    await until(async () => (await live()).length === 1, 'the ended watch releasing its slot');
    const next = h.startKubectl(NEWEST, ['get', 'pods', '-w']);
    running.push(next);
    await next.waitFor(/web/);
    await until(async () => (await live()).length === 2, 'the new watch taking the freed slot');
  });

  test('the refused calls are recorded with their 429', async () => {
    const records = await h.records();
    const refused = records.filter((record) => record.status_code === 429);
    assert.ok(refused.length >= 3, `records of refused streams: ${refused.length}`);
    assert.ok(refused.every((record) => record.error_code === 'ERR_STREAM_LIMIT'));
  });
});
