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
import { GatehouseError } from '../errors.ts';
import { signLinkToken, underPublicUrl, verifyLinkToken } from '../link-token.ts';
import { iso } from './approval.ts';

const AUDIENCE = 'gatehouse:approval-link';

export interface LinkClaims {
  approvalId: string;
  approver: string;
  linkId: string;
  /** Epoch ms. */
  expiresAt: number;
}

export async function signLink(key: Uint8Array, claims: LinkClaims, now: number): Promise<string> {
  return signLinkToken(key, { audience: AUDIENCE, subject: claims.approver, claims: { aid: claims.approvalId }, id: claims.linkId, expiresAt: claims.expiresAt }, now);
}

export function linkUrl(publicUrl: string, approvalId: string, token: string): string {
  return underPublicUrl(publicUrl, `/_gatehouse/approvals/${encodeURIComponent(approvalId)}?t=${token}`);
}

/** Verifies a link for `approvalId`; throws ERR_APPROVAL_LINK_INVALID saying what is wrong. */
export async function verifyLink(key: Uint8Array, token: string, approvalId: string, now: number): Promise<LinkClaims> {
  const invalid = (why: string): GatehouseError =>
    new GatehouseError('ERR_APPROVAL_LINK_INVALID', `this approval link is not valid: ${why}`);
  if (token === '') throw invalid('it carries no token (the "t" parameter is missing)');
  const verified = await verifyLinkToken(key, token, { audience: AUDIENCE, requiredClaims: ['sub', 'jti', 'exp', 'aid'] }, now);
  if ('failure' in verified) {
    const failure = verified.failure;
    switch (failure.kind) {
      case 'expired':
        throw invalid(`it expired${typeof failure.exp === 'number' ? ` at ${iso(failure.exp * 1000)}` : ''}`);
      case 'signature':
        throw invalid('its signature does not match (forged or altered)');
      case 'algorithm':
        throw invalid('it is not signed the way Gatehouse signs links');
      case 'claim':
        throw invalid(`its "${failure.claim}" claim is wrong`);
      case 'malformed':
        throw invalid('it is malformed (forged or altered)');
    }
  }
  const payload = verified.payload;
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
