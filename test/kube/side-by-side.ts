/**
 * The same kubectl command twice against the real kube-apiserver: once through Gatehouse,
 * once directly as admin with `--as`/`--as-group`/`--as-uid` for the same caller, each in a
 * namespace of its own (so commands that change things change the same things on both
 * sides). The outputs must be equal after normalising what differs between any two runs
 * (namespace names, timestamps, ages, resourceVersions, uids, generated names, table padding) — or differ
 * exactly as the case says Gatehouse makes them differ.
 */
import assert from 'node:assert/strict';
import type { GatehouseFront, KubectlResult } from '../support/harness.ts';
import type { RealCluster } from './cluster.ts';

export interface Side {
  namespace: string;
  run(args: string[], input?: string): Promise<KubectlResult>;
  start(args: string[]): ReturnType<GatehouseFront['startKubectl']>;
}

export interface SidePair {
  gatehouse: Side;
  direct: Side;
}

/** What Gatehouse changes in the direct output, stated by the case. */
export interface ExpectedDifference {
  why: string;
  /** The direct result → what Gatehouse must print instead. */
  apply(direct: KubectlResult): KubectlResult;
}

export interface SideBySideCase {
  name: string;
  /** kubectl arguments; `-n <namespace of the side>` is added. */
  args: string[];
  input?: string;
  differs?: ExpectedDifference;
}

/** The two sides for one kubectl version: `gh-<v>` through Gatehouse, `direct-<v>` as admin impersonating the same caller. */
export function sidePair(front: GatehouseFront, cluster: RealCluster, version: string, prefix = ''): SidePair {
  const suffix = version.replace('.', '-');
  const impersonate = ['--as', front.user, ...front.groups.flatMap((g) => ['--as-group', g]), '--as-uid', front.user];
  return {
    gatehouse: {
      namespace: `${prefix}gh-${suffix}`,
      run: (args, input) => front.kubectl(version, ['-n', `${prefix}gh-${suffix}`, ...args], input === undefined ? {} : { input }),
      start: (args) => front.startKubectl(version, ['-n', `${prefix}gh-${suffix}`, ...args]),
    },
    direct: {
      namespace: `${prefix}direct-${suffix}`,
      run: (args, input) =>
        front.kubectl(version, ['-n', `${prefix}direct-${suffix}`, ...impersonate, ...args], { kubeconfig: cluster.adminKubeconfigPath, ...(input === undefined ? {} : { input }) }),
      start: (args) => front.startKubectl(version, ['-n', `${prefix}direct-${suffix}`, ...impersonate, ...args], { kubeconfig: cluster.adminKubeconfigPath }),
    },
  };
}

const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const MONTH = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';

/** What always differs between two runs, and the side's own namespace name. */
export function normalise(text: string, namespace: string): string {
  return (
    text
      .replaceAll(namespace, '<ns>')
      .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})/g, '<time>')
      .replace(new RegExp(`${DAY}, \\d{2} ${MONTH} \\d{4} \\d{2}:\\d{2}:\\d{2} [+-]\\d{4}`, 'g'), '<time>')
      .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uid>')
      // The ServiceAccount admission plugin names each pod's token volume with a random suffix.
      .replace(/kube-api-access-[a-z0-9]{5}/g, 'kube-api-access-<random>')
      .replace(/("?resourceVersion"?:\s*)"?\d+"?/g, '$1<rv>')
      .replace(/(resourceVersion=)\d+/g, '$1<rv>')
      // Ages in tables and describe: 5s, 2m3s, 10m, 3h4m, 2d, <invalid>.
      .replace(/(?<=\s)(?:\d+[smhdy])+(?=\s|$)|<invalid>/gm, '<age>')
      // Table columns are padded to their widest cell, which the normalising above changes.
      .replace(/(\S)[ \t]{2,}/g, '$1  ')
      .replace(/[ \t]+$/gm, '')
      // describe prints a Secret's data from a Go map, in a different order each run.
      .replace(/^(Data\n====\n)((?:.+\n)+)/m, (_all, head: string, lines: string) => head + lines.split('\n').filter(Boolean).sort().join('\n') + '\n')
  );
}

function normalised(result: KubectlResult, namespace: string): { code: number | null; stdout: string; stderr: string } {
  return { code: result.code, stdout: normalise(result.stdout, namespace), stderr: normalise(result.stderr, namespace) };
}

/** Runs the case on both sides and asserts Gatehouse's output equals the direct one (or differs only as stated). */
export async function assertSideBySide(pair: SidePair, testCase: SideBySideCase): Promise<{ gatehouse: KubectlResult; direct: KubectlResult }> {
  const [gatehouse, direct] = await Promise.all([pair.gatehouse.run(testCase.args, testCase.input), pair.direct.run(testCase.args, testCase.input)]);
  const expected = testCase.differs === undefined ? direct : testCase.differs.apply(direct);
  assert.deepEqual(
    normalised(gatehouse, pair.gatehouse.namespace),
    normalised(expected, pair.direct.namespace),
    `kubectl ${testCase.args.join(' ')}: Gatehouse's output (actual) against the direct one (expected)${testCase.differs ? `, changed as stated: ${testCase.differs.why}` : ''}`,
  );
  return { gatehouse, direct };
}
