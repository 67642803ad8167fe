/**
 * One page of the recordings list: recording objects listed from the store a bounded page at a
 * time (S3 ListObjects with MaxKeys and a marker), newest day first — within a day in key
 * (request id) order — each described by its call's record, read from the records of the
 * page's days only.
 *
 * The cursor of the next page (`day` and, mid-day, the request id of the last recording shown)
 * travels in the page link as base64url JSON; it is checked when it comes back (a day of the
 * listed range, a well-formed request id) and becomes the listing's marker inside that day's
 * folder, so it can only say where the listing resumes, never list anything else.
 */
import { GatehouseError } from '../errors.ts';
import type { RecordArchive, SessionRecord } from '../ports/records.ts';
import { datePrefix } from '../records/layout.ts';
import type { RecordingObjects } from './store.ts';

/** Rows per page unless the viewer says fewer. */
export const RECORDINGS_PAGE_SIZE = 50;
const CAST_SUFFIX = '.cast.gz';
const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

export interface PageCursor {
  day: string;
  /** The request id of the last recording listed of `day`: the next page starts after it. */
  after?: string;
}

export interface RecordingRow {
  day: string;
  requestId: string;
  key: string;
  /** The call's outcome record; undefined when none was found (not yet written, or lost). */
  record?: SessionRecord;
}

export interface RecordingsPage {
  rows: RecordingRow[];
  /** Where the next page starts; undefined on the last page. */
  next?: PageCursor;
}

export function encodeCursor(cursor: PageCursor): string {
  return Buffer.from(JSON.stringify(cursor.after === undefined ? { d: cursor.day } : { d: cursor.day, a: cursor.after })).toString('base64url');
}

/** The cursor of a page link, checked against the days listed; ERR_REQUEST_INVALID when it is not one this page made. */
export function decodeCursor(text: string, days: readonly string[]): PageCursor {
  const invalid = (why: string): GatehouseError => new GatehouseError('ERR_REQUEST_INVALID', `the page parameter is not a page of this list: ${why}`);
  if (text.length > 400 || !/^[A-Za-z0-9_-]+$/.test(text)) throw invalid('not base64url of a bounded size');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw invalid('not JSON');
  }
  const { d, a } = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as { d?: unknown; a?: unknown };
  if (typeof d !== 'string' || !days.includes(d)) throw invalid(`its day is not one of ${days.at(-1) ?? ''} … ${days[0] ?? ''}`);
  if (a === undefined) return { day: d };
  if (typeof a !== 'string' || !REQUEST_ID.test(a)) throw invalid('it names no request id to resume after');
  return { day: d, after: a };
}

/**
 * Up to `pageSize` recordings of `days` (newest first) from `cursor` on, with the cursor of the
 * page after; the store is asked for no more keys than the page still has room for.
 */
export async function recordingsPage(
  source: { objects: RecordingObjects; archive: RecordArchive; prefix: string },
  days: readonly string[],
  cursor: PageCursor | undefined,
  pageSize: number,
): Promise<RecordingsPage> {
  let dayIndex = cursor === undefined ? 0 : days.indexOf(cursor.day);
  let after = cursor?.after === undefined ? undefined : `${datePrefix(source.prefix, cursor.day)}${cursor.after}${CAST_SUFFIX}`;
  const found: { day: string; key: string }[] = [];
  let next: PageCursor | undefined;
  while (dayIndex < days.length && found.length < pageSize) {
    const day = days[dayIndex] as string;
    const listed = await source.objects.list(datePrefix(source.prefix, day), { maxKeys: pageSize - found.length, ...(after === undefined ? {} : { startAfter: after }) });
    for (const key of listed.keys) if (key.endsWith(CAST_SUFFIX)) found.push({ day, key });
    const last = listed.keys.at(-1);
    if (listed.truncated && last !== undefined) after = last;
    else {
      after = undefined;
      dayIndex++;
    }
  }
  const rows: RecordingRow[] = found.map(({ day, key }) => ({ day, key, requestId: key.slice(key.lastIndexOf('/') + 1, -CAST_SUFFIX.length) }));
  const lastRow = rows.at(-1);
  if (after !== undefined && lastRow !== undefined) next = { day: lastRow.day, after: lastRow.requestId };
  else if (dayIndex < days.length) next = { day: days[dayIndex] as string };

  if (rows.length > 0) {
    const byKey = new Map(rows.map((row) => [row.key, row]));
    const pageDays = [...new Set(rows.map((row) => row.day))].sort();
    for await (const record of source.archive.read({ fromDate: pageDays[0] as string, toDate: pageDays.at(-1) as string })) {
      if (record.phase !== 'outcome' || record.recording_key === null) continue;
      const row = byKey.get(record.recording_key);
      if (row !== undefined) row.record = record;
    }
  }
  rows.sort((a, b) => (a.day !== b.day ? (a.day < b.day ? 1 : -1) : (b.record?.started_at ?? '').localeCompare(a.record?.started_at ?? '')));
  return next === undefined ? { rows } : { rows, next };
}
