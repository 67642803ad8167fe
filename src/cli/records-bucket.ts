/**
 * Where the CLI finds the records bucket, for `gatehouse sessions` and `gatehouse records`:
 * `--source s3://bucket/prefix/` (default AWS credentials, `--region`, `--endpoint` for an
 * S3-compatible store), or a local Gatehouse's state dir (`--local`, the default), whose S3
 * stand-in is started over it for as long as the command needs it.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { LOCAL_RECORDS_BUCKET, localRecordsDirectory, startLocalS3 } from '../local/s3.ts';
import { parseS3Url } from '../records/layout.ts';
import { printable } from '../printable.ts';

export interface BucketFlags {
  source?: string;
  local?: string;
  region?: string;
  endpoint?: string;
}

export interface RecordsBucket {
  bucket: string;
  /** The records prefix (with its trailing slash, or empty). */
  prefix: string;
  clientConfig: S3ClientConfig;
  close(): Promise<void>;
}

/** Bad usage of the flags (exit 2), as opposed to a store that cannot be read (exit 1). */
export class UsageError extends Error {}

export async function openRecordsBucket(flags: BucketFlags): Promise<RecordsBucket> {
  if (flags.source !== undefined && flags.local !== undefined) throw new UsageError('give either --source or --local, not both');
  if (flags.source !== undefined) {
    let location: { bucket: string; prefix: string };
    try {
      location = parseS3Url(flags.source);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const clientConfig: S3ClientConfig = {};
    if (flags.region !== undefined) clientConfig.region = flags.region;
    if (flags.endpoint !== undefined) {
      clientConfig.endpoint = flags.endpoint;
      clientConfig.forcePathStyle = true;
    }
    return { ...location, clientConfig, close: async () => undefined };
  }

  const stateDir = await localStateDir(flags);
  const directory = localRecordsDirectory(stateDir);
  if (!existsSync(join(directory, LOCAL_RECORDS_BUCKET))) {
    throw new Error(`no local records in ${directory}: run kubectl through \`gatehouse serve --state-dir ${stateDir}\` first, or give --source s3://…`);
  }
  const s3 = await startLocalS3({ directory });
  return { bucket: LOCAL_RECORDS_BUCKET, prefix: 'records/', clientConfig: s3.clientConfig, close: () => s3.close() };
}

/** What the flags name, for messages: the S3 URL, or the local state dir. */
export async function describeRecordsBucket(flags: BucketFlags): Promise<string> {
  return flags.source ?? `the local records of ${await localStateDir(flags)}`;
}

/** The local runtime (and the whole app with it) is loaded only when its default is needed. */
export async function localStateDir(flags: Pick<BucketFlags, 'local'>): Promise<string> {
  if (flags.local !== undefined) return resolve(flags.local);
  const { DEFAULT_STATE_DIR } = await import('../runtime/local.ts');
  return resolve(DEFAULT_STATE_DIR);
}

/** Runs a command's body: its exit code, or a message on stderr and 1 (2 for bad usage). */
export async function runCommand(name: string, body: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await body();
  } catch (error) {
    process.stderr.write(`${name}: ${printable(error instanceof Error ? error.message : String(error))}\n`);
    process.exitCode = error instanceof UsageError ? 2 : 1;
  }
}
