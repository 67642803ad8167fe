/**
 * Stage — mask: no Secret value (nor any value a masking rule names) leaves in a response.
 *
 * Before forward: decides the plan from the request (see `masking/masking-plan.ts`). For
 * `mask` and `scan` it asks the upstream for identity encoding (so the JSON can be read), and
 * for JSON only, never protobuf/YAML/CBOR: a client that asked YAML, protobuf or CBOR gets
 * JSON (every Kubernetes client reads it; YAML is a superset of it). Forward reads the client's headers from
 * the Node request (`env.incoming.rawHeaders`) or from `c.req.raw.headers`; both are edited.
 *
 * After forward: masks the body with the streaming masker. Bodies with a known length of at
 * most 2 MiB (every single object) are masked whole first, so a failure is still a Status and
 * the length is exact; longer or unsized bodies (lists, watch) stream, unit by unit, with no
 * Content-Length. A `mask` or `scan` response with a body that is not JSON, or in an encoding
 * other than gzip/deflate/identity, is refused with ERR_RESPONSE_UNMASKABLE; a body that turns out
 * malformed mid-stream ends the stream (the rest is never sent).
 *
 * Writes (create/update/patch) whose body carries placeholders have passed the restore stage
 * before this one: restored, or refused.
 *
 * Break-glass (`decision.unmasked`) skips all of it. `masked` in the context says whether any
 * value was masked; for streamed bodies it turns true as soon as one is, so it is final once
 * the body has been read.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { ForwardedResponse, GatehouseContext } from '../context.ts';
import type { IncomingMessage } from 'node:http';
import { pipeline, Readable } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import { GatehouseError } from '../errors.ts';
import { JsonStreamMasker, maskWholeBody } from '../masking/json-stream-masker.ts';
import { isJsonMediaType, jsonOnlyAccept, planMasking, type MaskingPlan } from '../masking/masking-plan.ts';
import { SECRETS_ONLY, type MaskingRules } from '../masking/masking-rules.ts';
import { forwardedOf, plainResponse } from './plain-response.ts';
import { lazyWebStream } from './web-stream.ts';

/** Bodies up to this size (by Content-Length) are masked whole before the response starts. */
export const WHOLE_BODY_LIMIT = 2 * 1024 * 1024;

export function mask(rules: MaskingRules | undefined): MiddlewareHandler {
  const maskingRules = rules ?? SECRETS_ONLY;
  return async function maskStage(c, next) {
    c.set('masked', false);
    const plan = planMasking(c.get('kubeRequest'), maskingRules, c.get('decision').unmasked === true);
    if (plan.mode === 'off') return next();
    editUpstreamHeaders(c, jsonOnlyAccept(c.req.header('accept') ?? null));
    await next();
    const response = c.res;
    const answer = forwardedOf(c);
    const options = { rules: maskingRules, hint: plan.hint, subject: plan.subject };
    let masked: Response;
    try {
      if (answer?.bytes !== undefined) {
        const result = maskBytes(response, answer.init, answer.bytes, plan, options, c);
        masked = result.response;
        if (result.bytes !== undefined) {
          c.set('responseBytes', result.bytes);
          c.set('responseBytesMasked', true);
        } else {
          forgetResponseBytes(c);
        }
      } else {
        forgetResponseBytes(c);
        masked =
          answer?.stream !== undefined
            ? maskNodeStream(response, answer.init, answer.stream, plan, options, c)
            : await maskResponse(response, plan, options, c);
      }
    } catch (error) {
      // The bytes forward read are not what leaves (the Status does): record must not take them.
      forgetResponseBytes(c);
      throw error;
    } finally {
      // Hono copies the old response's headers (Content-Length too) onto the one that replaces
      // it, be it ours or the error's Status: drop the upstream's first.
      c.res = undefined;
    }
    c.res = masked;
  };
}

type MaskerOptions = ConstructorParameters<typeof JsonStreamMasker>[0];
type AnswerInit = ForwardedResponse['init'];

/** Unsets `responseBytes`: what leaves is not (or not known to be) those bytes. */
function forgetResponseBytes(c: Context): void {
  if (c.get('responseBytes') === undefined) return;
  c.set('responseBytes', undefined as never);
  c.set('responseBytesMasked', false);
}

/**
 * The bytes forward read whole, masked at once: no stream, no Headers object; the response is
 * built once from the final bytes (the very input when nothing changed). `bytes` is undefined
 * when the body passes without being scanned (not JSON, or an encoding not masked, under `scan`)
 * or was not masked here (gzip/deflate: the stream path decompresses).
 */
function maskBytes(
  response: Response,
  init: AnswerInit,
  input: Uint8Array<ArrayBuffer>,
  plan: MaskingPlan,
  options: MaskerOptions,
  c: Context,
): { response: Response; bytes?: Uint8Array<ArrayBuffer> } {
  // Nothing to read (a DELETE's empty answer, say): nothing to mask, whatever its type says.
  if (input.byteLength === 0) return { response, bytes: input };
  const encoding = readableAs(plan, init.headers['content-type'], init.headers['content-encoding'], () => undefined);
  if (encoding !== 'identity') return { response: maskStream(Readable.from([input]), init, encoding, options, c) };
  const result = maskWholeBody(Buffer.from(input.buffer, input.byteOffset, input.byteLength), options);
  if (result.masked) c.set('masked', true);
  const bytes = result.bytes as Uint8Array<ArrayBuffer>;
  // Nothing rewritten: the output is the input itself; the response stands as built.
  if (bytes.buffer === input.buffer && bytes.byteOffset === input.byteOffset && bytes.byteLength === input.byteLength) {
    return { response, bytes: input };
  }
  const headers = withoutEncoding(init.headers);
  headers['content-length'] = String(bytes.byteLength);
  return { response: plainResponse(c, bytes, { status: init.status, statusText: init.statusText, headers }), bytes };
}


/** The upstream's Node stream, masked as it passes: one web stream, one hop per chunk. */
function maskNodeStream(
  response: Response,
  init: AnswerInit,
  upstream: IncomingMessage,
  plan: MaskingPlan,
  options: MaskerOptions,
  c: Context,
): Response {
  const encoding = readableAs(plan, init.headers['content-type'], init.headers['content-encoding'], () => upstream.destroy());
  return maskStream(upstream, init, encoding, options, c);
}

/**
 * How a body of this content type and encoding is read: its encoding. Anything else — not
 * JSON (YAML, protobuf, CBOR, text), or an encoding not decoded — is refused under `mask` and
 * `scan` alike: the upstream was asked for JSON only, so another answer is one Gatehouse did
 * not understand. `discard` drops the body, then ERR_RESPONSE_UNMASKABLE is thrown.
 */
function readableAs(
  plan: MaskingPlan,
  contentType: string | null | undefined,
  contentEncoding: string | null | undefined,
  discard: () => void,
): 'identity' | 'gzip' | 'deflate' {
  const encoding = (contentEncoding ?? 'identity').trim().toLowerCase();
  const refusal = !isJsonMediaType(contentType ?? null)
    ? `with content-type ${JSON.stringify(contentType ?? '(none)')}`
    : encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'deflate'
      ? `in content-encoding ${JSON.stringify(encoding)}`
      : undefined;
  if (refusal === undefined) return encoding as 'identity' | 'gzip' | 'deflate';
  discard();
  throw unmaskable(plan, refusal);
}

/** A streamed, masked response over `source` (decompressed first for gzip/deflate); no Content-Length. */
function maskStream(source: Readable, init: AnswerInit, encoding: string, options: MaskerOptions, c: Context): Response {
  let input = source;
  if (encoding === 'gzip' || encoding === 'deflate') {
    const decompress = encoding === 'gzip' ? createGunzip() : createInflate();
    input = pipeline(source, decompress, () => undefined);
  }
  let masker: JsonStreamMasker | undefined;
  let reported = false;
  const body = lazyWebStream(input, {
    chunk(bytes, enqueue) {
      masker ??= new JsonStreamMasker(options, enqueue);
      stopsOnFailure(() => masker?.push(bytes));
      if (!reported && masker.masked) {
        reported = true;
        c.set('masked', true);
      }
    },
    end(enqueue) {
      masker ??= new JsonStreamMasker(options, enqueue);
      stopsOnFailure(() => masker?.end());
    },
  });
  const headers = withoutEncoding(init.headers);
  delete headers['content-length'];
  return plainResponse(c, body, { status: init.status, statusText: init.statusText, headers });
}

/** A copy of plain headers without Content-Encoding (the body leaves decoded). */
function withoutEncoding(headers: Readonly<Record<string, string>>): Record<string, string> {
  const copy: Record<string, string> = {};
  for (const name in headers) if (name !== 'content-encoding') copy[name] = headers[name] as string;
  return copy;
}

/**
 * The generic path, for a response forward did not build (a Status from a failed forward):
 * read through the Response API.
 */
async function maskResponse(response: Response, plan: MaskingPlan, options: MaskerOptions, c: Context): Promise<Response> {
  const body = response.body;
  if (body === null) return response;
  const discard = (): void => void body.cancel().catch(() => undefined);
  const encoding = readableAs(plan, response.headers.get('content-type'), response.headers.get('content-encoding'), discard);
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  const init = { status: response.status, statusText: response.statusText, headers };
  const length = Number(headers['content-length'] ?? NaN);
  if (encoding === 'identity' && Number.isInteger(length) && length <= WHOLE_BODY_LIMIT) {
    const input = new Uint8Array(await response.arrayBuffer());
    const result = maskBytes(response, init, input, plan, options, c).response;
    // `response` has been read: nothing rewritten means the same bytes in a fresh response.
    return result === response ? new Response(input, init) : result;
  }
  return maskStream(Readable.fromWeb(body as import('node:stream/web').ReadableStream<Uint8Array>), init, encoding, options, c);
}

/** Headers are gone by now: the failure ends the response (the rest is never sent); say so on stderr. */
function stopsOnFailure(step: () => void): void {
  try {
    step();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), component: 'mask', level: 'error', event: 'response_stopped', message })}\n`);
    throw error;
  }
}

function unmaskable(plan: MaskingPlan, how: string): GatehouseError {
  return new GatehouseError(
    'ERR_RESPONSE_UNMASKABLE',
    `the upstream answered for ${plan.subject} ${how}, which Gatehouse cannot mask; refusing to pass it on`,
  );
}

/**
 * Asks the upstream for an identity-encoded body and, when `accept` is given, for that
 * Accept header — on every form of the client's headers forward may read: on Node the raw
 * list and Node's parse of it, and the request's Headers (built only when something changes:
 * building it costs every call).
 */
function editUpstreamHeaders(c: GatehouseContext, accept: string | undefined): void {
  const request = c.req.raw;
  const changeAccept = accept !== undefined && request.headers.get('accept') !== accept;
  if (request.headers.has('accept-encoding')) request.headers.delete('accept-encoding');
  if (changeAccept) request.headers.set('accept', accept);
  const incoming = c.env?.incoming;
  if (incoming === undefined) return;
  const raw = incoming.rawHeaders;
  for (let i = raw.length - 2; i >= 0; i -= 2) {
    const name = (raw[i] ?? '').toLowerCase();
    if (name === 'accept-encoding' || (changeAccept && name === 'accept')) raw.splice(i, 2);
  }
  if (changeAccept) raw.push('Accept', accept);
  const parsed = incoming.headers;
  delete parsed['accept-encoding'];
  if (changeAccept) parsed['accept'] = accept;
}
