/**
 * A session record as it is stored: its JSON line, serialised once when the record is
 * written, plus the `started_at` that picks its date partition. Pure.
 */
import type { RecordLine, SessionRecord } from '../ports/records.ts';

export function toRecordLine(record: SessionRecord): RecordLine {
  return { startedAt: record.started_at, json: JSON.stringify(record) };
}
