/**
 * Request bodies: refused by their framing at once, then read whole, bounded while they
 * stream, before anything acts on them.
 *
 * Contract:
 * - `requestFraming({ maxBytes })` is the stage right after classify, and reads no body byte:
 *   a GET or HEAD that announces a body (Content-Length other than 0, or any
 *   Transfer-Encoding) is refused with 400 — forwarded, its framing would make the leftover
 *   bytes a second request on the upstream connection; the API server reads no body there. A
 *   Content-Length that is not a byte count is refused with 400, one over `maxBytes` with 413.
 *   These answers never wait for a body that may never come.
 * - `requestBodies({ maxBytes })` is the stage right after authorize (policy needs no body, so
 *   a denied call never waits for one): any other body is read whole through `readBody`; a
 *   body that passes `maxBytes` as it streams is refused with 413 and nothing is forwarded.
 *   The default, 3 MiB, is the API server's own limit for a request body. A body that nests
 *   deeper than masking/json-depth.ts allows is refused with 400 (it would overflow the stack
 *   of whatever walks it).
 * - `readBody(c, limit, purpose)` reads the body once, keeps it in Hono's body cache (so
 *   approve, record and forward all see the very bytes that were checked), and refuses
 *   more than `limit` bytes with ERR_PAYLOAD_TOO_LARGE naming `purpose`.
 * A refusal answers without reading the rest of the body; the Node runtime then closes the
 * connection (runtime/node-server.ts), so no byte of it can be read as a next request.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { GatehouseError } from '../errors.ts';
import { exceedsJsonDepth, exceedsYamlDepth, tooDeep } from '../masking/nesting-depth.ts';

/** The API server's own limit for a request body (k8s.io/apiserver: 3 MiB). */
export const DEFAULT_MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024;

const FORWARDS = 'Gatehouse forwards';

export function requestFraming(options: { maxBytes: number }): MiddlewareHandler {
  const limit = options.maxBytes;
  // Synchronous: no await of its own, so no promise of its own on every call.
  return function requestFramingStage(c, next) {
    const method = c.req.method;
    if (method === 'GET' || method === 'HEAD') refuseBodyOn(c, method);
    else refuseDeclaredLength(c, limit, FORWARDS);
    return next();
  };
}

export function requestBodies(options: { maxBytes: number }): MiddlewareHandler {
  const limit = options.maxBytes;
  return async function requestBodyStage(c, next) {
    const method = c.req.method;
    if (method !== 'GET' && method !== 'HEAD') refuseDeepDocument(c, await readBody(c, limit, FORWARDS));
    await next();
  };
}

function announcesNoBody(c: Context): boolean {
  const length = c.req.header('content-length');
  return (length === undefined || length.trim() === '0') && c.req.header('transfer-encoding') === undefined;
}

/**
 * A body nested deeper than any Kubernetes object (MAX_JSON_DEPTH; YAML by its upper bound) is refused before policy,
 * approvals, records or the masker walk it. Binary bodies (protobuf, CBOR) are not JSON.
 */
function refuseDeepDocument(c: Context, body: Uint8Array): void {
  const type = (c.req.header('content-type') ?? '').toLowerCase();
  if (type.includes('protobuf') || type.includes('cbor')) return;
  if (type.includes('yaml') ? exceedsYamlDepth(body) : exceedsJsonDepth(body)) throw tooDeep('the request body');
}

/** A GET/HEAD announcing a body: 400, whatever the path. */
function refuseBodyOn(c: Context, method: string): void {
  if (announcesNoBody(c)) return;
  const length = c.req.header('content-length');
  const encoding = c.req.header('transfer-encoding');
  const framing = encoding === undefined ? `Content-Length ${JSON.stringify(length)}` : `Transfer-Encoding ${JSON.stringify(encoding)}`;
  throw new GatehouseError(
    'ERR_REQUEST_INVALID',
    `a ${method} request may not carry a body (it announced ${framing}); the API server reads none, and Gatehouse forwards none`,
  );
}

/** Reads the whole body (refusing more than `limit` bytes) and puts it back for the stages after. */
export async function readBody(c: Context, limit: number, purpose: string): Promise<Uint8Array> {
  const method = c.req.method;
  if (method === 'GET' || method === 'HEAD') return new Uint8Array(0);
  refuseDeclaredLength(c, limit, purpose);
  const cached = (c.req.bodyCache as { arrayBuffer?: Promise<ArrayBuffer> }).arrayBuffer;
  if (cached !== undefined) {
    const bytes = new Uint8Array(await cached);
    if (bytes.byteLength > limit) throw tooLarge(`${bytes.byteLength} bytes`, limit, purpose);
    return bytes;
  }
  const stream = c.req.raw.body;
  if (stream === null) {
    // Hono reads bodies through this cache: an empty one keeps every later reader off the stream.
    (c.req.bodyCache as { arrayBuffer?: Promise<ArrayBuffer> }).arrayBuffer = Promise.resolve(new ArrayBuffer(0));
    return new Uint8Array(0);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(`more than ${limit} bytes`, limit, purpose);
    }
    chunks.push(value);
  }
  const bytes = Buffer.concat(chunks);
  const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  // Hono keeps promises in its body cache (its type says otherwise): c.req.arrayBuffer() reuses this one.
  (c.req.bodyCache as { arrayBuffer?: Promise<ArrayBuffer> }).arrayBuffer = Promise.resolve(copy);
  c.req.raw = new Request(c.req.raw.url, { method, headers: c.req.raw.headers, body: copy, signal: c.req.raw.signal });
  return new Uint8Array(copy);
}

/** A Content-Length that is no byte count (400), or one over `limit` (413): refused before a body byte is read. */
function refuseDeclaredLength(c: Context, limit: number, purpose: string): void {
  const declaredText = c.req.header('content-length');
  if (declaredText === undefined) return;
  if (!/^\s*\d+\s*$/.test(declaredText)) {
    throw new GatehouseError('ERR_REQUEST_INVALID', `the request's Content-Length ${JSON.stringify(declaredText)} is not a byte count`);
  }
  const declared = Number(declaredText);
  if (declared > limit) throw tooLarge(`${declared} bytes`, limit, purpose);
}

function tooLarge(size: string, limit: number, purpose: string): GatehouseError {
  return new GatehouseError('ERR_PAYLOAD_TOO_LARGE', `the request body (${size}) is larger than the ${limit} bytes ${purpose}`);
}
