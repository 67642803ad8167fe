/**
 * Verified token claims → Identity. Pure: no keys, no clock, no network; the signature and
 * the registered claims (iss, aud, exp, nbf) are checked before this runs.
 *
 * Contract: returns the caller's user name and groups with the configured prefixes applied,
 * or throws GatehouseError ERR_TOKEN_CLAIMS (401) naming the claim, the value and why it is
 * unusable. Gatehouse impersonates whatever name comes out of here, so a name is refused
 * before any policy check and before any header is built when:
 * - the claim's value has leading or trailing whitespace (HTTP strips it on the way: the
 *   name the cluster sees would not be the name policy saw, `" system:masters"` included);
 * - it holds a control character (C0, DEL, C1), an invisible formatting character (Unicode
 *   category Cf: bidi overrides such as U+202E, zero-width spaces U+200B, BOM …), a line or
 *   paragraph separator, or a lone surrogate — text that prints differently from what it is;
 * - the name, after the prefix, starts with a reserved prefix: `system:` always (the cluster's
 *   own users and groups), and the configured list (default `eks:`, `aws:`, `amazon:`, `iam:`:
 *   on EKS `eks:addon-manager` and friends are bound to cluster-admin). Prefixes compare
 *   without regard to case. The value is checked as it comes from the token and again as the
 *   prefixed name, so a prefix cannot hide a bad value nor assemble a reserved one.
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
  /** Prefixes no user or group may start with, besides `system:` (which is always reserved). */
  reservedPrefixes: readonly string[];
  /** Extra identity attributes for policy: key → claim (a string or a list of strings; absent: no values). */
  extraClaims?: Readonly<Record<string, string>>;
  /** Claims the token must carry with this value (a list claim must contain it). */
  requiredClaims?: Readonly<Record<string, string>>;
}

/** Kubernetes reserves this prefix for its own users and groups (system:masters, system:node:…). */
export const CLUSTER_PREFIX = 'system:';
/** Cloud providers' own identities, refused unless the configuration says otherwise (EKS binds `eks:*` users to cluster roles). */
export const DEFAULT_RESERVED_PREFIXES: readonly string[] = ['eks:', 'aws:', 'amazon:', 'iam:'];
/** A token with more groups than this is refused: no IdP sends that many, and each becomes a header upstream. */
export const MAX_GROUPS = 1000;
/** Longest user or group name accepted (characters); the API server's own limits on names are far below. */
export const MAX_NAME_LENGTH = 1024;

/** Characters that print as something else or nothing, or cannot travel in a header: refused anywhere in a name. */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
const EDGE_WHITESPACE = /^\s|\s$/u;

export function identityFromClaims(claims: Readonly<Record<string, unknown>>, mapping: ClaimMapping): Identity {
  checkRequiredClaims(claims, mapping.requiredClaims ?? {});
  const reserved = reservedPrefixes(mapping.reservedPrefixes);
  const named = userName(claims, mapping.usernameClaim);
  const user = checkedName({ kind: 'user', claim: named.claim, value: named.value, prefix: mapping.usernamePrefix, prefixSetting: 'oidc.usernamePrefix' }, reserved);
  const groups = groupNames(claims, mapping.groupsClaim).map((group) =>
    checkedName({ kind: 'group', claim: mapping.groupsClaim, value: group, prefix: mapping.groupsPrefix, prefixSetting: 'oidc.groupsPrefix' }, reserved),
  );
  const identity: Identity = { user, groups: [...new Set(groups)], claims: Object.freeze({ ...claims }) };
  if (typeof claims['sub'] === 'string' && claims['sub'] !== '') identity.uid = checkedUid(claims['sub']);
  if (typeof claims['iss'] === 'string') identity.issuer = claims['iss'];
  const extra = extraValues(claims, mapping.extraClaims ?? {});
  if (extra !== undefined) identity.extra = extra;
  return identity;
}

/** A token without a required claim value is refused, naming the claim, what it carries and what is required. */
function checkRequiredClaims(claims: Readonly<Record<string, unknown>>, required: Readonly<Record<string, string>>): void {
  for (const [claim, wanted] of Object.entries(required)) {
    const value = claims[claim];
    const carries = typeof value === 'string' ? value === wanted : Array.isArray(value) && value.includes(wanted);
    if (!carries) {
      throw new GatehouseError('ERR_TOKEN_CLAIMS', `token claim "${claim}" is ${value === undefined ? 'absent' : describe(value)}; this issuer requires ${quote(wanted)}`);
    }
  }
}

/** The mapped extra attributes (key → values), each value printable; undefined when none are configured. */
function extraValues(claims: Readonly<Record<string, unknown>>, mapping: Readonly<Record<string, string>>): Record<string, string[]> | undefined {
  const keys = Object.keys(mapping);
  if (keys.length === 0) return undefined;
  const extra: Record<string, string[]> = {};
  for (const key of keys) {
    const claim = mapping[key] as string;
    const value = claims[claim];
    if (value === undefined) continue;
    const values = typeof value === 'string' ? [value] : Array.isArray(value) && value.every((item) => typeof item === 'string') ? (value as string[]) : undefined;
    if (values === undefined || values.length > MAX_GROUPS) {
      throw new GatehouseError('ERR_TOKEN_CLAIMS', `token claim "${claim}" (extra "${key}") must be a string or a list of strings, but is ${describe(value)}`);
    }
    for (const item of values) {
      if (item.length > MAX_NAME_LENGTH || EDGE_WHITESPACE.test(item) || UNPRINTABLE.test(item)) {
        throw new GatehouseError('ERR_TOKEN_CLAIMS', `token claim "${claim}" (extra "${key}") holds ${quote(item)}, which has edge whitespace, unprintable characters or is too long`);
      }
    }
    extra[key] = values;
  }
  return extra;
}

/** `system:` plus the configured prefixes, lower-cased, without duplicates. */
export function reservedPrefixes(configured: readonly string[]): string[] {
  return [...new Set([CLUSTER_PREFIX, ...configured].filter((prefix) => prefix !== '').map((prefix) => prefix.toLowerCase()))];
}

/** A configuration problem with one of the prefix settings (`setting` is the key under `oidc`). */
export interface PrefixProblem {
  setting: 'usernamePrefix' | 'groupsPrefix' | 'reservedPrefixes';
  message: string;
}

/**
 * Problems with configured prefixes (for start-up): a username/groups prefix must be printable
 * text without edge whitespace that does not itself start with a reserved prefix — otherwise
 * every name would be refused, or a name would pass for the cluster's own.
 */
export function prefixProblems(settings: Pick<ClaimMapping, 'usernamePrefix' | 'groupsPrefix' | 'reservedPrefixes'>): PrefixProblem[] {
  const problems: PrefixProblem[] = [];
  const reserved = reservedPrefixes(settings.reservedPrefixes);
  for (const prefix of settings.reservedPrefixes) {
    if (prefix === '' || UNPRINTABLE.test(prefix) || EDGE_WHITESPACE.test(prefix)) {
      problems.push({ setting: 'reservedPrefixes', message: `${quote(prefix)} must be non-empty printable text without leading or trailing whitespace` });
    }
  }
  for (const setting of ['usernamePrefix', 'groupsPrefix'] as const) {
    const prefix = settings[setting];
    if (UNPRINTABLE.test(prefix) || EDGE_WHITESPACE.test(prefix)) {
      problems.push({ setting, message: `${quote(prefix)} must be printable text without leading or trailing whitespace` });
    }
    const clash = reserved.find((r) => prefix.toLowerCase().startsWith(r));
    if (clash !== undefined) problems.push({ setting, message: `${quote(prefix)} starts with the reserved prefix "${clash}": every name would be refused` });
  }
  return problems;
}

function userName(claims: Readonly<Record<string, unknown>>, usernameClaim: string): { claim: string; value: string } {
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
      `token e-mail ${quote(value)} is not verified (email_verified is ${describe(claims['email_verified'])}): Gatehouse names users only by verified e-mail`,
    );
  }
  return { claim, value };
}

function groupNames(claims: Readonly<Record<string, unknown>>, groupsClaim: string): string[] {
  const value = claims[groupsClaim];
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (Array.isArray(value) && value.length > MAX_GROUPS) {
    throw new GatehouseError('ERR_TOKEN_CLAIMS', `token claim "${groupsClaim}" lists ${value.length} groups; Gatehouse accepts at most ${MAX_GROUPS}`);
  }
  if (Array.isArray(value) && value.every((group) => typeof group === 'string' && group !== '')) return value as string[];
  throw new GatehouseError(
    'ERR_TOKEN_CLAIMS',
    `token claim "${groupsClaim}" must be a string or an array of non-empty strings to name groups, but is ${describe(value)}`,
  );
}

interface NameSource {
  kind: 'user' | 'group';
  claim: string;
  /** The value as the token carries it. */
  value: string;
  prefix: string;
  prefixSetting: string;
}

/** The prefixed name, or a refusal naming the claim and why. */
function checkedName(source: NameSource, reserved: readonly string[]): string {
  const { kind, claim, value } = source;
  const refuse = (why: string): never => {
    throw new GatehouseError('ERR_TOKEN_CLAIMS', `token claim "${claim}" names the ${kind} ${quote(value)}, which ${why}`);
  };
  if (value.length > MAX_NAME_LENGTH) refuse(`is ${value.length} characters long; Gatehouse accepts at most ${MAX_NAME_LENGTH}`);
  if (EDGE_WHITESPACE.test(value)) refuse('has leading or trailing whitespace (HTTP would strip it on the way to the cluster)');
  const bad = UNPRINTABLE.exec(value);
  if (bad !== null) refuse(`contains ${characterName(bad[0])} that does not print as itself`);
  const name = source.prefix + value;
  const clash = reserved.find((prefix) => name.toLowerCase().startsWith(prefix));
  if (clash !== undefined) {
    const after = source.prefix === '' ? '' : ` (with ${source.prefixSetting} "${source.prefix}": ${quote(name)})`;
    const hint = source.prefix === '' ? ` (set ${source.prefixSetting} to keep identity-provider names apart)` : '';
    refuse(`is refused${after}: names starting with "${clash}" are reserved ${clash === CLUSTER_PREFIX ? "for the cluster's own identities" : 'by oidc.reservedPrefixes (cloud and platform identities)'}${hint}`);
  }
  return name;
}

/** `sub` travels as Impersonate-Uid: the same character rules as names, without the prefix rules. */
function checkedUid(sub: string): string {
  if (EDGE_WHITESPACE.test(sub) || UNPRINTABLE.test(sub) || sub.length > MAX_NAME_LENGTH) {
    throw new GatehouseError('ERR_TOKEN_CLAIMS', `token claim "sub" ${quote(sub)} has edge whitespace, unprintable characters or is too long to name the user's uid`);
  }
  return sub;
}

function characterName(character: string): string {
  const code = character.codePointAt(0) ?? 0;
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  if (code < 0x20 || code === 0x7f) return `a control character (${hex})`;
  if (code >= 0x80 && code <= 0x9f) return `a C1 control character (${hex})`;
  if (code >= 0xd800 && code <= 0xdfff) return `a lone surrogate (${hex})`;
  if (code === 0x2028 || code === 0x2029) return `a line or paragraph separator (${hex})`;
  if ((code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069) || code === 0x200e || code === 0x200f || code === 0x061c) {
    return `a bidirectional control character (${hex})`;
  }
  return `an invisible formatting character (${hex})`;
}

/** A value for a message: JSON-quoted (escapes controls and invisible characters), bounded. */
function quote(value: string): string {
  const bounded = value.length > 100 ? `${value.slice(0, 100)}…` : value;
  return JSON.stringify(bounded).replace(/[\p{Cf}\p{Zl}\p{Zp}\u0080-\u009f]/gu, (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array with a member that is not a non-empty string';
  if (typeof value === 'string') return value === '' ? 'an empty string' : quote(value);
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'boolean') return String(value);
  return `the ${typeof value} ${String(value)}`;
}
