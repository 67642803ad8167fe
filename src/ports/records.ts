/** Port: where session records go (issue 5 fills this in). */
export type SessionRecord = Record<string, unknown>;

export interface RecordSink {
  /** Must be durable when it resolves; used for the record of intent of mutating calls. */
  writeDurable(record: SessionRecord): Promise<void>;
  /** May buffer; never blocks the response path. */
  write(record: SessionRecord): void;
}
