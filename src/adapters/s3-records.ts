/**
 * Adapter: session records in S3 (or anything speaking its wire protocol, like the local
 * stand-in). Writes gzip JSON Lines (records serialised once, as they were written, and kept as bytes) with PutObject under the cluster and date layout of
 * `records/layout.ts`; reads them back with ListObjects + GetObject for replay.
 * SDK failures become GatehouseError ERR_RECORD_UNAVAILABLE; they never leak as SDK errors.
 */
import { once } from 'node:events';
import { constants as zlibConstants, createGzip, gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { GatehouseError } from '../errors.ts';
import type { RecordArchive, RecordLine, RecordQuery, RecordStore, SessionRecord } from '../ports/records.ts';
import { clusterPrefix, datesBetween, keyPartition, objectKey, partitionCluster, partitionDate, partitionPrefix, UNROUTED_CLUSTER } from '../records/layout.ts';
import { recordLineBytes } from '../records/record-line.ts';
import type { Clock } from '../types.ts';
import { systemClock } from '../types.ts';

/**
 * Lines handed to the compressor at a time. A batch of 500 records is ~2.5 MB of JSON: joined
 * and encoded at once that blocked the event loop ~5 ms (compressing it runs on libuv's pool
 * either way); the lines are bytes already (`records/record-line.ts`), so a slice of 50 is one
 * copy and the loop is free again after each.
 */
const LINES_PER_SLICE = 50;
const NEWLINE = Buffer.from('\n');

/**
 * Fastest deflate level. The pool thread that compresses shares the host's cores with the event
 * loop: at the default level (6) a 500-record batch took ~8 ms of CPU and slowed the calls served
 * meanwhile; level 1 takes about a third of that, for objects up to ~2× larger (still a fraction
 * of the raw JSON). Readers gunzip any level.
 */
const GZIP_LEVEL = zlibConstants.Z_BEST_SPEED;

/** JSON lines as one gzip member, compressed off the event loop, a slice at a time. */
async function gzipLines(lines: readonly Uint8Array[]): Promise<Buffer> {
  const gzip = createGzip({ level: GZIP_LEVEL });
  const out: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => out.push(chunk));
  const ended = once(gzip, 'end');
  // Awaited after the writes; until then a compressor error must not count as unhandled.
  ended.catch(() => undefined);
  for (let start = 0; start < lines.length; start += LINES_PER_SLICE) {
    const parts: Uint8Array[] = [];
    for (const line of lines.slice(start, start + LINES_PER_SLICE)) parts.push(line, NEWLINE);
    const slice = Buffer.concat(parts);
    // The callback runs once the pool compressed the slice: the next slice waits for it.
    await new Promise<void>((resolve, reject) => gzip.write(slice, (error) => (error ? reject(error) : resolve())));
  }
  gzip.end();
  await ended;
  return Buffer.concat(out);
}

export interface S3RecordsOptions {
  bucket: string;
  /** Key prefix, `records/` by default; a trailing slash is added when missing. */
  prefix?: string;
  /** A ready client (tests, shared clients); otherwise one is built from `clientConfig`. */
  client?: S3Client;
  clientConfig?: S3ClientConfig;
  clock?: Clock;
}

/**
 * Client settings for record writes: a record of intent holds a mutating call until it is
 * durable, so a dead store must fail in seconds, not after the SDK's default patience.
 */
export function recordsClientConfig(overrides: S3ClientConfig = {}): S3ClientConfig {
  return {
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 2000, requestTimeout: 5000 },
    ...overrides,
  };
}

export function createS3Records(options: S3RecordsOptions): RecordStore & RecordArchive {
  const bucket = options.bucket;
  const prefix = normalisePrefix(options.prefix ?? 'records/');
  const client = options.client ?? new S3Client(recordsClientConfig(options.clientConfig));
  const clock = options.clock ?? systemClock;
  const location = `s3://${bucket}/${prefix}`;

  async function put(lines: readonly RecordLine[]): Promise<void> {
    // One object per partition (cluster and date) the batch touches.
    const byPartition = new Map<string, { cluster: string | null; date: string; list: Uint8Array[] }>();
    for (const line of lines) {
      const date = partitionDate(line.startedAt);
      const partition = partitionPrefix(prefix, line.cluster, date);
      const bytes = recordLineBytes(line);
      const entry = byPartition.get(partition);
      if (entry === undefined) byPartition.set(partition, { cluster: line.cluster, date, list: [bytes] });
      else entry.list.push(bytes);
    }
    for (const { cluster, date, list } of byPartition.values()) {
      // The lines were serialised as each record was written: here they are only compressed.
      const body = await gzipLines(list);
      const key = objectKey(prefix, cluster, date, clock.now(), crypto.randomUUID());
      try {
        await client.send(
          new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/x-ndjson' }),
        );
      } catch (error) {
        throw unavailable(location, error);
      }
    }
  }

  /**
   * The folders to list: with clusters and a closed date range, one per cluster and day; else
   * the clusters' folders (or the whole prefix: clusters are not known here), every key then
   * filtered by its partition. No delimiter listing: the cluster folders are found by the keys.
   */
  function folders(query: RecordQuery): string[] {
    if (query.clusters === undefined) return [prefix];
    const clusters = query.clusters.map((cluster) => clusterPrefix(prefix, cluster));
    if (query.fromDate === undefined || query.toDate === undefined) return clusters;
    const dates = datesBetween(query.fromDate, query.toDate);
    return clusters.flatMap((folder) => dates.map((date) => `${folder}dt=${date}/`));
  }

  async function* keys(query: RecordQuery): AsyncGenerator<string> {
    for (const listPrefix of folders(query)) {
      // ListObjects with Marker (the last key of the page before), not ListObjectsV2's tokens:
      // the local runtime's S3 (s3rver 3.7) makes those with a cipher OpenSSL 3 lacks, and
      // fails any listing of more than one page.
      let marker: string | undefined;
      let truncated: boolean;
      do {
        let page;
        try {
          page = await client.send(new ListObjectsCommand({ Bucket: bucket, Prefix: listPrefix, Marker: marker }));
        } catch (error) {
          throw unavailable(location, error);
        }
        const listed = page.Contents ?? [];
        for (const object of listed) {
          const key = object.Key;
          if (key === undefined || !key.endsWith('.jsonl.gz')) continue;
          if (!inRange(key, prefix, query)) continue;
          yield key;
        }
        marker = listed.at(-1)?.Key;
        truncated = page.IsTruncated === true && marker !== undefined;
      } while (truncated);
    }
  }

  async function* read(query: RecordQuery): AsyncGenerator<SessionRecord> {
    for await (const key of keys(query)) {
      let bytes: Uint8Array;
      try {
        const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        if (object.Body === undefined) continue;
        bytes = await object.Body.transformToByteArray();
      } catch (error) {
        throw unavailable(location, error);
      }
      const partition = keyPartition(prefix, key)?.cluster;
      for (const line of gunzipSync(bytes).toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        const record = JSON.parse(line) as SessionRecord;
        // Records written before clusters have no `cluster` field; moved under a cluster
        // (`gatehouse records migrate-layout`) they are that cluster's, as Athena reads them.
        if (!Object.hasOwn(record, 'cluster') && partition !== undefined) record.cluster = partition === UNROUTED_CLUSTER ? null : partition;
        yield record;
      }
    }
  }

  return { location, put, read };
}

function normalisePrefix(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

/** Keys are filtered on their `cluster=` and `dt=` folders. */
function inRange(key: string, prefix: string, query: RecordQuery): boolean {
  const partition = keyPartition(prefix, key);
  if (partition === undefined) return false;
  const { cluster, date } = partition;
  if (query.clusters !== undefined && !query.clusters.some((wanted) => partitionCluster(wanted) === cluster)) return false;
  return (query.fromDate === undefined || date >= query.fromDate) && (query.toDate === undefined || date <= query.toDate);
}

function unavailable(location: string, error: unknown): GatehouseError {
  return storeUnavailable(`session record store ${location}`, error);
}

/** ERR_RECORD_UNAVAILABLE naming `what` (records or a recording) and the SDK's error. */
export function storeUnavailable(what: string, error: unknown): GatehouseError {
  const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new GatehouseError('ERR_RECORD_UNAVAILABLE', `${what} is unavailable (${detail})`, { cause: error });
}
