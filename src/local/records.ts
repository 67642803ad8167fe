/**
 * The local runtime's session records: the embedded S3 stand-in keeping its objects under
 * `<stateDir>/s3`, and the records built on it through the same configuration path and S3
 * adapter as on AWS — same bucket layout, so `gatehouse sessions --local` and the documented
 * queries read them. Read records are flushed every second, so a replay right after a
 * kubectl command already shows it.
 */
import type { RecordSink } from '../ports/records.ts';
import type { RecordSettings } from '../pipeline/record.ts';
import { configSchema } from '../config.ts';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { createRecordsFromConfig } from '../records/from-config.ts';
import type { RecordsConfig } from '../records/from-config.ts';
import type { Clock } from '../types.ts';
import { LOCAL_RECORDS_BUCKET, localRecordsDirectory, startLocalS3 } from './s3.ts';

export interface LocalRecords {
  sink: RecordSink;
  /** The records configuration as a configured Gatehouse would have it, and the client settings that reach the stand-in. */
  config: RecordsConfig;
  clientConfig: S3ClientConfig;
  settings: RecordSettings;
  /** Where the objects are: `<directory>/<bucket>/records/dt=…/…`. */
  directory: string;
  /** Flushes the sink, then stops the stand-in. */
  close(): Promise<void>;
}

export async function startLocalRecords(options: { stateDir: string; host: string; clock?: Clock }): Promise<LocalRecords> {
  const directory = localRecordsDirectory(options.stateDir);
  const s3 = await startLocalS3({ directory, host: options.host });
  // The schema's defaults, as a configured Gatehouse would have them.
  const config = configSchema.shape.records.unwrap().parse({ bucket: LOCAL_RECORDS_BUCKET, flushIntervalSeconds: 1 });
  const { sink, settings } = createRecordsFromConfig(config, {
    clientConfig: s3.clientConfig,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  return {
    sink,
    config,
    clientConfig: s3.clientConfig,
    settings,
    directory,
    async close() {
      try {
        await sink.close();
      } finally {
        await s3.close();
      }
    },
  };
}
