/**
 * Approval links and the page's form token.
 *
 * A link is `<publicUrl>/_gatehouse/approvals/<id>?t=<JWT>`; the JWT (HS256, jose) names the
 * approval (`aid`), the approver (`sub`), its own id (`jti`) and an expiry. Verification
 * checks signature, algorithm, issuer, audience, expiry (against the injected time) and that
 * the link names the approval in the URL, so a link cannot be altered or carried over to
 * another approval. The form token is an HMAC of the link id: the page's POST must carry it,
 * which binds a decision to the page the link opened. No clock import: times are passed in.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { SignJWT, errors, jwtVerify } from 'jose';
import { GatehouseError } from '../errors.ts';
import { iso } from './approval.ts';

const ISSUER = 'gatehouse';
const AUDIENCE = 'gatehouse:approval-link';

export interface LinkClaims {
  approvalId: string;
  approver: string;
  linkId: string;
  /** Epoch ms. */
  expiresAt: number;
}

export async function signLink(key: Uint8Array, claims: LinkClaims, now: number): Promise<string> {
  return new SignJWT({ aid: claims.approvalId })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(claims.approver)
    .setJti(claims.linkId)
    .setIssuedAt(Math.floor(now / 1000))
    .setExpirationTime(Math.ceil(claims.expiresAt / 1000))
    .sign(key);
}

export function linkUrl(publicUrl: string, approvalId: string, token: string): string {
  const base = publicUrl.endsWith('/') ? publicUrl.slice(0, -1) : publicUrl;
  return `${base}/_gatehouse/approvals/${encodeURIComponent(approvalId)}?t=${token}`;
}

/** Verifies a link for `approvalId`; throws ERR_APPROVAL_LINK_INVALID saying what is wrong. */
export async function verifyLink(key: Uint8Array, token: string, approvalId: string, now: number): Promise<LinkClaims> {
  const invalid = (why: string): GatehouseError =>
    new GatehouseError('ERR_APPROVAL_LINK_INVALID', `this approval link is not valid: ${why}`);
  if (token === '') throw invalid('it carries no token (the "t" parameter is missing)');
  let payload;
  try {
    ({ payload } = await jwtVerify(token, key, {
      algorithms: ['HS256'],
      issuer: ISSUER,
      audience: AUDIENCE,
      currentDate: new Date(now),
      requiredClaims: ['sub', 'jti', 'exp', 'aid'],
    }));
  } catch (error) {
    if (error instanceof errors.JWTExpired) {
      const exp = typeof error.payload.exp === 'number' ? ` at ${iso(error.payload.exp * 1000)}` : '';
      throw invalid(`it expired${exp}`);
    }
    if (error instanceof errors.JWSSignatureVerificationFailed) throw invalid('its signature does not match (forged or altered)');
    if (error instanceof errors.JOSEAlgNotAllowed) throw invalid('it is not signed the way Gatehouse signs links');
    if (error instanceof errors.JWTClaimValidationFailed) throw invalid(`its "${error.claim}" claim is wrong`);
    throw invalid('it is malformed (forged or altered)');
  }
  if (payload.aid !== approvalId) throw invalid(`it was issued for another approval, not ${approvalId}`);
  if (typeof payload.sub !== 'string' || typeof payload.jti !== 'string' || typeof payload.exp !== 'number') {
    throw invalid('its claims are malformed');
  }
  return { approvalId, approver: payload.sub, linkId: payload.jti, expiresAt: payload.exp * 1000 };
}

/** The token the approval page's form carries back: bound to one link. */
export function formTokenFor(key: Uint8Array, linkId: string): string {
  return createHmac('sha256', key).update(`approval-form:${linkId}`).digest('base64url');
}

/** Compares a presented form token with the expected one in constant time. */
export function formTokenMatches(expected: string, presented: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}
