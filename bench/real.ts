/**
 * `npm run bench:real` — only benchmark 6 of `npm run bench`: the small GET against a real
 * kube-apiserver through direct, kubectl proxy, kube-oidc-proxy and Gatehouse.
 * Options: --seconds N (default 15), --connections N (32), --quick.
 */
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { rows } from './report.ts';
import { realApiServerGet } from './scenarios/real-apiserver.ts';
import { smallGetOptions } from './scenarios/small-get.ts';
import { SCRATCH_ROOT } from './stand.ts';
import { BENCH_POLICY_RULES } from './policy-rules.ts';

const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '15' },
    connections: { type: 'string', default: '32' },
    quick: { type: 'boolean', default: false },
  },
});
const runId = new Date().toISOString().replace(/[:.]/g, '-');
console.log(`real kube-apiserver bench ${runId}: ${cpus().length} CPUs, load average ${(loadavg()[0] ?? 0).toFixed(2)}`);
const result = await realApiServerGet({ ...smallGetOptions(flags), policyRules: BENCH_POLICY_RULES, scratch: join(SCRATCH_ROOT, runId) }, (line) => console.log(line));
console.log('\n| benchmark | measured |\n|---|---|');
for (const row of rows({ realApiServer: result } as Parameters<typeof rows>[0])) console.log(`| ${row.benchmark} | ${row.measured} |`);
console.log(`\nload average at the end ${(loadavg()[0] ?? 0).toFixed(2)}`);
