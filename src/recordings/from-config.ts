/**
 * The RecordingStore from the `records` configuration: recording objects in the records
 * bucket under `recordingsPrefix`, through the same S3 client settings as the records, and
 * what to redact from the policy's masking rules (Secret values read upstream). The
 * recordings pages read the records and recordings of the same bucket and check links with
 * the approval-link key. Built by the Node runtime only (`gatehouse serve`, the local
 * runtime), never by compose.ts: Lambda carries no exec/attach/port-forward, and its bundle
 * stays without this code.
 */
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { createS3Records } from '../adapters/s3-records.ts';
import { createS3RecordingObjects } from '../adapters/s3-recordings.ts';
import type { SigningKeyProvider } from '../ports/approvals.ts';
import type { Clock } from '../types.ts';
import { systemClock } from '../types.ts';
import type { GatehouseDeps } from '../app.ts';
import { signingKeyFromConfig } from '../approvals/create-approvals.ts';
import type { GatehouseConfig } from '../config.ts';
import { recordingRoutes } from './routes.ts';
import type { RecordingViewer } from './routes.ts';
import type { MaskingRules } from '../masking/masking-rules.ts';
import type { RecordingStore } from '../ports/recordings.ts';
import type { RecordsConfig } from '../records/from-config.ts';
import { s3ClientConfigFor } from '../records/from-config.ts';
import { redactionSource, type SecretSource } from './secret-values.ts';
import { createRecordingStore } from './store.ts';

export function createRecordingsFromConfig(
  config: RecordsConfig,
  options: { sources: readonly SecretSource[]; masking: MaskingRules | undefined; clientConfig?: S3ClientConfig },
): RecordingStore {
  return createRecordingStore({
    objects: createS3RecordingObjects({ bucket: config.bucket, clientConfig: s3ClientConfigFor(config, options.clientConfig) }),
    prefix: config.recordingsPrefix,
    maxBytes: config.maxRecordingBytes,
    redactionFor: redactionSource({ masking: options.masking, sources: options.sources, windowChars: config.redactionWindowChars }),
  });
}

export function createRecordingViewerFromConfig(
  config: RecordsConfig,
  options: { signingKey: SigningKeyProvider; clientConfig?: S3ClientConfig; clock?: Clock },
): RecordingViewer {
  const clientConfig = s3ClientConfigFor(config, options.clientConfig);
  return {
    archive: createS3Records({ bucket: config.bucket, prefix: config.prefix, clientConfig }),
    objects: createS3RecordingObjects({ bucket: config.bucket, clientConfig }),
    prefix: config.recordingsPrefix,
    signingKey: options.signingKey,
    clock: options.clock ?? systemClock,
  };
}

/**
 * Where redaction reads a namespace's Secret values: the one cluster's upstream, or each
 * cluster's by name — a session on a deployment of several names its cluster
 * (StreamSessionInfo.cluster), and only that cluster is read.
 */
export function redactionSources(deps: Pick<GatehouseDeps, 'upstream' | 'clusters'>): SecretSource[] {
  if (deps.upstream !== undefined) return [{ upstream: deps.upstream }];
  return (deps.clusters?.upstreams ?? []).map((cluster) => ({ upstream: cluster.upstream, cluster: cluster.name }));
}

/**
 * The Node runtime's recordings from its configuration, added to the composed deps: the store
 * when records are configured, the pages when a link key (approvals) is too. Parts already
 * given (tests) stay.
 */
export function addConfiguredRecordings(deps: GatehouseDeps, config: GatehouseConfig): void {
  const records = config.records;
  if (config.runtime !== 'node' || records === undefined) return;
  deps.recordings ??= createRecordingsFromConfig(records, { sources: redactionSources(deps), masking: deps.masking });
  if (config.approvals !== undefined) {
    deps.recordingPages ??= recordingRoutes(createRecordingViewerFromConfig(records, { signingKey: signingKeyFromConfig(config.approvals), ...(deps.clock === undefined ? {} : { clock: deps.clock }) }));
  }
}
