/**
 * The fingerprint of one exact request: the thing an approval approves. A grant is bound to
 * it, so another user, verb, target, query or body — one changed byte — gives another
 * fingerprint and needs another approval.
 *
 * Contract: SHA-256 (hex) over a canonical JSON array of user, verb, apiGroup, resource,
 * subresource, namespace, name, the raw path, the raw query pairs sorted (order kubectl
 * happens to send them in does not matter) minus the volatile ones, and the body's SHA-256.
 * Pure: no clock, no I/O.
 */
import { createHash } from 'node:crypto';

export interface FingerprintInput {
  user: string;
  verb: string;
  apiGroup: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  /** Raw path as received, never decoded. */
  path: string;
  /** Raw query string as received, without the leading "?". */
  query: string;
  /** SHA-256 of the body, hex; "" when there is none. */
  bodySha256: string;
}

/**
 * Query parameters that say when or how fresh, not what: a retry of the same command may
 * carry other values, and none of them widens what the request does.
 */
export const VOLATILE_QUERY_PARAMS: ReadonlySet<string> = new Set([
  'timeout',
  'timeoutSeconds',
  'resourceVersion',
  'resourceVersionMatch',
  'allowWatchBookmarks',
]);

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The raw `key=value` pairs that define the request, sorted; volatile keys dropped. */
export function canonicalQuery(query: string): string[] {
  if (query === '') return [];
  return query
    .split('&')
    .filter((pair) => pair !== '' && !VOLATILE_QUERY_PARAMS.has(decodedKey(pair)))
    .sort();
}

function decodedKey(pair: string): string {
  const eq = pair.indexOf('=');
  const key = eq === -1 ? pair : pair.slice(0, eq);
  try {
    return decodeURIComponent(key.replaceAll('+', ' '));
  } catch {
    // Undecodable keys are kept (compared raw): never dropped as "volatile" by accident.
    return key;
  }
}

export function requestFingerprint(input: FingerprintInput): string {
  const canonical = JSON.stringify([
    'gatehouse-fingerprint-v1',
    input.user,
    input.verb,
    input.apiGroup,
    input.resource,
    input.subresource,
    input.namespace,
    input.name,
    input.path,
    canonicalQuery(input.query),
    input.bodySha256,
  ]);
  return sha256Hex(canonical);
}
