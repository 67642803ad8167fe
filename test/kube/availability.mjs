/**
 * Is a real kube-apiserver available to the tests, and if not, why not?
 *
 * Used by test/run.mjs before the test files start (so a first build — tens of minutes — never
 * runs inside a test's time limit) and by test/kube/cluster.ts inside the test processes.
 *
 * - `CI=true` (the CI machine sets it): the real-server tests MUST run. No Go, a failed build
 *   or `GATEHOUSE_REAL_KUBE=skip` fail the run with the reason.
 * - elsewhere: with Go, the binaries are built once into the cache (test/kube/build.sh);
 *   without Go (or with `GATEHOUSE_REAL_KUBE=skip`), the real-server tests are reported as
 *   NOT RUN, with the reason, in every test name and at the end of the run.
 *
 * The answer travels to the test processes in the environment: GATEHOUSE_KUBE_BIN (the folder
 * holding kube-apiserver and etcd) or GATEHOUSE_KUBE_UNAVAILABLE (the reason).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BUILD_SCRIPT = fileURLToPath(new URL('./build.sh', import.meta.url));
const CLUSTER_MODULE = /from ['"][./]*(?:kube\/|\.\/)cluster(?:\.ts)?['"]/;

/** True when the CI machine runs the tests: the real-server part must then run. */
export function realServerRequired(env = process.env) {
  return env.CI === 'true' || env.CI === '1';
}

/** Test files that start a real cluster (they import test/kube/cluster.ts). */
export function usesRealCluster(file) {
  return CLUSTER_MODULE.test(readFileSync(file, 'utf8'));
}

function goInstalled() {
  return spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Builds (or finds cached) kube-apiserver + etcd. Returns `{ bin }` or `{ reason }`; in CI a
 * reason is an error the caller must fail the run with.
 */
export function prepareRealServer(env = process.env) {
  if (env.GATEHOUSE_KUBE_BIN) {
    const bin = env.GATEHOUSE_KUBE_BIN;
    if (existsSync(join(bin, 'kube-apiserver')) && existsSync(join(bin, 'etcd'))) return { bin };
    return { reason: `GATEHOUSE_KUBE_BIN=${bin} holds no kube-apiserver and etcd` };
  }
  if (env.GATEHOUSE_REAL_KUBE === 'skip') return { reason: 'GATEHOUSE_REAL_KUBE=skip was set' };
  const started = Date.now();
  // Cached binaries need no Go. The build's progress goes to stderr; the script prints the bin folder on stdout.
  const go = goInstalled();
  const result = spawnSync('bash', [BUILD_SCRIPT], { stdio: ['ignore', 'pipe', go ? 'inherit' : 'pipe'], encoding: 'utf8', env });
  if (!go && result.status !== 0) return { reason: 'Go is not installed, so no kube-apiserver can be built (test/kube/build.sh needs Go and the Go module proxy)' };
  if (result.status !== 0) return { reason: `test/kube/build.sh failed (exit ${result.status ?? result.signal}); its output is above` };
  const bin = result.stdout.trim().split('\n').at(-1) ?? '';
  const seconds = Math.round((Date.now() - started) / 1000);
  if (seconds > 5) console.error(`real kube-apiserver: built in ${seconds} s into ${bin}`);
  return { bin };
}

/**
 * For test/run.mjs: when any of `files` starts a real cluster, prepares the binaries and returns
 * the environment for the test processes and a notice to print (before and after the run) when
 * the real-server tests will not run. In CI it exits the run with the reason instead.
 */
export function realServerForRun(files) {
  if (!files.some(usesRealCluster)) return { env: {}, notice: undefined };
  const real = prepareRealServer();
  if (real.bin !== undefined) return { env: { GATEHOUSE_KUBE_BIN: real.bin }, notice: undefined };
  if (realServerRequired()) {
    console.error(`\nFAILED: the real kube-apiserver tests must run in CI (CI=${process.env.CI}), but cannot: ${real.reason}\n`);
    process.exit(1);
  }
  const notice = `\n*** The real kube-apiserver tests were NOT RUN: ${real.reason}. Only the stand-in was tested (see docs/testing.md). ***\n`;
  return { env: { GATEHOUSE_KUBE_UNAVAILABLE: real.reason }, notice };
}
