/**
 * Gatehouse as the bench runs it: the Node runtime with the whole pipeline on, in its own
 * process, built the way a self-hosted deployment is (configuration → `createDepsFromConfig`
 * → `createApp` → `startNodeServer`), listening in plain HTTP on loopback (the listener for
 * running behind a TLS-terminating load balancer):
 *
 * - authenticate: the production OIDC authenticator, keys from the bench IdP's JWKS;
 * - classify, authorize: the generated policy file (hundreds of rules);
 * - forward: impersonating the caller to the bench upstream (a kubeconfig context);
 * - mask: Secrets always, container env values by the policy's masking rule;
 * - record: one record per call, buffered and written to the S3 emulator with the
 *   production S3 adapter and the default batching of the `records` configuration.
 *
 * Usage: tsx bench/gatehouse-front.ts '<FrontSettings JSON>'
 * Announces `{ url }` when serving; on SIGTERM closes, flushes the records and announces the
 * record sink's counts before exiting.
 */
import { createApp } from '../src/app.ts';
import { createDepsFromConfig } from '../src/compose.ts';
import { configSchema, parseConfig } from '../src/config.ts';
import { createRecordsFromConfig } from '../src/records/from-config.ts';
import { startNodeServer } from '../src/runtime/node-server.ts';
import { announce } from './children.ts';

export interface FrontSettings {
  issuer: string;
  jwksUri: string;
  audience: string;
  upstreamKubeconfig: string;
  policyFile: string;
  s3Endpoint: string;
  bucket: string;
}

/** s3rver's built-in account (it checks SigV4 signatures against it). */
const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

const settings = JSON.parse(process.argv[2] ?? '{}') as FrontSettings;
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
const sink = records.sink as typeof records.sink & { stats?: { written: number; dropped: number; failedFlushes: number } };

const deps = await createDepsFromConfig(config, { records: records.sink, recordSettings: records.settings });
const server = await startNodeServer({ app: createApp(deps), host: '127.0.0.1', port: 0 });
announce({ url: server.url });

process.once('SIGTERM', () => {
  void (async () => {
    await server.close();
    await records.sink.close();
    announce({ records: sink.stats ?? null });
    process.exit(0);
  })();
});
