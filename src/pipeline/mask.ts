/**
 * Stage — mask: no Secret value (nor any value a masking rule names) leaves in a response.
 *
 * Before forward: decides the plan from the request (see `masking/masking-plan.ts`). For
 * `mask` and `scan` it asks the upstream for identity encoding (so the JSON can be read), and
 * for `mask` for JSON only, never protobuf/YAML/CBOR. Forward reads the client's headers from
 * the Node request (`env.incoming.rawHeaders`) or from `c.req.raw.headers`; both are edited.
 *
 * After forward: masks the body with the streaming masker. Bodies with a known length of at
 * most 2 MiB (every single object) are masked whole first, so a failure is still a Status and
 * the length is exact; longer or unsized bodies (lists, watch) stream, unit by unit, with no
 * Content-Length. A `mask` response that is not JSON, or in an encoding other than
 * gzip/deflate/identity, is refused with ERR_RESPONSE_UNMASKABLE; a body that turns out
 * malformed mid-stream ends the stream (the rest is never sent).
 *
 * Writes (create/update/patch) to a masked resource whose body carries a placeholder are
 * refused (400): `kubectl get -o yaml | kubectl replace -f -` would otherwise overwrite the
 * real values with what masking showed.
 *
 * Break-glass (`decision.unmasked`) skips all of it. `masked` in the context says whether any
 * value was masked; for streamed bodies it turns true as soon as one is, so it is final once
 * the body has been read.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { IncomingMessage } from 'node:http';
import { GatehouseError } from '../errors.ts';
import { JsonStreamMasker } from '../masking/json-stream-masker.ts';
import { isJsonMediaType, jsonOnlyAccept, planMasking, type MaskingPlan } from '../masking/masking-plan.ts';
import { SECRETS_ONLY, type MaskingRules } from '../masking/masking-rules.ts';
import { carriesPlaceholder } from '../masking/placeholder.ts';

/** Bodies up to this size (by Content-Length) are masked whole before the response starts. */
export const WHOLE_BODY_LIMIT = 2 * 1024 * 1024;

export function mask(rules: MaskingRules | undefined): MiddlewareHandler {
  const maskingRules = rules ?? SECRETS_ONLY;
  return async function maskStage(c, next) {
    c.set('masked', false);
    const plan = planMasking(c.get('kubeRequest'), maskingRules, c.get('decision').unmasked === true);
    if (plan.mode === 'off') return next();
    if (plan.mode === 'mask') await refusePlaceholderWrites(c, plan);
    editUpstreamHeaders(c, plan.mode === 'mask' ? jsonOnlyAccept(c.req.header('accept') ?? null) : undefined);
    await next();
    let masked: Response;
    try {
      masked = await maskResponse(c.res, plan, maskingRules, () => c.set('masked', true));
    } finally {
      // Hono copies the old response's headers (Content-Length too) onto the one that replaces
      // it, be it ours or the error's Status: drop the upstream's first.
      c.res = undefined;
    }
    c.res = masked;
  };
}

/** The response with its body masked per `plan`; throws ERR_RESPONSE_UNMASKABLE when it cannot be. */
export async function maskResponse(
  response: Response,
  plan: MaskingPlan,
  rules: MaskingRules,
  onMasked: () => void,
): Promise<Response> {
  const body = response.body;
  if (body === null) return response;
  const strict = plan.mode === 'mask';
  const contentType = response.headers.get('content-type');
  if (!isJsonMediaType(contentType)) {
    if (!strict) return response;
    await body.cancel().catch(() => undefined);
    throw unmaskable(plan, `with content-type ${JSON.stringify(contentType ?? '(none)')}`);
  }
  const encoding = (response.headers.get('content-encoding') ?? 'identity').trim().toLowerCase();
  let source: ReadableStream<Uint8Array> = body;
  if (encoding === 'gzip' || encoding === 'deflate') {
    source = body.pipeThrough(new DecompressionStream(encoding) as unknown as TransformStream<Uint8Array, Uint8Array>);
  } else if (encoding !== 'identity') {
    if (!strict) return response;
    await body.cancel().catch(() => undefined);
    throw unmaskable(plan, `in content-encoding ${JSON.stringify(encoding)}`);
  }

  const headers = new Headers(response.headers);
  headers.delete('content-encoding');
  headers.delete('content-length');
  const init = { status: response.status, statusText: response.statusText, headers };
  const options = { rules, hint: plan.hint, subject: plan.subject };
  const length = Number(response.headers.get('content-length') ?? NaN);

  if (encoding === 'identity' && Number.isInteger(length) && length <= WHOLE_BODY_LIMIT) {
    const input = new Uint8Array(await new Response(source).arrayBuffer());
    const output: Uint8Array[] = [];
    const masker = new JsonStreamMasker(options, (bytes) => output.push(bytes));
    masker.push(input);
    masker.end();
    if (masker.masked) onMasked();
    // One output piece is the input itself (nothing masked) or one re-serialised document.
    const bytes = (output.length === 1 ? output[0] : Buffer.concat(output)) as Uint8Array<ArrayBuffer>;
    headers.set('content-length', String(bytes.byteLength));
    return new Response(bytes, init);
  }

  let masker: JsonStreamMasker | undefined;
  let reported = false;
  const transform = new TransformStream<Uint8Array, Uint8Array>({
    start(controller) {
      masker = new JsonStreamMasker(options, (bytes) => controller.enqueue(bytes));
    },
    transform(chunk) {
      stopsOnFailure(() => masker?.push(chunk));
      if (!reported && masker?.masked === true) {
        reported = true;
        onMasked();
      }
    },
    flush() {
      stopsOnFailure(() => masker?.end());
    },
  });
  return new Response(source.pipeThrough(transform), init);
}

const WRITES = new Set(['POST', 'PUT', 'PATCH']);

/** Refuses a write that would store a placeholder as a value. Reads the body through Hono's cache, which forward then sends. */
async function refusePlaceholderWrites(c: Context, plan: MaskingPlan): Promise<void> {
  if (!WRITES.has(c.req.method)) return;
  const body = new Uint8Array(await c.req.arrayBuffer());
  if (!carriesPlaceholder(body)) return;
  const request = c.get('kubeRequest');
  throw new GatehouseError(
    'ERR_REQUEST_INVALID',
    `user "${c.get('identity').user}" may not ${request.verb} ${plan.subject} with a masked placeholder ("***masked (…)***") as a value: ` +
      'it would replace the real value; send the real value, or leave the key out',
  );
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
 * Accept header — on every form of the client's headers forward may read.
 */
function editUpstreamHeaders(c: Context, accept: string | undefined): void {
  const headers = c.req.raw.headers;
  headers.delete('accept-encoding');
  if (accept !== undefined) headers.set('accept', accept);
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming === undefined) return;
  const raw = incoming.rawHeaders;
  for (let i = raw.length - 2; i >= 0; i -= 2) {
    const name = (raw[i] ?? '').toLowerCase();
    if (name === 'accept-encoding' || (accept !== undefined && name === 'accept')) raw.splice(i, 2);
  }
  if (accept !== undefined) raw.push('Accept', accept);
  const parsed = incoming.headers;
  delete parsed['accept-encoding'];
  if (accept !== undefined) parsed['accept'] = accept;
}
