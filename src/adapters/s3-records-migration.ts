/**
 * Adapter: moves session records written before clusters (`<prefix>dt=YYYY-MM-DD/<file>`) to
 * the layout the writer, the Glue table and `gatehouse sessions` use now
 * (`<prefix>cluster=<name>/dt=YYYY-MM-DD/<file>`, `records/layout.ts`), under one cluster name.
 *
 * Each object is read, written to its new key (same file name), read back and compared byte for
 * byte; only then is the old object deleted (unless `keep`). Idempotent: a new key that already
 * holds the same bytes counts as copied (a run stopped between copy and delete), so a re-run
 * finishes the job and copies nothing twice. A new key holding other bytes is a conflict: it is
 * reported, neither object is touched, and the run goes on with the others. Any S3 failure stops
 * the run at once with a MigrationError naming the object; the old object is still in place.
 * Listing uses ListObjects with Marker (see s3-records.ts on s3rver and ListObjectsV2).
 */
import { DeleteObjectCommand, GetObjectCommand, ListObjectsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { partitionPrefix, unclusteredKey } from '../records/layout.ts';

export interface LayoutMigrationOptions {
  client: S3Client;
  bucket: string;
  /** The records prefix (with its trailing slash, or empty). */
  prefix: string;
  /** The cluster the old records belong to: the name the single-cluster writer uses now. */
  cluster: string;
  /** Only report what would be done: reads, no writes or deletes. */
  dryRun: boolean;
  /** Leave the old objects in place after a verified copy. */
  keep: boolean;
  /** One line per object and action. */
  report(line: string): void;
}

export interface LayoutMigrationSummary {
  /** Old-layout records objects found. */
  found: number;
  copied: number;
  /** Already at their new key with the same bytes (a run before was stopped before its delete). */
  alreadyCopied: number;
  deleted: number;
  /** Old keys whose new key holds different bytes: left in place, both. */
  conflicts: string[];
  /** Keys under `<prefix>dt=` that are not records objects of the old layout: left alone. */
  skipped: string[];
}

/** An S3 call failed for one object; the old object is still in place. */
export class MigrationError extends Error {}

export async function migrateRecordsLayout(options: LayoutMigrationOptions): Promise<LayoutMigrationSummary> {
  const { client, bucket, prefix, cluster, dryRun, keep, report } = options;
  const url = (key: string): string => `s3://${bucket}/${key}`;
  const summary: LayoutMigrationSummary = { found: 0, copied: 0, alreadyCopied: 0, deleted: 0, conflicts: [], skipped: [] };

  /** Runs one S3 call for `key`; a failure names it (and, for an object, says it is still in place). */
  async function attempt<T>(what: string, key: string, call: () => Promise<T>, inPlace = '; the old object is left in place'): Promise<T> {
    try {
      return await call();
    } catch (error) {
      const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new MigrationError(`could not ${what} ${url(key)} (${detail})${inPlace}`, { cause: error });
    }
  }

  async function read(key: string): Promise<{ bytes: Uint8Array; contentType: string | undefined }> {
    const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return { bytes: object.Body === undefined ? new Uint8Array() : await object.Body.transformToByteArray(), contentType: object.ContentType };
  }

  /** The object's bytes, or undefined when there is none. */
  async function readIfExists(key: string): Promise<Uint8Array | undefined> {
    try {
      return (await read(key)).bytes;
    } catch (error) {
      if (error instanceof Error && (error.name === 'NoSuchKey' || error.name === 'NotFound')) return undefined;
      throw error;
    }
  }

  async function migrate(oldKey: string, newKey: string): Promise<void> {
    const source = await attempt('read', oldKey, () => read(oldKey));
    const existing = await attempt('read', newKey, () => readIfExists(newKey));
    if (existing !== undefined && !Buffer.from(existing).equals(source.bytes)) {
      summary.conflicts.push(oldKey);
      report(`conflict: ${url(newKey)} already exists with different content (${existing.byteLength} bytes, the old object ${url(oldKey)} has ${source.bytes.byteLength}); neither was changed`);
      return;
    }
    if (existing !== undefined) {
      summary.alreadyCopied += 1;
      report(`already copied: ${url(oldKey)} → ${url(newKey)} (same ${source.bytes.byteLength} bytes)`);
    } else if (dryRun) {
      summary.copied += 1;
      report(`would copy ${url(oldKey)} → ${url(newKey)} (${source.bytes.byteLength} bytes)`);
    } else {
      await attempt('copy', oldKey, () =>
        client.send(new PutObjectCommand({ Bucket: bucket, Key: newKey, Body: source.bytes, ContentType: source.contentType ?? 'application/x-ndjson' })),
      );
      const copy = await attempt('read back the copy of', oldKey, () => readIfExists(newKey));
      if (copy === undefined || !Buffer.from(copy).equals(source.bytes)) {
        throw new MigrationError(`the copy of ${url(oldKey)} at ${url(newKey)} does not read back as the same ${source.bytes.byteLength} bytes (${copy === undefined ? 'it is missing' : `it has ${copy.byteLength}`}); the old object is left in place`);
      }
      summary.copied += 1;
      report(`copied ${url(oldKey)} → ${url(newKey)} (${source.bytes.byteLength} bytes, verified)`);
    }
    if (keep) return;
    if (dryRun) {
      report(`would delete ${url(oldKey)}`);
    } else {
      await attempt('delete', oldKey, () => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: oldKey })));
      report(`deleted ${url(oldKey)}`);
    }
    summary.deleted += 1;
  }

  // Only keys under `<prefix>dt=`: the new layout's `<prefix>cluster=…` is never listed here.
  // Deleting listed keys does not disturb the paging: the Marker is a key, not a position.
  let marker: string | undefined;
  let truncated: boolean;
  do {
    const page = await attempt('list', `${prefix}dt=`, () =>
      client.send(new ListObjectsCommand({ Bucket: bucket, Prefix: `${prefix}dt=`, Marker: marker })),
      '',
    );
    const listed = page.Contents ?? [];
    for (const object of listed) {
      const key = object.Key;
      if (key === undefined) continue;
      const old = unclusteredKey(prefix, key);
      if (old === undefined) {
        summary.skipped.push(key);
        report(`skipped ${url(key)}: not a records object of the old layout (${prefix}dt=YYYY-MM-DD/<file>.jsonl.gz)`);
        continue;
      }
      summary.found += 1;
      await migrate(key, `${partitionPrefix(prefix, cluster, old.date)}${old.file}`);
    }
    marker = listed.at(-1)?.Key;
    truncated = page.IsTruncated === true && marker !== undefined;
  } while (truncated);
  return summary;
}
