/**
 * Classify: method + raw path + raw query → KubeRequest, read exactly as kube-apiserver's
 * RequestInfoFactory.NewRequestInfo reads it (k8s.io/apiserver/pkg/endpoints/request/requestinfo.go,
 * with the AuthorizeWithSelectors behaviour of current releases).
 *
 * Contract: `classifyRequest` either returns the request as the API server will see it, or throws
 * a GatehouseError — `ERR_REQUEST_PATH` for a path the API server could read differently from us
 * (dot segments, empty segments, encoded `/` or control characters, bad percent-encoding),
 * `ERR_REQUEST_INVALID` for a query Go servers parse differently by version (`;`), and
 * `ERR_UPGRADE_UNSUPPORTED` for exec/attach/port-forward on the Lambda runtime. It never
 * normalises a path into something else: what is refused is refused, what passes is forwarded raw.
 *
 * Pure: no I/O, no clock.
 */
import { GatehouseError } from './errors.ts';
import type { KubeRequest, StreamTarget } from './types.ts';

export interface ClassifyOptions {
  runtime: 'node' | 'lambda';
  /** The cluster the request was routed to (default "": none known). */
  cluster?: string;
}

/** Path segments that name a verb instead of a resource (legacy `/watch/…` and `/proxy/…`). */
const SPECIAL_VERBS = new Set(['proxy', 'watch']);
/** Subresources of a namespace; anything else after `namespaces/{ns}/` is a namespaced resource. */
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);
/** Verbs for which the API server passes the selectors on to authorization. */
const VERBS_WITH_SELECTORS = new Set(['list', 'watch', 'deletecollection']);
/**
 * Pod subresources that open a stream into the container. The API server authorizes them as
 * `create` whatever the method (KEP-4006 added a `create` check for the WebSocket GET), so a
 * `get`-only rule can never grant a shell.
 */
const STREAMING_POD_SUBRESOURCES = new Set(['exec', 'attach', 'portforward']);

const METHOD_VERBS: Readonly<Record<string, string>> = {
  POST: 'create',
  GET: 'get',
  HEAD: 'get',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};

export function classifyRequest(method: string, rawPath: string, rawQuery: string, options: ClassifyOptions): KubeRequest {
  const segments = decodePathSegments(rawPath);
  const query = parseQuery(rawQuery);
  const info = nonResourceRequest(rawPath, method.toLowerCase(), options.cluster ?? '');

  // `/api/{version}/…` (core group) or `/apis/{group}/{version}/…`; anything shorter or
  // elsewhere is a non-resource URL such as /version, /apis or /apis/apps/v1 (discovery).
  let rest = segments;
  const prefix = rest[0];
  if (rest.length < 3 || (prefix !== 'api' && prefix !== 'apis')) return info;
  rest = rest.slice(1);
  if (prefix === 'apis') {
    if (rest.length < 3) return info;
    info.apiGroup = rest[0] ?? '';
    rest = rest.slice(1);
  }
  info.isResourceRequest = true;
  info.apiPrefix = prefix;
  info.apiVersion = rest[0] ?? '';
  rest = rest.slice(1);

  let verbViaPathPrefix = false;
  const first = rest[0] ?? '';
  if (SPECIAL_VERBS.has(first)) {
    if (rest.length < 2) {
      throw new GatehouseError(
        'ERR_REQUEST_PATH',
        `request path ${quotePath(rawPath)} names the "${first}" verb but no resource; the API server cannot tell kind and namespace from it`,
      );
    }
    info.verb = first;
    rest = rest.slice(1);
    verbViaPathPrefix = true;
  } else {
    info.verb = METHOD_VERBS[method] ?? '';
  }

  if (rest[0] === 'namespaces') {
    if (rest.length > 1) {
      info.namespace = rest[1] ?? '';
      if (rest.length > 2 && !NAMESPACE_SUBRESOURCES.has(rest[2] ?? '')) rest = rest.slice(2);
    }
  }
  info.parts = rest;

  // parts: resource / name / subresource / anything the API server does not interpret
  if (rest.length >= 3 && info.verb !== 'proxy') info.subresource = rest[2] ?? '';
  if (rest.length >= 2) info.name = rest[1] ?? '';
  if (rest.length >= 1) info.resource = rest[0] ?? '';

  if (info.name === '' && info.verb === 'get') {
    const listOptions = decodeListOptions(query);
    info.verb = listOptions.watch ? 'watch' : 'list';
    if (listOptions.nameFromFieldSelector !== undefined) info.name = listOptions.nameFromFieldSelector;
  }
  if (info.name === '' && info.verb === 'delete') info.verb = 'deletecollection';

  if (!verbViaPathPrefix && VERBS_WITH_SELECTORS.has(info.verb)) {
    info.fieldSelector = firstValue(query, 'fieldSelector') ?? '';
    info.labelSelector = firstValue(query, 'labelSelector') ?? '';
  }

  if (opensStream(info.resource, info.subresource)) {
    if (options.runtime === 'lambda') {
      throw new GatehouseError(
        'ERR_UPGRADE_UNSUPPORTED',
        `pods/${info.subresource} needs an HTTP connection upgrade, which a Lambda function URL cannot carry; use a Gatehouse running on the Node runtime for kubectl exec, attach, cp and port-forward`,
      );
    }
    info.verb = 'create';
    info.stream = streamTarget(info.subresource, query);
  }
  return info;
}

/**
 * What an exec, attach or port-forward asks for, read as the API server's query conversion
 * reads its options: `command` repeated in order, the first `container`, booleans true unless
 * their first value is "0" or "false" (case-insensitive), `ports` as integers (a value that is
 * not one leaves `ports` unreadable: the API server refuses it, Gatehouse refuses it first).
 */
function streamTarget(subresource: string, query: QueryValues): StreamTarget {
  const kind = subresource === 'exec' ? 'exec' : subresource === 'attach' ? 'attach' : 'portforward';
  const flag = (key: string): boolean => {
    const value = firstValue(query, key);
    return value !== undefined && value !== '0' && value.toLowerCase() !== 'false';
  };
  const ports: number[] = [];
  for (const value of kind === 'portforward' ? (query.get('ports') ?? []) : []) {
    for (const part of value.split(',')) {
      const port = /^[0-9]{1,5}$/.test(part.trim()) ? Number(part.trim()) : 0;
      if (port < 1 || port > 65535) throw new GatehouseError('ERR_REQUEST_INVALID', `port-forward port ${JSON.stringify(part)} is not a port (1-65535)`);
      ports.push(port);
    }
  }
  return {
    kind,
    command: kind === 'exec' ? [...(query.get('command') ?? [])] : [],
    container: firstValue(query, 'container') ?? '',
    stdin: flag('stdin'),
    tty: flag('tty'),
    ports,
  };
}

/** A request outside the API resources (e.g. /version), the API server's starting point for every request. */
export function nonResourceRequest(path: string, verb: string, cluster = ''): KubeRequest {
  return {
    cluster,
    isResourceRequest: false,
    path,
    verb,
    apiPrefix: '',
    apiGroup: '',
    apiVersion: '',
    namespace: '',
    resource: '',
    subresource: '',
    name: '',
    parts: [],
    fieldSelector: '',
    labelSelector: '',
  };
}

/** exec, attach and port-forward into a pod: always authorized as `create`. */
export function opensStream(resource: string, subresource: string): boolean {
  return resource === 'pods' && STREAMING_POD_SUBRESOURCES.has(subresource);
}

// ---------------------------------------------------------------------------------------------
// Path

const HEX = /^[0-9A-Fa-f]{2}$/;
/**
 * Characters allowed raw in a request path: printable ASCII except `#` (a fragment to WHATWG
 * URLs) and `\` (a path separator to WHATWG URLs, a plain character to Go).
 */
const RAW_PATH_CHAR = /^[\x21-\x22\x24-\x5b\x5d-\x7e]*$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The decoded segments of a raw request path, as Go's net/http decodes them before
 * RequestInfo splits them — or ERR_REQUEST_PATH when the API server (or a proxy between us)
 * could read the path as something else than we do. One trailing slash is accepted: the API
 * server trims it before splitting, so `/api/v1/pods/` reads the same on both sides.
 */
export function decodePathSegments(rawPath: string): string[] {
  if (!rawPath.startsWith('/')) throw refusePath(rawPath, 'does not start with "/"');
  if (!RAW_PATH_CHAR.test(rawPath)) {
    throw refusePath(rawPath, 'has a character that is not allowed raw in a request path (space, control, non-ASCII, "#" or "\\")');
  }
  if (rawPath === '/') return [];
  const body = rawPath.endsWith('/') ? rawPath.slice(1, -1) : rawPath.slice(1);
  const rawSegments = body.split('/');
  return rawSegments.map((raw) => {
    if (raw === '') throw refusePath(rawPath, 'has an empty segment ("//")');
    const segment = raw.includes('%') ? percentDecode(rawPath, raw) : raw;
    if (segment === '.' || segment === '..') throw refusePath(rawPath, `has a "${segment}" segment`);
    return segment;
  });
}

/** The decoded path (`/` + decoded segments), which is what the API server matches non-resource URLs against. */
export function decodedPath(rawPath: string): string {
  const segments = decodePathSegments(rawPath);
  const trailing = rawPath.length > 1 && rawPath.endsWith('/') ? '/' : '';
  return `/${segments.join('/')}${trailing}`;
}

function percentDecode(rawPath: string, raw: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const ch = raw.charCodeAt(i);
    if (ch !== 0x25 /* % */) {
      bytes.push(ch);
      continue;
    }
    const hex = raw.slice(i + 1, i + 3);
    if (!HEX.test(hex)) throw refusePath(rawPath, `has an invalid percent-encoding "${raw.slice(i, i + 3)}"`);
    const byte = Number.parseInt(hex, 16);
    if (byte === 0x2f) throw refusePath(rawPath, `has an encoded "/" (%${hex})`);
    if (byte < 0x20 || byte === 0x7f) throw refusePath(rawPath, `has an encoded control character (%${hex})`);
    bytes.push(byte);
    i += 2;
  }
  try {
    return utf8.decode(Uint8Array.from(bytes));
  } catch {
    throw refusePath(rawPath, 'is not valid UTF-8 once percent-decoded');
  }
}

function refusePath(rawPath: string, why: string): GatehouseError {
  return new GatehouseError(
    'ERR_REQUEST_PATH',
    `request path ${quotePath(rawPath)} ${why}; refused because the API server could read it differently`,
  );
}

function quotePath(rawPath: string): string {
  const shown = rawPath.length > 200 ? `${rawPath.slice(0, 200)}…` : rawPath;
  return JSON.stringify(shown);
}

// ---------------------------------------------------------------------------------------------
// Query

export type QueryValues = ReadonlyMap<string, readonly string[]>;

/**
 * Go's url.ParseQuery as `req.URL.Query()` uses it: `&`-separated pairs, `+` is a space, a pair
 * with a bad escape is dropped (Go drops it too). A raw `;` is refused: Go before 1.17 split on it,
 * later versions drop the whole pair, so its meaning depends on the server's Go version.
 */
export function parseQuery(rawQuery: string): QueryValues {
  const values = new Map<string, string[]>();
  if (rawQuery === '') return values;
  if (rawQuery.includes(';')) {
    throw new GatehouseError(
      'ERR_REQUEST_INVALID',
      `query ${JSON.stringify(rawQuery.length > 200 ? `${rawQuery.slice(0, 200)}…` : rawQuery)} contains ";", which Go servers read differently by version; encode it as %3B`,
    );
  }
  for (const pair of rawQuery.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = queryUnescape(eq === -1 ? pair : pair.slice(0, eq));
    const value = queryUnescape(eq === -1 ? '' : pair.slice(eq + 1));
    if (key === undefined || value === undefined) continue;
    const list = values.get(key);
    if (list === undefined) values.set(key, [value]);
    else list.push(value);
  }
  return values;
}

function queryUnescape(raw: string): string | undefined {
  if (!raw.includes('%') && !raw.includes('+')) return raw;
  const input = Buffer.from(raw, 'utf8');
  const bytes: number[] = [];
  for (let i = 0; i < input.length; i++) {
    const byte = input[i] ?? 0;
    if (byte === 0x2b /* + */) {
      bytes.push(0x20);
    } else if (byte === 0x25 /* % */) {
      const hex = input.toString('latin1', i + 1, i + 3);
      if (!HEX.test(hex)) return undefined;
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(byte);
    }
  }
  try {
    return utf8.decode(Uint8Array.from(bytes));
  } catch {
    throw new GatehouseError('ERR_REQUEST_INVALID', `query parameter ${JSON.stringify(raw)} is not valid UTF-8 once decoded`);
  }
}

function firstValue(query: QueryValues, key: string): string | undefined {
  return query.get(key)?.[0];
}

/**
 * What the API server's ListOptions decoding yields for RequestInfo: whether it is a watch
 * (any first `watch` value but `false`/`0`), and the object a `metadata.name` field selector
 * names. As in the API server, the name is only taken when the options decode cleanly
 * (fieldSelector, limit and timeoutSeconds); when they do not, the API server's list handler
 * refuses the request anyway. The labelSelector grammar is not re-implemented: a bad one makes
 * the API server ignore the name, but then its list handler answers 400 and nothing is served.
 */
function decodeListOptions(query: QueryValues): { watch: boolean; nameFromFieldSelector?: string } {
  const watchValue = firstValue(query, 'watch');
  const intsDecode = ['limit', 'timeoutSeconds'].every((param) => {
    const value = firstValue(query, param);
    return value === undefined || isGoInt64(value);
  });
  const fieldSelector = firstValue(query, 'fieldSelector');
  const terms = fieldSelector === undefined ? [] : parseFieldSelector(fieldSelector);
  if (!intsDecode || terms === undefined) {
    // The API server's fallback when ListOptions do not decode: strings.ToLower, no name.
    const lower = watchValue?.toLowerCase();
    return { watch: lower !== undefined && lower !== 'false' && lower !== '0' };
  }
  // Convert_Slice_string_To_bool: "0", or "false" under strings.EqualFold (where "ſ" folds to "s").
  const watch = watchValue !== undefined && watchValue !== '0' && watchValue.toLowerCase().replaceAll('ſ', 's') !== 'false';
  const name = terms.find((term) => term.field === 'metadata.name' && term.operator === '=')?.value;
  if (name === undefined || !isValidPathSegmentName(name)) return { watch };
  return { watch, nameFromFieldSelector: name };
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** strconv.ParseInt(s, 10, 64) succeeds. */
function isGoInt64(value: string): boolean {
  if (!/^[+-]?[0-9]+$/.test(value)) return false;
  const parsed = BigInt(value.startsWith('+') ? value.slice(1) : value);
  return parsed >= INT64_MIN && parsed <= INT64_MAX;
}

export interface FieldSelectorTerm {
  field: string;
  /** "=" (also for "=="), or "!=". */
  operator: '=' | '!=';
  value: string;
}

/**
 * fields.ParseSelector: terms split on unescaped commas and SORTED (byte order) — so when a
 * selector names `metadata.name` twice, the API server takes the smaller value, and so do we.
 * Returns undefined where ParseSelector fails.
 */
export function parseFieldSelector(selector: string): FieldSelectorTerm[] | undefined {
  const parts = splitSelectorTerms(selector).sort(compareBytes);
  const terms: FieldSelectorTerm[] = [];
  for (const part of parts) {
    if (part === '') continue;
    const split = splitSelectorTerm(part);
    if (split === undefined) return undefined;
    const value = unescapeSelectorValue(split.rhs);
    if (value === undefined) return undefined;
    terms.push({ field: split.lhs, operator: split.op === '!=' ? '!=' : '=', value });
  }
  return terms;
}

function splitSelectorTerms(selector: string): string[] {
  if (selector === '') return [];
  const terms: string[] = [];
  let start = 0;
  let inSlash = false;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (inSlash) inSlash = false;
    else if (c === '\\') inSlash = true;
    else if (c === ',') {
      terms.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(selector.slice(start));
  return terms;
}

/** The first operator occurrence splits the term; at each position `!=`, then `==`, then `=` is tried. */
function splitSelectorTerm(term: string): { lhs: string; op: string; rhs: string } | undefined {
  for (let i = 0; i < term.length; i++) {
    for (const op of ['!=', '==', '=']) {
      if (term.startsWith(op, i)) return { lhs: term.slice(0, i), op, rhs: term.slice(i + op.length) };
    }
  }
  return undefined;
}

function unescapeSelectorValue(rhs: string): string | undefined {
  let out = '';
  let inSlash = false;
  for (const c of rhs) {
    if (inSlash) {
      if (c !== '\\' && c !== ',' && c !== '=') return undefined;
      out += c;
      inSlash = false;
    } else if (c === '\\') {
      inSlash = true;
    } else if (c === ',' || c === '=') {
      return undefined;
    } else {
      out += c;
    }
  }
  return inSlash ? undefined : out;
}

/** Go's sort.Strings order: byte-wise on UTF-8. */
function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** apimachinery's path.IsValidPathSegmentName: not "." or "..", and no "/" or "%". */
function isValidPathSegmentName(name: string): boolean {
  return name !== '.' && name !== '..' && !name.includes('/') && !name.includes('%');
}
