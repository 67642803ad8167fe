/**
 * A session record as it is stored: its JSON line, serialised once when the record is
 * written, plus the `cluster` and `started_at` that pick its partition. Pure.
 *
 * The line is kept as UTF-8 bytes, not as a string: a buffered record waits up to a whole
 * batch (500 records, seconds) before it is written, and V8's young-generation collector
 * copies every live string it finds (a ~4 KB line twice before it is promoted), so a buffer of
 * strings lengthened each scavenge pause the calls served meanwhile wait for. Bytes live
 * outside the heap and are never copied; they are also what the compressor needs.
 * `json` still reads as the string (decoded on demand) for whoever needs text.
 */
import type { RecordLine, SessionRecord } from '../ports/records.ts';

/**
 * A line made here: a class, so that `json` is one getter on the prototype. An object literal
 * with its own getter per record gives every record a hidden class of its own, and hidden
 * classes live in the old generation: at thousands of records a second that filled it fast
 * enough to force a full mark-compact collection about twice a second.
 */
class SerialisedLine implements RecordLine {
  constructor(
    readonly startedAt: string,
    readonly cluster: string | null,
    /** The line's UTF-8 bytes, without the newline. */
    readonly bytes: Buffer,
  ) {}

  get json(): string {
    return this.bytes.toString('utf8');
  }
}

export function toRecordLine(record: SessionRecord): RecordLine {
  return new SerialisedLine(record.started_at, record.cluster, Buffer.from(JSON.stringify(record), 'utf8'));
}

/** The line's UTF-8 bytes (without the newline): kept ones for lines made here, else encoded now. */
export function recordLineBytes(line: RecordLine): Uint8Array {
  return line instanceof SerialisedLine ? line.bytes : Buffer.from(line.json, 'utf8');
}
