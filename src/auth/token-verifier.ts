/**
 * The one token verification path: a compact JWS → Identity. Both the OIDC authenticator
 * (keys from the issuer's remote JWKS) and the local development issuer (its own key) use
 * it, so what a dev token proves is exactly what an IdP token proves.
 *
 * Contract: `createTokenAuthenticator(settings, keys, options)` returns an Authenticator
 * whose `verify` resolves the Identity or rejects with a GatehouseError (401 codes).
 * Checked: asymmetric algorithm in settings.algorithms, signature by a key of `keys`, `iss`
 * equal to settings.issuer, `aud` containing settings.audience, `exp` present and not past,
 * `nbf` not future (both with settings.clockSkewSeconds), then the claim mapping.
 */
import { decodeProtectedHeader, errors, jwtVerify } from 'jose';
import type { JWTPayload, JWTVerifyGetKey, JWTVerifyOptions } from 'jose';
import { GatehouseError } from '../errors.ts';
import type { Authenticator } from '../ports/authenticator.ts';
import type { Clock } from '../types.ts';
import { systemClock } from '../types.ts';
import { identityFromClaims } from './identity-claims.ts';
import type { ClaimMapping } from './identity-claims.ts';
import { tokenError } from './token-errors.ts';
import { createVerifiedTokens } from './verified-tokens.ts';

export interface TokenSettings extends ClaimMapping {
  issuer: string;
  audience: string | string[];
  algorithms: string[];
  clockSkewSeconds: number;
}

/** Only these may sign a token: a shared-secret (HS*) or `none` token would be forgeable. */
export const ASYMMETRIC_ALGORITHMS: ReadonlySet<string> = new Set([
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519',
]);

/** Far above any real ID token (a few KB); bounds the work a hostile caller can ask for. */
export const MAX_TOKEN_LENGTH = 16 * 1024;

export function createTokenAuthenticator(settings: TokenSettings, keys: JWTVerifyGetKey, options: { clock?: Clock } = {}): Authenticator {
  const clock = options.clock ?? systemClock;
  const algorithms = settings.algorithms.filter((alg) => ASYMMETRIC_ALGORITHMS.has(alg));
  if (algorithms.length !== settings.algorithms.length || algorithms.length === 0) {
    // The config schema already allows only these; a programming error must not widen it.
    throw new Error(`token algorithms must be asymmetric (${[...ASYMMETRIC_ALGORITHMS].join(', ')}), got ${settings.algorithms.join(', ')}`);
  }

  // The same token arrives on every call of a session: its verdict is remembered briefly (see verified-tokens.ts).
  const verified = createVerifiedTokens();
  return {
    async verify(token: string) {
      const known = verified.recall(token, clock.now());
      if (known !== undefined) return known;
      const header = readHeader(token);
      const now = clock.now();
      const verifyOptions: JWTVerifyOptions = {
        issuer: settings.issuer,
        audience: settings.audience,
        algorithms,
        clockTolerance: settings.clockSkewSeconds,
        currentDate: new Date(now),
        requiredClaims: ['exp'],
      };
      let payload: JWTPayload;
      try {
        payload = await verifyWithAnyMatchingKey(token, keys, verifyOptions);
      } catch (error) {
        throw tokenError(error, { header, issuer: settings.issuer, audience: settings.audience, algorithms, clockSkewSeconds: settings.clockSkewSeconds, now });
      }
      return verified.remember(token, identityFromClaims(payload, settings), (payload.exp as number) * 1000, now);
    },
  };
}

/**
 * jwtVerify, and when the token names no `kid` and several keys of the set fit its
 * algorithm, each of them in turn (jose leaves that choice to the caller).
 */
async function verifyWithAnyMatchingKey(token: string, keys: JWTVerifyGetKey, options: JWTVerifyOptions): Promise<JWTPayload> {
  try {
    return (await jwtVerify(token, keys, options)).payload;
  } catch (error) {
    if (!(error instanceof errors.JWKSMultipleMatchingKeys)) throw error;
    for await (const key of error) {
      try {
        return (await jwtVerify(token, key, options)).payload;
      } catch (attempt) {
        if (!(attempt instanceof errors.JWSSignatureVerificationFailed)) throw attempt;
      }
    }
    throw error;
  }
}

/** The protected header, for naming alg and kid in messages; a token without one is malformed. */
function readHeader(token: string): { alg?: unknown; kid?: unknown } {
  if (token.length > MAX_TOKEN_LENGTH) {
    throw new GatehouseError('ERR_TOKEN_MALFORMED', `token is ${token.length} characters long; Gatehouse accepts at most ${MAX_TOKEN_LENGTH}`);
  }
  const parts = token.split('.').length;
  if (parts === 5) {
    throw new GatehouseError('ERR_TOKEN_MALFORMED', 'token is encrypted (JWE); Gatehouse accepts signed ID tokens (JWS) only');
  }
  if (parts !== 3) {
    throw new GatehouseError('ERR_TOKEN_MALFORMED', `token is not a JWT: it has ${parts} dot-separated parts, a signed JWT has 3`);
  }
  try {
    return decodeProtectedHeader(token);
  } catch {
    throw new GatehouseError('ERR_TOKEN_MALFORMED', 'token is not a JWT: its header is not base64url-encoded JSON');
  }
}
