/**
 * A session record as it is stored: its JSON line, serialised once when the record is
 * written, plus the `started_at` that picks its date partition. Pure.
 *
 * The line is kept as UTF-8 bytes, not as a string: a buffered record waits up to a whole
 * batch (500 records, seconds) before it is written, and V8's young-generation collector
 * copies every live string it finds (a ~4 KB line twice before it is promoted), so a buffer of
 * strings lengthened each scavenge pause the calls served meanwhile wait for. Bytes live
 * outside the heap and are never copied; they are also what the compressor needs.
 * `json` still reads as the string (decoded on demand) for whoever needs text.
 */
import type { RecordLine, SessionRecord } from '../ports/records.ts';

/** The bytes ride on the line under a module-private symbol: no WeakMap entry per record for the collector to track. */
const LINE_BYTES = Symbol('gatehouse.recordLineBytes');

type SerialisedLine = RecordLine & { readonly [LINE_BYTES]?: Uint8Array };

export function toRecordLine(record: SessionRecord): RecordLine {
  const bytes = Buffer.from(JSON.stringify(record), 'utf8');
  const line: SerialisedLine = {
    startedAt: record.started_at,
    get json(): string {
      return bytes.toString('utf8');
    },
    [LINE_BYTES]: bytes,
  };
  return line;
}

/** The line's UTF-8 bytes (without the newline): kept ones for lines made here, else encoded now. */
export function recordLineBytes(line: RecordLine): Uint8Array {
  return (line as SerialisedLine)[LINE_BYTES] ?? Buffer.from(line.json, 'utf8');
}
