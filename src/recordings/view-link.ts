/**
 * Links to the recordings page: `<publicUrl>/_gatehouse/recordings?t=<JWT>` (every session)
 * or `…/recordings/<dt>/<request id>?t=<JWT>` (one). The JWT (HS256, the approval-link key)
 * names the viewer (`sub`), what it opens (`rid`: one request id, or `*` for all) and an
 * expiry of at most a day; its audience is not the approval links' — neither opens the other.
 * Minted by `gatehouse sessions link` by whoever holds the key. No clock import.
 */
import { SignJWT, errors, jwtVerify } from 'jose';
import { GatehouseError } from '../errors.ts';

const ISSUER = 'gatehouse';
const AUDIENCE = 'gatehouse:recordings-view';
export const ALL_SESSIONS = '*';
export const MAX_VIEW_LINK_SECONDS = 86_400;

export interface ViewClaims {
  viewer: string;
  /** A request id, or ALL_SESSIONS. */
  scope: string;
  /** Epoch ms. */
  expiresAt: number;
}

export async function signViewLink(key: Uint8Array, claims: ViewClaims, now: number): Promise<string> {
  if (claims.expiresAt - now > MAX_VIEW_LINK_SECONDS * 1000) throw new Error(`a recordings link lives at most ${MAX_VIEW_LINK_SECONDS / 3600} hours`);
  return new SignJWT({ rid: claims.scope })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(claims.viewer)
    .setIssuedAt(Math.floor(now / 1000))
    .setExpirationTime(Math.ceil(claims.expiresAt / 1000))
    .sign(key);
}

/** Verifies a link for `requestId` (or for the list: ALL_SESSIONS); throws ERR_VIEW_LINK_INVALID saying why. */
export async function verifyViewLink(key: Uint8Array, token: string, requestId: string, now: number): Promise<ViewClaims> {
  const invalid = (why: string): GatehouseError => new GatehouseError('ERR_VIEW_LINK_INVALID', `this recordings link is not valid: ${why}`);
  if (token === '') throw invalid('it carries no token (the "t" parameter is missing)');
  let payload;
  try {
    ({ payload } = await jwtVerify(token, key, { algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE, currentDate: new Date(now), requiredClaims: ['sub', 'exp', 'rid'] }));
  } catch (error) {
    if (error instanceof errors.JWTExpired) throw invalid('it expired');
    if (error instanceof errors.JWSSignatureVerificationFailed) throw invalid('its signature does not match (forged or altered)');
    if (error instanceof errors.JWTClaimValidationFailed) throw invalid(`its "${error.claim}" claim is wrong`);
    throw invalid('it is malformed (forged or altered)');
  }
  if (typeof payload.sub !== 'string' || typeof payload.rid !== 'string' || typeof payload.exp !== 'number') throw invalid('its claims are malformed');
  if (payload.rid !== ALL_SESSIONS && payload.rid !== requestId) {
    throw invalid(requestId === ALL_SESSIONS ? 'it opens one recording, not the list of sessions' : `it opens another recording, not ${requestId}`);
  }
  return { viewer: payload.sub, scope: payload.rid, expiresAt: payload.exp * 1000 };
}

export function viewLinkUrl(publicUrl: string, token: string, target?: { date: string; requestId: string }): string {
  const base = publicUrl.endsWith('/') ? publicUrl.slice(0, -1) : publicUrl;
  const path = target === undefined ? '' : `/${encodeURIComponent(target.date)}/${encodeURIComponent(target.requestId)}`;
  return `${base}/_gatehouse/recordings${path}?t=${token}`;
}
