/**
 * `npm run bench` — issue 7's benchmark, in one run on one upstream:
 *
 *   1. proxy overhead on a small GET: direct vs kubectl proxy vs Gatehouse (whole pipeline);
 *   2. masking large Secret lists (1,000 and 10,000): added time, first byte, peak RSS;
 *   3. watch: added latency per (masked) event;
 *   4. cold start of the Lambda bundle: size, fresh process → first answer;
 *   5. policy: decisions/s and p99 per decision with 1,000 rules;
 *   6. the CLI: the credential plugin against `node -e 0`, kubectl with the plugin against a
 *      static token, `gatehouse --help` (the built CLI, bin/gatehouse.mjs);
 *   7. the small GET against a REAL kube-apiserver (test/kube/build.sh builds it): direct,
 *      kubectl proxy, kube-oidc-proxy (the open-source peer, bench/peer/) and Gatehouse, with
 *      CPU per request; "not run" with the reason where Go or the build is missing;
 *   8. the stream recorder: MB/s of exec output through data() and close(), with and without redaction;
 *   9. streams: added latency per keystroke echo (exec -it over WebSocket) and `kubectl cp` of
 *      1, 20 and 100 MB both ways (kubectl 1.27 SPDY/3.1, 1.33 WebSocket), through Gatehouse vs direct to the stand-in
 *      (`npm run bench:streams` runs only this one);
 *   and a check that every call through Gatehouse left its record in the S3 emulator.
 *
 * It starts everything it needs (bench/stand.ts) and stops all of it, prints one table and
 * writes bench/results/<timestamp>.json.
 *
 * Options: --seconds N (loaded small-GET run per front, default 15), --connections N (32),
 * --quick (short runs, to check the bench itself), --profile (CPU-profile Gatehouse with
 * `node --cpu-prof` and print where its time goes), --only-cli (item 6 alone: no stand, a
 * minute or two).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { kubectlVersion } from './kubectl-proxy.ts';
import { summariseProfile } from './profile-summary.ts';
import { countRecords } from './records-check.ts';
import { BENCH_POLICY_RULES as POLICY_RULES } from './policy-rules.ts';
import { markdownTable } from './report.ts';
import type { BenchResults } from './results.ts';
import { cliStart } from './scenarios/cli-start.ts';
import { coldStart } from './scenarios/cold-start.ts';
import { largeLists } from './scenarios/large-lists.ts';
import { policyDecisions } from './scenarios/policy.ts';
import { recorderThroughput } from './scenarios/recorder.ts';
import { realApiServerGet } from './scenarios/real-apiserver.ts';
import { smallGet, smallGetOptions, upstreamStats } from './scenarios/small-get.ts';
import { streamsBench, streamsOptions } from './scenarios/streams.ts';
import { watchLatency } from './scenarios/watch.ts';
import { RECORDS_BUCKET, SCRATCH_ROOT, startStand } from './stand.ts';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '15' },
    connections: { type: 'string', default: '32' },
    quick: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'only-cli': { type: 'boolean', default: false },
  },
});

const log = (line: string): void => console.log(line);
// The records check uses the AWS SDK here; its Node-version notice is noise in the bench output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const quick = flags.quick === true;
const startedAt = new Date();
const runId = startedAt.toISOString().replace(/[:.]/g, '-');
const loadAtStart = loadavg()[0] ?? 0;

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

log(`Gatehouse bench ${runId}: ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, load average ${loadAtStart.toFixed(2)}`);
if (loadAtStart > cpus().length * 0.5) {
  log(`  NOTE: the machine is busy (load average ${loadAtStart.toFixed(2)} on ${cpus().length} CPUs); throughput and tail latencies will be lower than on an idle machine.`);
}

const results: BenchResults = {
  environment: {
    startedAt: startedAt.toISOString(),
    durationSeconds: 0,
    node: process.version,
    kubectl: kubectlVersion(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    loadAverageAtStart: loadAtStart,
    loadAverageAtEnd: 0,
    gitCommit: git(['rev-parse', '--short', 'HEAD']),
    gitDirty: git(['status', '--porcelain', '--', 'src', 'functions']) !== '',
    policyRules: POLICY_RULES,
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
  },
};

if (flags['only-cli'] === true) {
  log('6 CLI start-up (the built CLI)');
  results.cliStart = await cliStart({ runs: quick ? 5 : 20 }, log);
  report();
  process.exit(0);
}

// The policy benchmark first, while nothing else runs.
log('5 policy decisions');
results.policy = policyDecisions(log);
log('8 stream recorder');
results.recorder = await recorderThroughput({ megabytes: quick ? 8 : 64 }, log);

const profileDir = flags.profile === true ? join(fileURLToPath(new URL('./.tmp/', import.meta.url)), `${runId}-profile`) : undefined;
const stand = await startStand({ runId, policyRules: POLICY_RULES, ...(profileDir === undefined ? {} : { profileDir }) });
try {
  log(`stand: upstream ${stand.upstream.ready.url}, kubectl proxy ${stand.kubectlProxy.ready.url}, Gatehouse ${stand.gatehouse.ready.url} (${stand.policyRules} policy rules)`);

  log('1 small GET');
  results.smallGet = await smallGet(stand, smallGetOptions(flags), log);

  log('2 large Secret lists');
  results.lists = await largeLists(stand, log);

  log('3 watch');
  results.watch = await watchLatency(stand, { events: quick ? 300 : 2000, intervalMs: 2 }, log);

  // Counted before the cold start, whose Lambda processes forward with impersonation but record nowhere.
  const forwarded = (await upstreamStats(stand)).impersonated;

  log('4 cold start');
  results.coldStart = await coldStart(stand, log);

  log('6 CLI start-up (the built CLI)');
  results.cliStart = await cliStart({ runs: quick ? 5 : 20 }, log);

  await stand.stopFronts();
  const sinkStats = [stand.gatehouse, stand.gatehouseWorkers]
    .map((front) => (front.announcements.at(-1) as { records?: { written: number; dropped: number } | null } | undefined)?.records)
    .reduce<{ written: number; dropped: number } | null | undefined>(
      (total, stats) => (total === undefined || total === null || stats === undefined || stats === null ? null : { written: total.written + stats.written, dropped: total.dropped + stats.dropped }),
      { written: 0, dropped: 0 },
    );
  try {
    const inS3 = await countRecords(stand.s3.ready.endpoint, RECORDS_BUCKET);
    results.records = { inS3: inS3.records, objects: inS3.objects, forwardedCalls: forwarded, written: sinkStats?.written ?? 0, dropped: sinkStats?.dropped ?? 0 };
    log(`records: ${inS3.records} in S3 (${inS3.objects} objects) for ${forwarded} forwarded calls`);
  } catch (error) {
    log(`records: could not be counted (${error instanceof Error ? error.message : String(error)}); the sink reported ${sinkStats?.written ?? '?'} written, ${sinkStats?.dropped ?? '?'} dropped`);
  }

  if (profileDir !== undefined) {
    const file = readdirSync(profileDir).find((name) => name.endsWith('.cpuprofile'));
    if (file !== undefined) results.profile = { file: join(profileDir, file), top: summariseProfile(join(profileDir, file), 25).self };
  }
} finally {
  await stand.close();
}

log('9 streams: keystroke echo and kubectl cp of 1, 20 and 100 MB (SPDY/3.1 and WebSocket)');
results.streams = await streamsBench(streamsOptions(quick), log);

// After the stand is gone: the real API server and its fronts have the machine to themselves.
log('6 small GET against a real kube-apiserver, with kube-oidc-proxy');
results.realApiServer = await realApiServerGet({ ...smallGetOptions(flags), policyRules: POLICY_RULES, scratch: join(SCRATCH_ROOT, runId) }, log);
if ('notRun' in results.realApiServer) log(`  NOT RUN: ${results.realApiServer.notRun}`);

report();

/** Ends the run: the environment at the end, bench/results/<run>.json, the table. */
function report(): void {
  results.environment.loadAverageAtEnd = loadavg()[0] ?? 0;
  results.environment.durationSeconds = Math.round((Date.now() - startedAt.getTime()) / 1000);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const resultsFile = join(RESULTS_DIR, `${runId}.json`);
  writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);

  console.log('');
  console.log(markdownTable(results));
  console.log('');
  console.log(
    `${results.environment.cpus} CPUs, Node ${results.environment.node}, kubectl ${results.environment.kubectl}, ` +
      `load average ${results.environment.loadAverageAtStart.toFixed(2)} → ${results.environment.loadAverageAtEnd.toFixed(2)}, ${results.environment.durationSeconds} s; ` +
      `results: ${resultsFile}`,
  );
  if (results.profile !== undefined) {
    console.log(`\nGatehouse CPU profile (${results.profile.file}), by self time:`);
    for (const line of results.profile.top) console.log(`${line.selfPercent.toFixed(1).padStart(5)}%  ${line.name}`);
  }
}
