/**
 * The issuer's signing keys (its JWKS), fetched on first use and kept by Gatehouse's own
 * clock, so that an identity provider that is down for a while does not lock everyone out.
 *
 * Contract: `createKeySet(options)` returns a jose key resolver. It
 * - loads the key set on first use; a failed first load rejects with the loader's error
 *   (ERR_IDP_UNAVAILABLE) and is tried again by the next token;
 * - refreshes the set once it is `maxAgeMs` old, at most once per `cooldownMs`; when that
 *   refresh fails, the keys it has keep working (logged), up to `maxStaleMs` after they were
 *   fetched — a token is short-lived and its issuer's keys rarely change, so a known key is
 *   better evidence than none; past that, tokens are refused with the refresh's error;
 * - when a token names a key the set does not hold (a rotation), fetches the set again, at
 *   most once per `cooldownMs`; if that fetch fails, the token is refused with
 *   ERR_TOKEN_UNKNOWN_KEY naming the kid and why the set could not be fetched.
 * Concurrent callers share one fetch. No timers: every decision reads the injected clock.
 */
import { createLocalJWKSet, errors } from 'jose';
import type { JSONWebKeySet, JWTVerifyGetKey } from 'jose';
import { GatehouseError } from '../errors.ts';
import type { Clock } from '../types.ts';

export interface KeySetOptions {
  /** Fetches the key set; rejects with a GatehouseError (ERR_IDP_UNAVAILABLE) saying why it could not. */
  load: () => Promise<JSONWebKeySet>;
  clock: Clock;
  /** A key set this old is fetched again (default 10 minutes, as jose does). */
  maxAgeMs?: number;
  /** At most one fetch per this interval after a refresh or an unknown kid (default 30 s, as jose does). */
  cooldownMs?: number;
  /** Keys older than this are no longer used while refreshes fail (default 24 hours). */
  maxStaleMs?: number;
  log?: (message: string) => void;
}

type LocalKeys = ReturnType<typeof createLocalJWKSet>;

export const KEY_SET_MAX_AGE_MS = 10 * 60 * 1000;
export const KEY_SET_COOLDOWN_MS = 30 * 1000;
export const KEY_SET_MAX_STALE_MS = 24 * 60 * 60 * 1000;

export function createKeySet(options: KeySetOptions): JWTVerifyGetKey {
  const { clock } = options;
  const maxAgeMs = options.maxAgeMs ?? KEY_SET_MAX_AGE_MS;
  const cooldownMs = options.cooldownMs ?? KEY_SET_COOLDOWN_MS;
  const maxStaleMs = options.maxStaleMs ?? KEY_SET_MAX_STALE_MS;
  const log = options.log ?? ((message: string) => console.error(`gatehouse oidc: ${message}`));
  let current: { keys: LocalKeys; fetchedAt: number } | undefined;
  let lastAttempt = Number.NEGATIVE_INFINITY;
  let lastFailure: GatehouseError | undefined;
  let inFlight: Promise<void> | undefined;

  async function fetchKeys(): Promise<void> {
    lastAttempt = clock.now();
    try {
      const jwks = await options.load();
      current = { keys: createLocalJWKSet(jwks), fetchedAt: clock.now() };
      lastFailure = undefined;
    } catch (error) {
      lastFailure =
        error instanceof GatehouseError
          ? error
          : new GatehouseError('ERR_IDP_UNAVAILABLE', `the identity provider's JWKS could not be used: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      throw lastFailure;
    }
  }

  function refresh(): Promise<void> {
    inFlight ??= fetchKeys().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  }

  const coolingDown = (): boolean => clock.now() - lastAttempt < cooldownMs;

  return async function keyFor(header, token) {
    if (current === undefined) {
      await refresh();
    } else if (clock.now() - current.fetchedAt >= maxAgeMs && !coolingDown()) {
      await refresh().catch((error: unknown) => {
        log(`refreshing the issuer's keys failed; keeping the keys fetched at ${new Date(current?.fetchedAt ?? 0).toISOString()}: ${(error as Error).message}`);
      });
    }
    const held = current;
    if (held === undefined) throw lastFailure ?? new GatehouseError('ERR_IDP_UNAVAILABLE', "the identity provider's JWKS could not be used");
    if (clock.now() - held.fetchedAt >= maxStaleMs) {
      throw new GatehouseError(
        'ERR_IDP_UNAVAILABLE',
        `the identity provider's keys were last fetched at ${new Date(held.fetchedAt).toISOString()}, more than ${maxStaleMs / 3600000} hours ago, and fetching them again fails: ${lastFailure?.message ?? 'no answer'}`,
      );
    }
    try {
      return await held.keys(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      // Fetched moments ago and that fetch failed: the token's key cannot be looked up now.
      if (coolingDown()) throw lastFailure === undefined ? error : unknownKey(header, held.fetchedAt, lastFailure);
    }
    // A key the set does not hold: the issuer may have rotated. Look once more.
    try {
      await refresh();
    } catch (failure) {
      throw unknownKey(header, held.fetchedAt, failure);
    }
    return (current ?? held).keys(header, token);
  };
}

function unknownKey(header: { kid?: unknown; alg?: unknown }, fetchedAt: number, failure: unknown): GatehouseError {
  return new GatehouseError(
    'ERR_TOKEN_UNKNOWN_KEY',
    `no key in the issuer's JWKS (as fetched at ${new Date(fetchedAt).toISOString()}) matches ${describeKey(header)}, and fetching the JWKS again to look for it failed: ${(failure as Error).message}`,
    { cause: failure },
  );
}

function describeKey(header: { kid?: unknown; alg?: unknown }): string {
  const text = (value: unknown): string => JSON.stringify(typeof value === 'string' ? value.slice(0, 100) : String(value));
  return typeof header.kid === 'string' ? `kid ${text(header.kid)} (algorithm ${text(header.alg)})` : `algorithm ${text(header.alg)} (the token names no kid)`;
}
