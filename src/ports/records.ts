/**
 * Ports for session records.
 * - RecordStore: durable storage of batches of record lines (adapter: S3, also used against the local S3 stand-in).
 * - RecordArchive: reading records back, for replay and tests.
 * - RecordSink: what the pipeline writes to (src/records/sink.ts batches over a RecordStore).
 */
import type { SessionRecord } from '../records/schema.ts';

export type { SessionRecord } from '../records/schema.ts';

/**
 * One session record serialised once, when it is written (`records/record-line.ts`): a batch
 * is then only joined, never stringified whole on the event loop.
 */
export interface RecordLine {
  /** The record's `started_at`, which picks its date partition. */
  readonly startedAt: string;
  /** The record's `cluster`, which picks its cluster partition (null: `_unrouted`). */
  readonly cluster: string | null;
  /** `JSON.stringify(record)`, without the newline. */
  readonly json: string;
}

export interface RecordStore {
  /** Human-readable location, for logs and error messages (e.g. `s3://bucket/records/`). */
  readonly location: string;
  /** Durable when it resolves; rejects with a GatehouseError ERR_RECORD_UNAVAILABLE otherwise. */
  put(lines: readonly RecordLine[]): Promise<void>;
}

export interface RecordQuery {
  /** The cluster partitions to read (configured names; `null` for calls that named none); default: all. */
  clusters?: readonly (string | null)[];
  /** Inclusive UTC dates (YYYY-MM-DD) of the partitions to read; default: all. */
  fromDate?: string;
  toDate?: string;
}

export interface RecordArchive {
  readonly location: string;
  /** Every record in the chosen partitions, in no particular order. */
  read(query: RecordQuery): AsyncIterable<SessionRecord>;
}

export interface RecordSink {
  /**
   * Durable when it resolves; used for the record of intent of mutating calls. Rejects when the
   * store is down. Buffered records may be written in the same object.
   */
  writeDurable(record: SessionRecord): Promise<void>;
  /** Buffers; never blocks and never throws. */
  write(record: SessionRecord): void;
  /** Writes what is buffered now (retried records included); never rejects. */
  flush(): Promise<void>;
  /**
   * Writes what is buffered when a batch is full or the oldest record has waited the sink's
   * longest wait; else leaves it buffered (and waits only for a write under way). Never rejects.
   */
  flushIfDue(): Promise<void>;
  /**
   * Announces a record still to come (a response body still streaming); call the returned
   * function once it was written. close() waits for these, so streams that shutdown ends
   * still get their records.
   */
  hold(): () => void;
  /** Waits for held records (a grace period at most), flushes, and stops the flush timer. */
  close(): Promise<void>;
}
