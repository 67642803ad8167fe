/**
 * The bench's one table (Markdown, so the same text goes into docs/performance.md) and the
 * verdict on each target of issue 7.
 */
import { describeCp } from './scenarios/streams.ts';
import type { BenchResults } from './results.ts';

export interface Row {
  benchmark: string;
  measured: string;
  target: string;
  /** undefined: context only, no target. */
  met?: boolean;
}

const ms = (value: number, digits = 2): string => `${value.toFixed(digits)} ms`;
const signedMs = (value: number, digits = 2): string => `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(digits)} ms`;
const count = (value: number): string => Math.round(value).toLocaleString('en-US');
const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

function frontLabel(front: string, workers: number): string {
  if (front === 'gatehouse') return 'Gatehouse (1 process)';
  if (front === 'gatehouse workers') return `Gatehouse (${workers} workers)`;
  return front;
}

export function rows(results: BenchResults): Row[] {
  const out: Row[] = [];
  const small = results.smallGet;
  if (small !== undefined) {
    const label = `1 small GET, ${small.connections} conns`;
    for (const front of small.fronts) {
      const cpu = front.front === 'direct' ? '' : `, CPU ${count(front.frontCpuMicrosPerRequest)} µs/req`;
      out.push({
        benchmark: `${label}: ${frontLabel(front.front, small.workers)}`,
        measured: `${count(front.rps)} req/s, p50 ${ms(front.latencyMs.p50)}, p99 ${ms(front.latencyMs.p99)}${cpu}`,
        target: '',
      });
    }
    out.push({ benchmark: `${label}: Gatehouse / kubectl proxy`, measured: `${small.throughputVsKubectlProxy.toFixed(2)}× req/s`, target: '≥ 1.0×', met: small.throughputVsKubectlProxy >= 1 });
    out.push({
      benchmark: `${label}: Gatehouse ×${small.workers} workers / kubectl proxy`,
      measured: `${small.workersThroughputVsKubectlProxy.toFixed(2)}× req/s`,
      target: '≥ 1.0×',
      met: small.workersThroughputVsKubectlProxy >= 1,
    });
    out.push({ benchmark: `${label}: Gatehouse / direct`, measured: `${small.throughputVsDirect.toFixed(2)}× req/s`, target: '' });
    out.push({ benchmark: `${label}: p99 added over direct`, measured: signedMs(small.addedP99Ms), target: '≤ 2 ms', met: small.addedP99Ms <= 2 });
    out.push({
      benchmark: `${label}: p99 added over direct, ×${small.workers} workers`,
      measured: signedMs(small.workersAddedP99Ms),
      target: '≤ 2 ms',
      met: small.workersAddedP99Ms <= 2,
    });
    out.push({
      benchmark: '1 small GET, 1 conn: added over direct',
      measured: `p50 ${signedMs(small.unloadedAddedP50Ms)}, p99 ${signedMs(small.unloadedAddedP99Ms)}`,
      target: '(≤ 2 ms p99)',
      met: small.unloadedAddedP99Ms <= 2,
    });
  }
  for (const list of results.lists ?? []) {
    const label = `2 list ${count(list.secrets)} Secrets (${mb(list.responseBytes)})`;
    out.push({
      benchmark: `${label}: total`,
      measured: `direct ${ms(list.direct.totalMs, 1)}, Gatehouse ${ms(list.gatehouse.totalMs, 1)} (${signedMs(list.addedTotalMs, 1)})`,
      target: list.secrets === 1000 ? '≤ 25 ms added' : '',
      ...(list.secrets === 1000 ? { met: list.addedTotalMs <= 25 } : {}),
    });
    out.push({
      benchmark: `${label}: first byte`,
      measured: `direct ${ms(list.direct.firstByteMs, 1)}, Gatehouse ${ms(list.gatehouse.firstByteMs, 1)} (${signedMs(list.addedFirstByteMs, 1)})`,
      target: '',
    });
    out.push({
      benchmark: `${label}: Gatehouse peak RSS growth`,
      measured: `${mb(list.peakRssGrowthBytes)} = ${list.peakRssGrowthRatio.toFixed(2)}× the answer${list.peakResetWorked ? '' : ' (peak not resettable: upper bound)'}`,
      target: '≤ 1.5×',
      met: list.peakRssGrowthRatio <= 1.5,
    });
  }
  const watch = results.watch;
  if (watch !== undefined) {
    out.push({
      benchmark: `3 watch Secrets, ${count(watch.events)} events (masked)`,
      measured: `added per event p50 ${ms(watch.addedMs.p50, 3)}, p99 ${ms(watch.addedMs.p99, 3)}`,
      target: '≤ 1 ms p99',
      met: watch.addedMs.p99 <= 1,
    });
  }
  const streams = results.streams;
  if (streams !== undefined) {
    const d = streams.echoDirectMs;
    const g = streams.echoGatehouseMs;
    out.push({
      benchmark: `9 keystroke echo, exec -it over WebSocket, ${count(streams.keystrokes)} keys`,
      measured: `direct p50 ${ms(d.p50, 3)} p99 ${ms(d.p99, 3)}; Gatehouse p50 ${ms(g.p50, 3)} p99 ${ms(g.p99, 3)} (added p50 ${signedMs(g.p50 - d.p50, 3)}, p99 ${signedMs(g.p99 - d.p99, 3)})`,
      target: '',
    });
    for (const row of streams.cp) {
      out.push({ benchmark: `9 kubectl cp ${mb(row.bytes)} ${row.direction}`, measured: describeCp(row).replace(/^.*?: /, `kubectl ${row.kubectl} (${row.protocol}): `), target: '' });
    }
  }
  const cold = results.coldStart;
  if (cold !== undefined) {
    out.push({
      benchmark: '4 Lambda bundle (esbuild, minified)',
      measured: `${(cold.bundleBytes / 1024).toFixed(0)} KiB (${cold.bundleBytes.toLocaleString('en-US')} B; gzip ${(cold.bundleGzipBytes / 1024).toFixed(0)} KiB)`,
      target: '≤ 1 MB',
      met: cold.bundleBytes <= 1_000_000,
    });
    out.push({
      benchmark: '4 cold start: fresh node → first answer',
      measured:
        `${ms(cold.spawnToAnswerMs, 0)} (load ${ms(cold.processStartToLoadedMs, 0)}, first request ${ms(cold.firstRequestMs, 0)}; ` +
        `bare node ${ms(cold.bareNodeMs, 0)}; CPU ${ms(cold.answeredCpuMs, 0)})`,
      target: '≤ 300 ms',
      met: cold.spawnToAnswerMs <= 300,
    });
  }
  for (const policy of results.policy ?? []) {
    out.push({
      benchmark: `5 policy, ${count(policy.rules)} rules${policy.shape === 'per-team' ? ', one wildcard rule per team' : ''}`,
      measured: `${(policy.decisionsPerSecond / 1e6).toFixed(2)} M decisions/s, p50 ${policy.micros.p50.toFixed(2)} µs, p99 ${policy.micros.p99.toFixed(2)} µs`,
      target: '≤ 20 µs p99',
      met: policy.micros.p99 <= 20,
    });
  }
  const recorder = results.recorder;
  if (recorder !== undefined) {
    out.push({
      benchmark: `8 stream recorder, ${recorder.megabytes.toFixed(0)} MiB of exec output`,
      measured: `${recorder.plainMBps.toFixed(1)} MB/s; ${recorder.redactedMBps.toFixed(1)} MB/s redacting 200 values + 2 patterns; stored ${(recorder.storedRatio * 100).toFixed(1)}%`,
      target: '',
    });
  }
  const cli = results.cliStart;
  if (cli !== undefined) {
    const median = `median of ${cli.runs}, alternating`;
    out.push({
      benchmark: '6 credential plugin, valid cached token / node -e 0',
      measured: `${cli.credentialVsNode.toFixed(2)}× (${ms(cli.credentialMs, 0)} / ${ms(cli.nodeMs, 0)}, ${median})`,
      target: '≤ 1.5×',
      met: cli.credentialVsNode <= 1.5,
    });
    out.push({ benchmark: '6 dev-token plugin (Node) / node -e 0', measured: `${cli.devTokenVsNode.toFixed(2)}× (${ms(cli.devTokenMs, 0)})`, target: '' });
    out.push({
      benchmark: '6 credential fast path (sh), valid cache / node -e 0',
      measured: `${cli.fastPathVsNode.toFixed(2)}× (${ms(cli.fastPathMs, 1)})`,
      target: '',
    });
    out.push({
      benchmark: '6 kubectl get pods: Node plugin / static token (before: kubeconfigs ran Node)',
      measured: `${cli.kubectlNodePluginVsStatic.toFixed(2)}× (${ms(cli.kubectlNodePluginMs, 0)} / ${ms(cli.kubectlStaticMs, 0)}; static + node -e 0 = ${cli.kubectlNodeFloorVsStatic.toFixed(2)}×)`,
      target: '',
    });
    out.push({
      benchmark: '6 kubectl get pods: fast path / static token (after: the kubeconfig gatehouse writes)',
      measured: `${cli.kubectlPluginVsStatic.toFixed(2)}× (${ms(cli.kubectlPluginMs, 0)} / ${ms(cli.kubectlStaticMs, 0)}, ${median})`,
      target: '≤ 1.3×',
      met: cli.kubectlPluginVsStatic <= 1.3,
    });
    out.push({ benchmark: '6 gatehouse --help', measured: ms(cli.helpMs, 0), target: '< 200 ms', met: cli.helpMs < 200 });
  }
  const real = results.realApiServer;
  if (real !== undefined && 'notRun' in real) {
    out.push({ benchmark: '7 small GET, real kube-apiserver', measured: `not run: ${real.notRun}`, target: '' });
  } else if (real !== undefined) {
    const label = `7 small GET, real kube-apiserver ${real.kubeApiserver}, ${real.connections} conns`;
    for (const front of real.fronts) {
      const cpu = front.front === 'direct' ? '' : `, CPU ${count(front.frontCpuMicrosPerRequest)} µs/req`;
      out.push({
        benchmark: `${label}: ${front.front === 'gatehouse' ? 'Gatehouse' : front.front}`,
        measured: `${count(front.rps)} req/s, p50 ${ms(front.latencyMs.p50)}, p99 ${ms(front.latencyMs.p99)}${cpu} (API server ${count(front.upstreamCpuMicrosPerRequest)} µs/req)`,
        target: '',
      });
    }
    out.push({
      benchmark: `${label}: Gatehouse / kube-oidc-proxy`,
      measured:
        real.throughputVsKubeOidcProxy === undefined || real.cpuVsKubeOidcProxy === undefined
          ? `not measured: ${real.peerMissing ?? 'unknown'}`
          : `${real.throughputVsKubeOidcProxy.toFixed(2)}× req/s, ${real.cpuVsKubeOidcProxy.toFixed(2)}× CPU per request`,
      target: '',
    });
    out.push({
      benchmark: `${label}: Gatehouse / kubectl proxy`,
      measured: `${real.throughputVsKubectlProxy.toFixed(2)}× req/s, ${real.cpuVsKubectlProxy.toFixed(2)}× CPU per request`,
      target: '',
    });
  }
  const records = results.records;
  if (records !== undefined) {
    out.push({
      benchmark: 'records: one per call, in the S3 emulator',
      measured: `${count(records.inS3)} records in ${count(records.objects)} objects for ${count(records.forwardedCalls)} forwarded calls; ${count(records.dropped)} dropped`,
      target: 'every call',
      met: records.inS3 >= records.forwardedCalls && records.dropped === 0,
    });
  }
  return out;
}

export function markdownTable(results: BenchResults): string {
  const lines = ['| benchmark | measured | target | met |', '|---|---|---|---|'];
  for (const row of rows(results)) {
    const met = row.met === undefined ? '' : row.met ? 'yes' : '**no**';
    lines.push(`| ${row.benchmark} | ${row.measured} | ${row.target} | ${met} |`);
  }
  return lines.join('\n');
}
