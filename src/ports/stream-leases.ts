/**
 * Port: the shared count of each user's open long streams (watch, `logs -f`, exec/attach/
 * port-forward tunnels). On Lambda every stream is its own invocation, possibly in another
 * execution environment, so the count lives in a store all of them share (adapter: DynamoDB,
 * also spoken by the local dynalite stand-in). A lease expires unless renewed, so a stream
 * whose process crashed cannot hold its slot for ever.
 */

/** One open stream's slot, as stored. */
export interface LeaseEntry {
  id: string;
  /** Epoch ms after which the slot is free again unless renewed. */
  expiresAt: number;
  /** What the stream is, for operators reading the table (`watch pods in namespace "dev"`). */
  what: string;
}

export type AcquireOutcome =
  | { taken: true }
  /** The user holds `held` live leases already; the first of them lapses at `nextExpiry` (epoch ms) unless renewed. */
  | { taken: false; held: number; nextExpiry: number };

export interface StreamLeaseStore {
  /**
   * Takes a slot for `user` when fewer than `max` of the user's leases are live at `now`
   * (lapsed ones are dropped in the same write). Rejects with ERR_STREAM_LEASES_UNAVAILABLE
   * when the store cannot answer.
   */
  acquire(user: string, lease: LeaseEntry, max: number, now: number): Promise<AcquireOutcome>;
  /** Moves a lease's expiry on; false when the lease is gone (it lapsed and was dropped). */
  renew(user: string, id: string, expiresAt: number): Promise<boolean>;
  /** Frees the slot; a lease already gone is not an error. */
  release(user: string, id: string): Promise<void>;
  /** The user's live leases at `now` (diagnostics, tests). */
  live(user: string, now: number): Promise<LeaseEntry[]>;
}
