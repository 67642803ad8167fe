/**
 * The signed tokens of Gatehouse's own links (approval links, recordings links): a JWT, HS256
 * (jose) under the link key, issuer `gatehouse`, an audience per kind of link (so no link opens
 * another kind's page), the person it names as `sub`, issued-at and expiry. Verification
 * checks signature, algorithm, issuer, audience, expiry against the time passed in and the
 * claims each kind requires, and says which check failed; each kind words that itself.
 * No clock import: times are passed in.
 */
import { SignJWT, errors, jwtVerify, type JWTPayload } from 'jose';

const ISSUER = 'gatehouse';

export interface LinkToken {
  audience: string;
  /** Who the link names (`sub`). */
  subject: string;
  /** The kind's own claims (`aid`, `rid`). */
  claims: Record<string, string>;
  /** The token's own id (`jti`), when the kind has one. */
  id?: string;
  /** Epoch ms. */
  expiresAt: number;
}

export async function signLinkToken(key: Uint8Array, token: LinkToken, now: number): Promise<string> {
  const jwt = new SignJWT(token.claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuer(ISSUER).setAudience(token.audience).setSubject(token.subject);
  if (token.id !== undefined) jwt.setJti(token.id);
  return jwt
    .setIssuedAt(Math.floor(now / 1000))
    .setExpirationTime(Math.ceil(token.expiresAt / 1000))
    .sign(key);
}

/** Why a link token did not verify. */
export type LinkTokenFailure =
  | { kind: 'expired'; exp: unknown }
  | { kind: 'signature' }
  | { kind: 'algorithm' }
  | { kind: 'claim'; claim: string }
  | { kind: 'malformed' };

/** The verified payload, or why it is not one. */
export async function verifyLinkToken(
  key: Uint8Array,
  token: string,
  expected: { audience: string; requiredClaims: string[] },
  now: number,
): Promise<{ payload: JWTPayload } | { failure: LinkTokenFailure }> {
  try {
    const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'], issuer: ISSUER, audience: expected.audience, currentDate: new Date(now), requiredClaims: expected.requiredClaims });
    return { payload };
  } catch (error) {
    if (error instanceof errors.JWTExpired) return { failure: { kind: 'expired', exp: error.payload.exp } };
    if (error instanceof errors.JWSSignatureVerificationFailed) return { failure: { kind: 'signature' } };
    if (error instanceof errors.JOSEAlgNotAllowed) return { failure: { kind: 'algorithm' } };
    if (error instanceof errors.JWTClaimValidationFailed) return { failure: { kind: 'claim', claim: error.claim } };
    return { failure: { kind: 'malformed' } };
  }
}

/** `<publicUrl><path>`, the public URL's trailing slash dropped. */
export function underPublicUrl(publicUrl: string, path: string): string {
  return `${publicUrl.endsWith('/') ? publicUrl.slice(0, -1) : publicUrl}${path}`;
}
