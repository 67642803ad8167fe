/**
 * Links to the recordings page: `<publicUrl>/_gatehouse/recordings?t=<JWT>` (every session)
 * or `…/recordings/<dt>/<request id>?t=<JWT>` (one). The JWT (HS256, the approval-link key)
 * names the viewer (`sub`), what it opens (`rid`: one request id, or `*` for all) and an
 * expiry of at most a day; its audience is not the approval links' — neither opens the other.
 * Minted by `gatehouse sessions link` by whoever holds the key. No clock import.
 */
import { GatehouseError } from '../errors.ts';
import { signLinkToken, underPublicUrl, verifyLinkToken } from '../link-token.ts';

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
  return signLinkToken(key, { audience: AUDIENCE, subject: claims.viewer, claims: { rid: claims.scope }, expiresAt: claims.expiresAt }, now);
}

/** Verifies a link for `requestId` (or for the list: ALL_SESSIONS); throws ERR_VIEW_LINK_INVALID saying why. */
export async function verifyViewLink(key: Uint8Array, token: string, requestId: string, now: number): Promise<ViewClaims> {
  const invalid = (why: string): GatehouseError => new GatehouseError('ERR_VIEW_LINK_INVALID', `this recordings link is not valid: ${why}`);
  if (token === '') throw invalid('it carries no token (the "t" parameter is missing)');
  const verified = await verifyLinkToken(key, token, { audience: AUDIENCE, requiredClaims: ['sub', 'exp', 'rid'] }, now);
  if ('failure' in verified) {
    const failure = verified.failure;
    if (failure.kind === 'expired') throw invalid('it expired');
    if (failure.kind === 'signature') throw invalid('its signature does not match (forged or altered)');
    if (failure.kind === 'claim') throw invalid(`its "${failure.claim}" claim is wrong`);
    throw invalid('it is malformed (forged or altered)');
  }
  const payload = verified.payload;
  if (typeof payload.sub !== 'string' || typeof payload.rid !== 'string' || typeof payload.exp !== 'number') throw invalid('its claims are malformed');
  if (payload.rid !== ALL_SESSIONS && payload.rid !== requestId) {
    throw invalid(requestId === ALL_SESSIONS ? 'it opens one recording, not the list of sessions' : `it opens another recording, not ${requestId}`);
  }
  return { viewer: payload.sub, scope: payload.rid, expiresAt: payload.exp * 1000 };
}

export function viewLinkUrl(publicUrl: string, token: string, target?: { date: string; requestId: string }): string {
  const path = target === undefined ? '' : `/${encodeURIComponent(target.date)}/${encodeURIComponent(target.requestId)}`;
  return underPublicUrl(publicUrl, `/_gatehouse/recordings${path}?t=${token}`);
}
