/**
 * Stage 4 — approve: a `review` decision is held for a person's approval.
 *
 * Reads the request body (review decisions only; at most `approvals.maxBodyBytes`, larger
 * bodies are refused with 413) because the fingerprint covers it, and leaves the bytes for
 * forward: Hono's body cache and a fresh `c.req.raw` both carry them. Then the approval
 * service consumes a matching grant (→ next stage) or answers with the refusal that names the
 * approval (pending, denied, already used). `c.get('approval')` is set either way, for records.
 * Without an approvals service a review decision is refused, saying so.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { GatehouseError } from '../errors.ts';
import type { Approvals } from '../ports/approvals.ts';
import type { Clock } from '../types.ts';
import { rawTarget } from './classify.ts';

export function approve(approvals: Approvals | undefined, _clock: Clock): MiddlewareHandler {
  return async function approveStage(c, next) {
    const decision = c.get('decision');
    if (decision.effect !== 'review') return next();
    const identity = c.get('identity');
    const request = c.get('kubeRequest');
    if (approvals === undefined) {
      throw new GatehouseError(
        'ERR_APPROVAL_REQUIRED',
        `user "${identity.user}" may not ${request.verb} ${request.resource || request.path}: requires approval (rule "${decision.rule}"), and approvals are not configured`,
      );
    }
    const body = await bufferBody(c, approvals.maxBodyBytes);
    const result = await approvals.review({
      identity,
      request,
      decision,
      method: c.req.method,
      rawQuery: rawTarget(c).query,
      body,
      contentType: c.req.header('content-type') ?? '',
      origin: new URL(c.req.url).origin,
      kubectlCommand: c.req.header('kubectl-command') ?? '',
      kubectlSession: c.req.header('kubectl-session') ?? '',
    });
    c.set('approval', result.outcome);
    if (result.refusal !== undefined) throw result.refusal;
    await next();
  };
}

/** Reads the whole body (refusing more than `limit` bytes) and puts it back for the stages after. */
async function bufferBody(c: Context, limit: number): Promise<Uint8Array> {
  const method = c.req.method;
  if (method === 'GET' || method === 'HEAD') return new Uint8Array(0);
  const tooLarge = (size: string): GatehouseError =>
    new GatehouseError(
      'ERR_PAYLOAD_TOO_LARGE',
      `the request body (${size}) is larger than the ${limit} bytes Gatehouse reads for a request that needs approval`,
    );
  const declared = Number(c.req.header('content-length') ?? '0');
  if (declared > limit) throw tooLarge(`${declared} bytes`);
  const cached = c.req.bodyCache.arrayBuffer;
  if (cached !== undefined) {
    const bytes = new Uint8Array(await cached);
    if (bytes.byteLength > limit) throw tooLarge(`${bytes.byteLength} bytes`);
    return bytes;
  }
  const stream = c.req.raw.body;
  if (stream === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(`more than ${limit} bytes`);
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
