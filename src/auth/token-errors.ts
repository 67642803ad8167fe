/**
 * jose's verification errors → GatehouseError, so kubectl prints what was wrong with the
 * token (expired, wrong audience, unknown key …) instead of a bare "Unauthorized".
 *
 * Contract: `tokenError(error, context)` always returns a GatehouseError (401 codes only,
 * ERR_IDP_UNAVAILABLE included). Messages may quote header fields and verified claims, never
 * the token itself. Pure: the caller passes the time and the (unverified) protected header.
 */
import { GatehouseError } from '../errors.ts';
import { isJsonObject } from '../json-object.ts';

export interface TokenErrorContext {
  /** The token's protected header as decoded (unverified): only for naming alg and kid. */
  header: { alg?: unknown; kid?: unknown };
  issuer: string;
  audience: string | readonly string[];
  algorithms: readonly string[];
  clockSkewSeconds: number;
  /** Gatehouse's time, ms since the epoch. */
  now: number;
}

interface JoseLikeError {
  code: string;
  message: string;
  claim?: unknown;
  reason?: unknown;
  payload?: unknown;
}

export function tokenError(error: unknown, context: TokenErrorContext): GatehouseError {
  if (error instanceof GatehouseError) return error;
  if (!isJoseError(error)) {
    // jose throws plain TypeErrors for keys it cannot use (e.g. an RSA modulus under 2048 bits).
    const why = error instanceof Error ? error.message : String(error);
    return new GatehouseError('ERR_TOKEN_SIGNATURE', `token could not be verified with the issuer's key: ${why}`, { cause: error });
  }
  const claims = isJsonObject(error.payload) ? error.payload : {};
  switch (error.code) {
    case 'ERR_JWT_EXPIRED':
      return new GatehouseError(
        'ERR_TOKEN_EXPIRED',
        `token expired at ${isoTime(claims['exp'])} (Gatehouse time ${isoTime(context.now / 1000)}, clock skew allowed ${context.clockSkewSeconds}s)`,
        { cause: error },
      );
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return claimError(error, claims, context);
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return new GatehouseError(
        'ERR_TOKEN_ALGORITHM',
        `token algorithm ${quoted(context.header.alg)} is not allowed: Gatehouse accepts only the asymmetric algorithms ${context.algorithms.join(', ')}`,
        { cause: error },
      );
    case 'ERR_JOSE_NOT_SUPPORTED':
      return new GatehouseError('ERR_TOKEN_ALGORITHM', `token algorithm ${quoted(context.header.alg)} is not supported: ${error.message}`, {
        cause: error,
      });
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return new GatehouseError(
        'ERR_TOKEN_UNKNOWN_KEY',
        typeof context.header.kid === 'string'
          ? `no key in the issuer's JWKS matches kid ${quoted(context.header.kid)} (algorithm ${quoted(context.header.alg)})`
          : `token names no key (no "kid") and no key in the issuer's JWKS fits algorithm ${quoted(context.header.alg)}`,
        { cause: error },
      );
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return new GatehouseError(
        'ERR_TOKEN_SIGNATURE',
        typeof context.header.kid === 'string'
          ? `token signature does not verify with the issuer's key ${quoted(context.header.kid)}`
          : `token signature does not verify with any key of the issuer's JWKS`,
        { cause: error },
      );
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return new GatehouseError('ERR_TOKEN_MALFORMED', `token is not a well-formed signed JWT: ${error.message}`, { cause: error });
    case 'ERR_JWKS_TIMEOUT':
    case 'ERR_JWKS_INVALID':
    case 'ERR_JWK_INVALID':
      return new GatehouseError('ERR_IDP_UNAVAILABLE', `the identity provider's keys could not be used: ${error.message}`, { cause: error });
    default:
      return new GatehouseError('ERR_TOKEN_SIGNATURE', `token could not be verified: ${error.message}`, { cause: error });
  }
}

function claimError(error: JoseLikeError, claims: Record<string, unknown>, context: TokenErrorContext): GatehouseError {
  const options = { cause: error };
  const missing = error.reason === 'missing';
  switch (error.claim) {
    case 'iss':
      return new GatehouseError(
        'ERR_TOKEN_ISSUER',
        missing
          ? `token has no "iss" claim; the configured issuer is "${context.issuer}"`
          : `token issuer ${quoted(claims['iss'])} is not the configured issuer "${context.issuer}"`,
        options,
      );
    case 'aud': {
      const expected = typeof context.audience === 'string' ? [context.audience] : context.audience;
      const wanted = expected.map((a) => `"${a}"`).join(' or ');
      return new GatehouseError(
        'ERR_TOKEN_AUDIENCE',
        missing ? `token has no "aud" claim; Gatehouse expects audience ${wanted}` : `token audience ${quoted(claims['aud'])} does not include ${wanted}`,
        options,
      );
    }
    case 'nbf':
      if (error.reason === 'check_failed') {
        return new GatehouseError(
          'ERR_TOKEN_NOT_YET_VALID',
          `token is not valid before ${isoTime(claims['nbf'])} (Gatehouse time ${isoTime(context.now / 1000)}, clock skew allowed ${context.clockSkewSeconds}s)`,
          options,
        );
      }
      break;
    case 'exp':
      if (missing) return new GatehouseError('ERR_TOKEN_CLAIMS', 'token has no "exp" claim: Gatehouse accepts only tokens that expire', options);
      break;
  }
  return new GatehouseError('ERR_TOKEN_CLAIMS', `token claim ${quoted(error.claim)} is unusable: ${error.message}`, options);
}

function isJoseError(error: unknown): error is JoseLikeError {
  if (!(error instanceof Error)) return false;
  const code: unknown = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('ERR_J');
}

function isoTime(seconds: unknown): string {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return String(seconds);
  const date = new Date(Math.floor(seconds) * 1000);
  return Number.isNaN(date.getTime()) ? String(seconds) : date.toISOString();
}

/** Quotes a header or claim value for a message, bounded so a hostile token cannot flood logs. */
function quoted(value: unknown): string {
  if (Array.isArray(value)) return value.map(quoted).join(', ');
  const text = typeof value === 'string' ? value : value === undefined ? '(none)' : JSON.stringify(value);
  const bounded = text.length > 100 ? `${text.slice(0, 100)}…` : text;
  return typeof value === 'string' ? JSON.stringify(bounded) : bounded;
}
