/**
 * The fingerprint of one exact request: the thing an approval approves. A grant is bound to
 * it, so another user, verb, target, query or body — one changed byte — gives another
 * fingerprint and needs another approval.
 *
 * Contract: SHA-256 (hex) over a canonical JSON array of user, cluster, HTTP method, content type,
 * verb, apiGroup, resource, subresource, namespace, name, the raw path, the raw query pairs
 * minus the volatile ones, the body's SHA-256 and, for kubectl --as, the signed-in caller.
 *
 * The method and content type are bound because the API server acts on them: the same bytes
 * are another change as a strategic-merge patch than as a merge patch, and HEAD on an exec URL
 * is not a POST. Query pairs are ordered by their decoded key (the order of different keys
 * kubectl happens to send does not matter), but the values of one key keep the order they came
 * in: the API server reads the first value of a repeated parameter, so `force=false&force=true`
 * and `force=true&force=false` are different requests. Keys compare decoded, as the server
 * decodes them (`%66orce` is `force`). Pure: no clock, no I/O.
 */
import { createHash } from 'node:crypto';

export interface FingerprintInput {
  user: string;
  /**
   * The signed-in caller when it acts as `user` (kubectl --as): a grant asked for by alice as
   * bob serves neither bob himself nor carol as bob. Absent for a request made as oneself.
   */
  impersonator?: string;
  /** The configured cluster the request is for: a grant on one cluster is never used on another. */
  cluster: string;
  /** HTTP method as received (upper case). */
  method: string;
  /** The Content-Type header as received ("" when none). */
  contentType: string;
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

/**
 * The raw `key=value` pairs that define the request, volatile keys dropped, ordered by decoded
 * key; pairs of one key keep the order they came in (a stable sort), since the server reads
 * the first value.
 */
export function canonicalQuery(query: string): string[] {
  if (query === '') return [];
  return query
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => ({ pair, key: decodedKey(pair) }))
    .filter(({ key }) => !VOLATILE_QUERY_PARAMS.has(key))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map(({ pair }) => pair);
}

/** The Content-Type as the API server reads it: media type and parameters, lower case, no blanks. */
export function canonicalContentType(contentType: string): string {
  return contentType.toLowerCase().replace(/\s+/g, '');
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
    'gatehouse-fingerprint-v3',
    input.user,
    input.cluster,
    input.method.toUpperCase(),
    canonicalContentType(input.contentType),
    input.verb,
    input.apiGroup,
    input.resource,
    input.subresource,
    input.namespace,
    input.name,
    input.path,
    canonicalQuery(input.query),
    input.bodySha256,
    // Appended only when present: the fingerprint of a request made as oneself is unchanged.
    ...(input.impersonator === undefined ? [] : [{ impersonator: input.impersonator }]),
  ]);
  return sha256Hex(canonical);
}
