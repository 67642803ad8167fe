/**
 * Session records from the `records` configuration: the S3 store, the batching sink over it,
 * and the record stage's settings. The composition root (compose.ts) and the local runtime
 * (with the embedded S3 stand-in's client settings) both build records through this.
 */
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { createS3Records } from '../adapters/s3-records.ts';
import type { GatehouseConfig } from '../config.ts';
import type { RecordSettings } from '../pipeline/record.ts';
import type { RecordSink } from '../ports/records.ts';
import type { Clock } from '../types.ts';
import type { RecordsLog } from './sink.ts';
import { createRecordSink } from './sink.ts';

export type RecordsConfig = NonNullable<GatehouseConfig['records']>;

export interface Records {
  sink: RecordSink;
  settings: RecordSettings;
}

export function createRecordsFromConfig(
  config: RecordsConfig,
  options: { clientConfig?: S3ClientConfig; log?: RecordsLog; clock?: Clock } = {},
): Records {
  const clientConfig = s3ClientConfigFor(config, options.clientConfig);
  const store = createS3Records({
    bucket: config.bucket,
    prefix: config.prefix,
    clientConfig,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  const carryOverMs = Math.round(config.carryOverSeconds * 1000);
  const sink = createRecordSink(store, {
    // Records carried over between invocations are not written by the timer any sooner.
    flushIntervalMs: Math.max(Math.round(config.flushIntervalSeconds * 1000), carryOverMs),
    maxAgeMs: carryOverMs,
    maxBatchRecords: config.maxBatchRecords,
    maxBufferedRecords: config.maxBufferedRecords,
    ...(options.log === undefined ? {} : { log: options.log }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  return { sink, settings: { maxBodyBytes: config.maxBodyBytes, trustForwardedFor: config.trustForwardedFor } };
}

/** Client settings for the records bucket (records and recordings alike): the config's region and endpoint over `base`. */
export function s3ClientConfigFor(config: RecordsConfig, base: S3ClientConfig = {}): S3ClientConfig {
  const clientConfig: S3ClientConfig = { ...base };
  if (config.region !== undefined) clientConfig.region = config.region;
  if (config.endpoint !== undefined) {
    clientConfig.endpoint = config.endpoint;
    clientConfig.forcePathStyle = true;
  }
  return clientConfig;
}
