/**
 * Where records live in the bucket: `<prefix>dt=YYYY-MM-DD/<write time>-<uuid>.jsonl.gz`.
 * One object per flushed batch and date; `dt` is the UTC date of each record's
 * `started_at`, so a record is always found under the day its call began, even when it was
 * written later (a long watch that ends after midnight). Pure: no clock, no AWS.
 */

/** `2025-03-01T12:00:00.000Z` → `2025-03-01`. */
export function partitionDate(startedAt: string): string {
  const date = startedAt.slice(0, 10);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw new Error(`not an ISO 8601 UTC time: "${startedAt}"`);
  return date;
}

/** The folder of one day's records, e.g. `records/dt=2025-03-01/`. */
export function partitionPrefix(prefix: string, date: string): string {
  return `${prefix}dt=${date}/`;
}

/**
 * The key of one object. The write time leads the file name so a listing sorts by time; it
 * is compact (no colons) so the same keys are valid file names for the local S3 stand-in.
 */
export function objectKey(prefix: string, date: string, writtenAtMs: number, id: string): string {
  const stamp = new Date(writtenAtMs).toISOString().replace(/[-:]/g, '');
  return `${partitionPrefix(prefix, date)}${stamp}-${id}.jsonl.gz`;
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
