/**
 * Verified token claims → Identity. Pure: no keys, no clock, no network; the signature and
 * the registered claims (iss, aud, exp, nbf) are checked before this runs.
 *
 * Contract: returns the caller's user name and groups with the configured prefixes applied,
 * or throws GatehouseError ERR_TOKEN_CLAIMS saying which claim is unusable and why. Names
 * that would pass as the cluster's own identities (`system:…`) are refused, because
 * Gatehouse impersonates whatever name comes out of here.
 */
import { GatehouseError } from '../errors.ts';
import type { Identity } from '../types.ts';

export interface ClaimMapping {
  /** Claim naming the user; when it is `email` and absent, `sub` names the user instead. */
  usernameClaim: string;
  /** Claim carrying the groups: an array of strings, or one string; absent means none. */
  groupsClaim: string;
  usernamePrefix: string;
  groupsPrefix: string;
}

/** Kubernetes reserves this prefix for its own users and groups (system:masters, system:node:…). */
const RESERVED_PREFIX = 'system:';
/** Names travel upstream as Impersonate-* header values; control characters cannot. */
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

export function identityFromClaims(claims: Readonly<Record<string, unknown>>, mapping: ClaimMapping): Identity {
  const user = mapping.usernamePrefix + userName(claims, mapping.usernameClaim);
  checkName('user', user, 'oidc.usernamePrefix');
  const groups = groupNames(claims, mapping.groupsClaim).map((group) => mapping.groupsPrefix + group);
  for (const group of groups) checkName('group', group, 'oidc.groupsPrefix');
  const identity: Identity = { user, groups: [...new Set(groups)], claims: Object.freeze({ ...claims }) };
  if (typeof claims['sub'] === 'string' && claims['sub'] !== '') identity.uid = claims['sub'];
  return identity;
}

function userName(claims: Readonly<Record<string, unknown>>, usernameClaim: string): string {
  let claim = usernameClaim;
  let value = claims[claim];
  if (value === undefined && claim === 'email') {
    claim = 'sub';
    value = claims[claim];
  }
  if (value === undefined) {
    const tried = usernameClaim === 'email' ? '"email" claim and no "sub" claim' : `"${usernameClaim}" claim (oidc.usernameClaim)`;
    throw new GatehouseError('ERR_TOKEN_CLAIMS', `token has no ${tried} to name the user`);
  }
  if (typeof value !== 'string' || value === '') {
    throw new GatehouseError('ERR_TOKEN_CLAIMS', `token claim "${claim}" must be a non-empty string to name the user, but is ${describe(value)}`);
  }
  if (claim === 'email' && Object.hasOwn(claims, 'email_verified') && claims['email_verified'] !== true) {
    throw new GatehouseError(
      'ERR_TOKEN_CLAIMS',
      `token e-mail "${value}" is not verified (email_verified is ${describe(claims['email_verified'])}): Gatehouse names users only by verified e-mail`,
    );
  }
  return value;
}

function groupNames(claims: Readonly<Record<string, unknown>>, groupsClaim: string): string[] {
  const value = claims[groupsClaim];
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (Array.isArray(value) && value.every((group) => typeof group === 'string' && group !== '')) return value as string[];
  throw new GatehouseError(
    'ERR_TOKEN_CLAIMS',
    `token claim "${groupsClaim}" must be a string or an array of non-empty strings to name groups, but is ${describe(value)}`,
  );
}

function checkName(kind: 'user' | 'group', name: string, prefixSetting: string): void {
  if (CONTROL_CHARACTERS.test(name)) {
    throw new GatehouseError('ERR_TOKEN_CLAIMS', `token names a ${kind} ${JSON.stringify(name)} that contains control characters`);
  }
  if (name.startsWith(RESERVED_PREFIX)) {
    throw new GatehouseError(
      'ERR_TOKEN_CLAIMS',
      `${kind} "${name}" is refused: names starting with "${RESERVED_PREFIX}" belong to the cluster's own identities (set ${prefixSetting} to keep identity-provider names apart)`,
    );
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array with a member that is not a non-empty string';
  if (typeof value === 'string') return value === '' ? 'an empty string' : JSON.stringify(value);
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'boolean') return String(value);
  return `the ${typeof value} ${String(value)}`;
}
