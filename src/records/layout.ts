/**
 * Where records live in the bucket:
 * `<prefix>cluster=<name>/dt=YYYY-MM-DD/<write time>-<uuid>.jsonl.gz`.
 * One object per flushed batch, cluster and date; `cluster` is the configured name of the
 * cluster the call was for (`_unrouted` for calls whose path named none — no configured name
 * starts with `_`), `dt` the UTC date of each record's `started_at`, so a record is always found
 * under the day its call began, even when it was written later (a long watch that ends after
 * midnight). Hive-style folders: Athena's partition projection and DuckDB's hive partitioning
 * read both keys from the path. Pure: no clock, no AWS.
 */
import { CLUSTER_NAME } from '../cluster-route.ts';

/** The cluster partition of calls whose path named no configured cluster. */
export const UNROUTED_CLUSTER = '_unrouted';

/** `2025-03-01T12:00:00.000Z` → `2025-03-01`. */
export function partitionDate(startedAt: string): string {
  const date = startedAt.slice(0, 10);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw new Error(`not an ISO 8601 UTC time: "${startedAt}"`);
  return date;
}

/** A record's `cluster` → its partition value (a configured name, or `_unrouted`). */
export function partitionCluster(cluster: string | null): string {
  if (cluster === null) return UNROUTED_CLUSTER;
  if (!CLUSTER_NAME.test(cluster)) throw new Error(`not a cluster name: "${cluster}"`);
  return cluster;
}

/** The folder of one cluster's records, e.g. `records/cluster=prod/`. */
export function clusterPrefix(prefix: string, cluster: string | null): string {
  return `${prefix}cluster=${partitionCluster(cluster)}/`;
}

/** The folder of one cluster's records of one day, e.g. `records/cluster=prod/dt=2025-03-01/`. */
export function partitionPrefix(prefix: string, cluster: string | null, date: string): string {
  return datePrefix(clusterPrefix(prefix, cluster), date);
}

/** The folder of one day under `prefix`, e.g. `recordings/dt=2025-03-01/` (recordings are found by the record's key, not by cluster). */
export function datePrefix(prefix: string, date: string): string {
  return `${prefix}dt=${date}/`;
}

/** The cluster and date partition of a key under `prefix`, or undefined when the key is not laid out so. */
export function keyPartition(prefix: string, key: string): { cluster: string; date: string } | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const match = /^cluster=([^/]+)\/dt=(\d{4}-\d{2}-\d{2})\//.exec(key.slice(prefix.length));
  return match === null ? undefined : { cluster: match[1] as string, date: match[2] as string };
}

/**
 * The date and file name of a key in the layout before clusters (`<prefix>dt=YYYY-MM-DD/<file>.jsonl.gz`),
 * or undefined when the key is not laid out so (already under `cluster=`, or not a records object).
 */
export function unclusteredKey(prefix: string, key: string): { date: string; file: string } | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const match = /^dt=(\d{4}-\d{2}-\d{2})\/([^/]+\.jsonl\.gz)$/.exec(key.slice(prefix.length));
  return match === null ? undefined : { date: match[1] as string, file: match[2] as string };
}

/**
 * The key of one object. The write time leads the file name so a listing sorts by time; it
 * is compact (no colons) so the same keys are valid file names for the local S3 stand-in.
 */
export function objectKey(prefix: string, cluster: string | null, date: string, writtenAtMs: number, id: string): string {
  const stamp = new Date(writtenAtMs).toISOString().replace(/[-:]/g, '');
  return `${partitionPrefix(prefix, cluster, date)}${stamp}-${id}.jsonl.gz`;
}

/** The dates from `from` to `to` inclusive (YYYY-MM-DD), for listing only the partitions a query needs. */
export function datesBetween(from: string, to: string): string[] {
  const dates: string[] = [];
  const end = Date.parse(`${to}T00:00:00.000Z`);
  for (let t = Date.parse(`${from}T00:00:00.000Z`); t <= end; t += 86_400_000) {
    dates.push(new Date(t).toISOString().slice(0, 10));
  }
  return dates;
}

/** Splits `s3://bucket/some/prefix/` into bucket and key prefix (with a trailing slash, or empty). */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (match === null) throw new Error(`not an S3 location: "${url}" (expected s3://bucket/prefix/)`);
  const rest = match[2] ?? '';
  return { bucket: match[1] as string, prefix: rest === '' || rest.endsWith('/') ? rest : `${rest}/` };
}
