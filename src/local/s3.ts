/**
 * The embedded S3 stand-in of the local runtime: s3rver (S3's wire protocol over loopback
 * HTTP) keeping its objects under a directory, so the production S3 adapter is the one that
 * writes local records, with the same key layout — the same queries and replay work on both.
 */
import { join } from 'node:path';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import S3rver from 's3rver';

/** s3rver's built-in account: it checks SigV4 signatures against these. */
const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export const LOCAL_RECORDS_BUCKET = 'gatehouse-records';

/** Where a local Gatehouse keeps its S3 objects: `<stateDir>/s3/<bucket>/<key>`. */
export function localRecordsDirectory(stateDir: string): string {
  return join(stateDir, 's3');
}

export interface LocalS3Options {
  /** Where objects are kept (e.g. `<stateDir>/s3`); created when missing. */
  directory: string;
  /** Buckets to create at start; default the local records bucket. */
  buckets?: string[];
  host?: string;
  /** 0 (default): an ephemeral port. */
  port?: number;
}

export interface LocalS3 {
  endpoint: string;
  /** Client settings that reach this stand-in (endpoint, path-style, its credentials). */
  clientConfig: S3ClientConfig;
  close(): Promise<void>;
}

export async function startLocalS3(options: LocalS3Options): Promise<LocalS3> {
  const host = options.host ?? '127.0.0.1';
  const server = new S3rver({
    address: host,
    port: options.port ?? 0,
    silent: true,
    directory: options.directory,
    configureBuckets: (options.buckets ?? [LOCAL_RECORDS_BUCKET]).map((name) => ({ name })),
  });
  const address = await server.run();
  const endpoint = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  let closed = false;
  return {
    endpoint,
    clientConfig: { endpoint, region: 'us-east-1', forcePathStyle: true, credentials: LOCAL_CREDENTIALS },
    async close() {
      if (closed) return;
      closed = true;
      await server.close();
    },
  };
}
