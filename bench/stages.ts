/**
 * `npm run bench:stages` — where Gatehouse's CPU per small GET goes: the bench front
 * (bench/gatehouse-front.ts) in several variants, each the same app with some dependencies
 * swapped (see FrontVariant there), beside two floors (bench/floor-front.ts: a bare Node
 * forwarder, and the same inside Hono) and kubectl proxy, loaded one after the other in
 * alternating rounds, so that the machine's drift hits every front alike. Prints each
 * front's CPU per request (minimum and median over the rounds: on a shared machine the
 * minimum is the steadier estimate) and the differences that price one part each.
 *
 * Options: --rounds N (default 5), --seconds N per loaded run (4), --connections N (32).
 * Takes about (rounds × 8 fronts × seconds) + 30 s.
 */
import { parseArgs } from 'node:util';
import { startTsChild } from './children.ts';
import type { Child } from './children.ts';
import { POD_PATH } from './fixtures.ts';
import type { FrontSettings, FrontVariant } from './gatehouse-front.ts';
import { runLoad } from './load.ts';
import { cpuSeconds } from './proc.ts';
import { RECORDS_BUCKET, startStand } from './stand.ts';
import type { GatehouseReady } from './stand.ts';

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '4' },
    connections: { type: 'string', default: '32' },
  },
});
const rounds = Number(flags.rounds);
const seconds = Number(flags.seconds);
const connections = Number(flags.connections);
const VARIANTS: FrontVariant[] = ['whole', 'secrets-only', 'records-discarded', 'no-records', 'forward-only'];

type FrontName = FrontVariant | 'floor-node' | 'floor-hono' | 'kubectl-proxy';

/** Each part's price: the first front minus the second. */
const PARTS: [string, FrontName, FrontName][] = [
  ['masking the Pod by the env-name rule (trigger test, strict scan, env arrays rewritten)', 'whole', 'secrets-only'],
  ['storing records (buffering, gzip, S3 PUTs)', 'whole', 'records-discarded'],
  ['building and serialising a record per call', 'records-discarded', 'no-records'],
  ['JWT (cached) + 252-rule policy + env-name masking', 'no-records', 'forward-only'],
  ["Gatehouse's stages with nothing to do (request id, classification, impersonation, Secrets scan, forward)", 'forward-only', 'floor-hono'],
  ['Hono and its Node adapter (web Request/Response)', 'floor-hono', 'floor-node'],
];

const stand = await startStand({ runId: `stages-${Date.now()}`, policyRules: 250 });
interface Front {
  name: FrontName;
  url: string;
  pid: number;
  child?: Child<{ url: string }>;
  cpu: number[];
  rps: number[];
}
const fronts: Front[] = [];
try {
  const settings: FrontSettings = {
    issuer: stand.idp.issuer,
    jwksUri: stand.idp.jwksUri,
    audience: stand.idp.audience,
    upstreamKubeconfig: stand.kubeconfigPath,
    policyFile: stand.policyFile,
    s3Endpoint: stand.s3.ready.endpoint,
    bucket: RECORDS_BUCKET,
  };
  const started = (name: FrontName, child: Child<{ url: string }>): Front => ({ name, url: child.ready.url, pid: child.pid, child, cpu: [], rps: [] });
  for (const variant of VARIANTS) {
    fronts.push(started(variant, await startTsChild<GatehouseReady>(`Gatehouse (${variant})`, './gatehouse-front.ts', [JSON.stringify({ ...settings, variant })])));
  }
  for (const floor of ['node', 'hono'] as const) {
    fronts.push(started(`floor-${floor}`, await startTsChild<{ url: string }>(`floor (${floor})`, './floor-front.ts', [floor, stand.upstream.ready.url])));
  }
  fronts.push({ name: 'kubectl-proxy', url: stand.kubectlProxy.ready.url, pid: stand.kubectlProxy.pid, cpu: [], rps: [] });
  const headers = { accept: 'application/json', authorization: `Bearer ${stand.token}` };
  for (const front of fronts) await runLoad({ url: `${front.url}${POD_PATH}`, connections, seconds: 2, headers });
  for (let round = 1; round <= rounds; round++) {
    for (const front of fronts) {
      const before = cpuSeconds(front.pid);
      const run = await runLoad({ url: `${front.url}${POD_PATH}`, connections, seconds, headers });
      if (run.non2xx > 0 || run.errors > 0) throw new Error(`${front.name}: ${run.non2xx} non-2xx answers and ${run.errors} errors`);
      front.cpu.push(((cpuSeconds(front.pid) - before) * 1e6) / run.ok);
      front.rps.push(run.rps);
      console.log(`round ${round}/${rounds}  ${front.name.padEnd(18)} ${run.rps.toFixed(0).padStart(6)} req/s  CPU ${front.cpu.at(-1)?.toFixed(0)} µs/req`);
    }
  }
} finally {
  for (const front of fronts) await front.child?.stop();
  await stand.close();
}

const min = (values: number[]): number => Math.min(...values);
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
console.log(`\n| front | CPU µs/req (min) | CPU µs/req (median) | req/s (median) |\n|---|---|---|---|`);
for (const front of fronts) {
  console.log(`| ${front.name} | ${min(front.cpu).toFixed(0)} | ${median(front.cpu).toFixed(0)} | ${median(front.rps).toFixed(0)} |`);
}
const byName = new Map(fronts.map((front) => [front.name, front]));
console.log(`\n| part | CPU µs/req (difference of minima) |\n|---|---|`);
for (const [part, a, b] of PARTS) {
  const first = byName.get(a);
  const second = byName.get(b);
  if (first === undefined || second === undefined) continue;
  console.log(`| ${part} (${a} − ${b}) | ${(min(first.cpu) - min(second.cpu)).toFixed(0)} |`);
}
console.log(`\n${rounds} rounds × ${seconds} s per variant, ${connections} connections, small GET ${POD_PATH}`);
