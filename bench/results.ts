/** The shape of `bench/results/<timestamp>.json`: the environment and every benchmark's numbers. */
import type { CliStartResult } from './scenarios/cli-start.ts';
import type { ColdStartResult } from './scenarios/cold-start.ts';
import type { ListResult } from './scenarios/large-lists.ts';
import type { PolicyResult } from './scenarios/policy.ts';
import type { RecorderResult } from './scenarios/recorder.ts';
import type { RealApiServerResult } from './scenarios/real-apiserver.ts';
import type { SmallGetResult } from './scenarios/small-get.ts';
import type { StreamsResult } from './scenarios/streams.ts';
import type { WatchResult } from './scenarios/watch.ts';

export interface Environment {
  startedAt: string;
  durationSeconds: number;
  node: string;
  kubectl: string;
  cpus: number;
  cpuModel: string;
  /** 1-minute load average when the bench started and ended: above the CPU count, other work shared the machine. */
  loadAverageAtStart: number;
  loadAverageAtEnd: number;
  gitCommit: string;
  gitDirty: boolean;
  policyRules: number;
  command: string;
}

export interface RecordsResult {
  inS3: number;
  objects: number;
  /** Upstream requests that carried Gatehouse's impersonation headers. */
  forwardedCalls: number;
  written: number;
  dropped: number;
}

export interface BenchResults {
  environment: Environment;
  smallGet?: SmallGetResult;
  lists?: ListResult[];
  watch?: WatchResult;
  coldStart?: ColdStartResult;
  /** Benchmark 5: the generated mix, then one wildcard rule per team. */
  policy?: PolicyResult[];
  cliStart?: CliStartResult;
  /** Benchmark 8: the stream recorder's throughput. */
  recorder?: RecorderResult;
  records?: RecordsResult;
  /** Benchmark 9: keystroke echo and kubectl cp through Gatehouse vs direct to the stand-in. */
  streams?: StreamsResult;
  /** Benchmark 6: the small GET against a real kube-apiserver, with kube-oidc-proxy beside Gatehouse. */
  realApiServer?: RealApiServerResult | { notRun: string };
  /** CPU profile summary of the Gatehouse process, when run with --profile. */
  profile?: { file: string; top: { name: string; selfPercent: number; totalPercent: number }[] };
}
