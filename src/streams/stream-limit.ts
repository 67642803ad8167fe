/**
 * The per-user cap on concurrent long streams, over a StreamLeaseStore.
 *
 * `open(user, what)` takes a lease that lapses `leaseSeconds` from now and is renewed every
 * third of that while the stream runs; `close()` on the returned lease frees the slot. A
 * process that dies with a stream open stops renewing, so its slot frees itself within
 * `leaseSeconds`. A user at the cap gets ERR_STREAM_LIMIT (429, Retry-After); a store that
 * cannot answer gets ERR_STREAM_LEASES_UNAVAILABLE (503): no lease, no stream.
 *
 * Releases and renewals run in the background; `settle()` waits for those under way — the
 * Lambda handler calls it before its invocation ends, so no release is frozen half-done.
 */
import { GatehouseError } from '../errors.ts';
import type { LeaseEntry, StreamLeaseStore } from '../ports/stream-leases.ts';
import type { Clock } from '../types.ts';
import { systemClock } from '../types.ts';

export interface StreamLimiterOptions {
  store: StreamLeaseStore;
  /** Long streams one user may have open at once. */
  maxPerUser: number;
  /** A lease lapses this long after it was taken or last renewed. */
  leaseSeconds: number;
  clock?: Clock;
  log?: (event: Record<string, unknown>) => void;
  newId?: () => string;
}

export interface OpenStream {
  /** Frees the slot (once; later calls do nothing). */
  close(): void;
}

export interface StreamLimiter {
  readonly maxPerUser: number;
  /** Takes one of `user`'s slots for the stream `what` (words, e.g. `watch pods in namespace "dev"`), or refuses. */
  open(user: string, what: string): Promise<OpenStream>;
  /** The user's streams holding a slot now (diagnostics, tests). */
  live(user: string): Promise<LeaseEntry[]>;
  /** Resolves once every release and renewal under way has settled. */
  settle(): Promise<void>;
  /** Stops every renewal timer (shutdown). */
  stop(): void;
}

const stderrLog = (event: Record<string, unknown>): void => {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), component: 'streams', ...event })}\n`);
};

export function createStreamLimiter(options: StreamLimiterOptions): StreamLimiter {
  const { store, maxPerUser, leaseSeconds } = options;
  const clock = options.clock ?? systemClock;
  const log = options.log ?? stderrLog;
  const newId = options.newId ?? (() => crypto.randomUUID());
  const leaseMs = leaseSeconds * 1000;
  const pending = new Set<Promise<unknown>>();
  const timers = new Set<NodeJS.Timeout>();

  function track(work: Promise<unknown>): void {
    const settled = work.catch(() => undefined).finally(() => pending.delete(settled));
    pending.add(settled);
  }

  return {
    maxPerUser,
    async open(user, what) {
      const id = newId();
      const now = clock.now();
      const outcome = await store.acquire(user, { id, expiresAt: now + leaseMs, what }, maxPerUser, now);
      if (!outcome.taken) {
        const frees = Math.max(1, Math.ceil((outcome.nextExpiry - now) / 1000));
        throw new GatehouseError(
          'ERR_STREAM_LIMIT',
          `user "${user}" has ${outcome.held} long streams open (watch, logs -f, exec, attach, port-forward), the most Gatehouse allows per user (${maxPerUser}); ` +
            `${what} was not started: end one of the others and retry (a stream that ended without closing frees its slot within ${frees}s)`,
        );
      }
      const renew = (): void => {
        track(
          store.renew(user, id, clock.now() + leaseMs).then(
            (held) => {
              if (!held) log({ level: 'warn', event: 'stream_lease_lost', message: `the lease of ${what} (user "${user}") lapsed before it was renewed; the stream goes on uncounted` });
            },
            (error: unknown) => log({ level: 'error', event: 'stream_lease_renew_failed', message: `the lease of ${what} (user "${user}") could not be renewed: ${String(error)}` }),
          ),
        );
      };
      const timer = setInterval(renew, Math.max(1000, Math.floor(leaseMs / 3)));
      timer.unref();
      timers.add(timer);
      let closed = false;
      return {
        close() {
          if (closed) return;
          closed = true;
          clearInterval(timer);
          timers.delete(timer);
          track(
            store.release(user, id).catch((error: unknown) => {
              log({ level: 'error', event: 'stream_lease_release_failed', message: `the lease of ${what} (user "${user}") could not be released; it lapses within ${leaseSeconds}s: ${String(error)}` });
            }),
          );
        },
      };
    },
    live: (user) => store.live(user, clock.now()),
    async settle() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
    stop() {
      for (const timer of timers) clearInterval(timer);
      timers.clear();
    },
  };
}
