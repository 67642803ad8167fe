/**
 * Gatehouse as the bench runs it: the Node runtime with the whole pipeline on, in its own
 * process, built the way a self-hosted deployment is (configuration → `createDepsFromConfig`
 * → `createApp` → `startNodeServer`), listening in plain HTTP on loopback (the listener for
 * running behind a TLS-terminating load balancer), or HTTPS when `tls` is given:
 *
 * - authenticate: the production OIDC authenticator, keys from the bench IdP's JWKS;
 * - classify, authorize: the generated policy file (hundreds of rules);
 * - forward: impersonating the caller to the bench upstream (a kubeconfig context);
 * - mask: Secrets always, container env values by the policy's masking rule;
 * - record: one record per call, buffered and written to the S3 emulator with the
 *   production S3 adapter and the default batching of the `records` configuration.
 *
 * With `workers` > 1 it runs as `gatehouse serve --workers N` does: node:cluster workers,
 * each building the same app, sharing one listening port.
 *
 * Usage: tsx bench/gatehouse-front.ts '<FrontSettings JSON>'
 * Announces `{ url, pids }` when serving (every process that serves, for CPU accounting);
 * on SIGTERM closes, flushes the records and announces the record sinks' summed counts
 * before exiting.
 */
import cluster from 'node:cluster';
import { createApp } from '../src/app.ts';
import type { GatehouseDeps } from '../src/app.ts';
import type { RecordSink } from '../src/ports/records.ts';
import { toRecordLine } from '../src/records/record-line.ts';
import type { Identity } from '../src/types.ts';
import { createDepsFromConfig } from '../src/compose.ts';
import { configSchema, parseConfig } from '../src/config.ts';
import { createRecordsFromConfig } from '../src/records/from-config.ts';
import { startNodeServer } from '../src/runtime/node-server.ts';
import { announce } from './children.ts';
import { BENCH_GROUPS, BENCH_USER } from './policy-rules.ts';

export interface FrontSettings {
  issuer: string;
  jwksUri: string;
  audience: string;
  upstreamKubeconfig: string;
  policyFile: string;
  s3Endpoint: string;
  bucket: string;
  /** Processes serving the one port; default 1. */
  workers?: number;
  /** Serve HTTPS with this certificate (PEM) instead of plain HTTP. */
  tls?: { cert: string; key: string };
  /** A cheaper pipeline, to see what each part costs (bench/stages.ts); default `whole`. */
  variant?: FrontVariant;
}

/**
 * What `bench/stages.ts` compares, each the same app (`createApp`) with some dependencies
 * swapped, so the difference between two variants is what the swapped part costs:
 * - `whole`: the bench front as described above;
 * - `secrets-only`: without the policy's env-name masking rule (the default masking: the Pod is only searched for triggers);
 * - `records-discarded`: records built and serialised per call, then dropped (no buffering, compression, S3);
 * - `no-records`: no record sink (the record stage only assigns the request id);
 * - `forward-only`: no records, Secrets-only masking, a fixed identity for any token and an allow-all policy —
 *   what is left is Hono, the Node adapter, classification, forwarding and the scan of the answer.
 */
export type FrontVariant = 'whole' | 'secrets-only' | 'records-discarded' | 'no-records' | 'forward-only';

const BENCH_IDENTITY: Identity = { user: BENCH_USER, groups: BENCH_GROUPS, claims: {} };

const DISCARDING_SINK: RecordSink = {
  writeDurable: async () => undefined,
  write: (record) => void toRecordLine(record),
  flush: async () => undefined,
  flushIfDue: async () => undefined,
  hold: () => () => undefined,
  close: async () => undefined,
};

/** The app's dependencies for a variant (see FrontVariant). */
function forVariant(deps: GatehouseDeps, variant: FrontVariant): GatehouseDeps {
  const out: GatehouseDeps = { ...deps };
  if (variant === 'secrets-only' || variant === 'forward-only') delete out.masking;
  if (variant === 'no-records' || variant === 'forward-only') delete out.records;
  if (variant === 'records-discarded') out.records = DISCARDING_SINK;
  if (variant === 'forward-only') {
    out.authenticator = { verify: async () => BENCH_IDENTITY };
    out.policy = { decide: () => ({ effect: 'allow', rule: 'bench-allow-all', reason: 'the forward-only bench variant allows everything' }) };
  }
  return out;
}

interface SinkStats {
  written: number;
  dropped: number;
  failedFlushes: number;
}

/** s3rver's built-in account (it checks SigV4 signatures against it). */
const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

const settings = JSON.parse(process.argv[2] ?? '{}') as FrontSettings;
const workers = settings.workers ?? 1;

/** Builds and serves one Gatehouse in this process; resolves a stop function that returns the sink's counts. */
async function serveOne(): Promise<{ url: string; stop(): Promise<SinkStats | null> }> {
  const config = parseConfig(
    {
      runtime: 'node',
      oidc: { issuer: settings.issuer, audience: settings.audience, jwksUri: settings.jwksUri },
      upstream: { kind: 'kubeconfig', kubeconfig: settings.upstreamKubeconfig },
      policy: { file: settings.policyFile },
    },
    'bench front',
  );
  // The records section goes through the same schema (its defaults: 5 s flush, 500 per object).
  const recordsConfig = configSchema.shape.records.unwrap().parse({ bucket: settings.bucket, endpoint: settings.s3Endpoint, region: 'us-east-1' });
  const records = createRecordsFromConfig(recordsConfig, { clientConfig: { credentials: S3RVER_CREDENTIALS } });
  const sink = records.sink as typeof records.sink & { stats?: SinkStats };

  const deps = forVariant(await createDepsFromConfig(config, { records: records.sink, recordSettings: records.settings }), settings.variant ?? 'whole');
  const server = await startNodeServer({ app: createApp(deps), host: '127.0.0.1', port: 0, ...(settings.tls === undefined ? {} : { tls: settings.tls }) });
  return {
    url: server.url,
    async stop() {
      await server.close();
      await records.sink.close();
      return sink.stats ?? null;
    },
  };
}

function sum(stats: (SinkStats | null)[]): SinkStats | null {
  if (stats.some((s) => s === null)) return null;
  return (stats as SinkStats[]).reduce((a, b) => ({ written: a.written + b.written, dropped: a.dropped + b.dropped, failedFlushes: a.failedFlushes + b.failedFlushes }));
}

if (workers <= 1) {
  const one = await serveOne();
  announce({ url: one.url, pids: [process.pid] });
  process.once('SIGTERM', () => {
    void one.stop().then((stats) => {
      announce({ records: stats });
      process.exit(0);
    });
  });
} else if (cluster.isPrimary) {
  const ready: { url: string; pid: number }[] = [];
  const stopped: (SinkStats | null)[] = [];
  for (let i = 0; i < workers; i++) {
    const worker = cluster.fork();
    worker.on('message', (message: { ready?: string; stopped?: SinkStats | null }) => {
      if (message.ready !== undefined) {
        ready.push({ url: message.ready, pid: worker.process.pid ?? -1 });
        if (ready.length === workers) announce({ url: ready[0]?.url, pids: ready.map((r) => r.pid) });
      }
      if (message.stopped !== undefined) {
        stopped.push(message.stopped);
        if (stopped.length === workers) {
          announce({ records: sum(stopped) });
          process.exit(0);
        }
      }
    });
  }
  process.once('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.send({ stop: true });
  });
} else {
  const one = await serveOne();
  process.send?.({ ready: one.url });
  process.on('message', (message: { stop?: boolean }) => {
    if (message.stop === true) void one.stop().then((stats) => process.send?.({ stopped: stats }, () => process.exit(0)));
  });
  // The primary forwards SIGTERM as a message; the signal itself (sent to the group) is ignored here.
  process.on('SIGTERM', () => undefined);
}
