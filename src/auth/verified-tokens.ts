/**
 * A short memory of tokens already verified, so the same ID token — kubectl sends one token
 * for every call of a session, an agent for hours of calls — is not signature-checked on
 * every request (an RSA/ECDSA verify is most of what authentication costs per call).
 *
 * Contract: `remember(token, identity, expiresAtMs, nowMs)` keeps the identity until the
 * earlier of the token's `exp` and MAX_REMEMBER_MS after it was verified; `recall(token,
 * nowMs)` returns it only before then, by the injected clock. The key is the whole token
 * string, so only the very bytes that were verified match. Bounded: past MAX_TOKENS the
 * oldest entry goes. Identities handed out are frozen — they are shared between requests.
 *
 * Why the short bound is safe: nothing can revoke a JWT before its `exp` anyway, and the
 * key set it was checked against is itself cached for minutes (jose keeps a JWKS for up to
 * 10 minutes), so remembering a verdict for a minute adds no new window.
 */
import type { Identity } from '../types.ts';

/** At most this long after verification a token is taken on trust. */
export const MAX_REMEMBER_MS = 60_000;
/** At most this many tokens are remembered (callers × their current tokens). */
export const MAX_TOKENS = 4096;

interface Remembered {
  identity: Identity;
  untilMs: number;
}

export interface VerifiedTokens {
  recall(token: string, nowMs: number): Identity | undefined;
  remember(token: string, identity: Identity, expiresAtMs: number, nowMs: number): Identity;
}

export function createVerifiedTokens(): VerifiedTokens {
  const entries = new Map<string, Remembered>();
  return {
    recall(token, nowMs) {
      const entry = entries.get(token);
      if (entry === undefined) return undefined;
      if (nowMs >= entry.untilMs) {
        entries.delete(token);
        return undefined;
      }
      return entry.identity;
    },
    remember(token, identity, expiresAtMs, nowMs) {
      const frozen = freezeIdentity(identity);
      const untilMs = Math.min(expiresAtMs, nowMs + MAX_REMEMBER_MS);
      if (!(untilMs > nowMs)) return frozen;
      entries.delete(token);
      entries.set(token, { identity: frozen, untilMs });
      if (entries.size > MAX_TOKENS) {
        const oldest = entries.keys().next().value;
        if (oldest !== undefined) entries.delete(oldest);
      }
      return frozen;
    },
  };
}

function freezeIdentity(identity: Identity): Identity {
  Object.freeze(identity.groups);
  return Object.freeze(identity);
}
