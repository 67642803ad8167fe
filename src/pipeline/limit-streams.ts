/**
 * Stage — limit streams: a long stream (watch, `logs -f`, exec/attach/port-forward: see
 * streams/long-stream.ts) takes one of its user's slots before anything is forwarded, and
 * gives it back when the stream ends: its body ends or breaks, the client goes away (the
 * runtime cancels the body), the Lambda adapter ends it at its time limit, or — for a
 * tunnel — the client's socket closes. An answer that is not a stream after all (the cluster
 * refused the watch) gives it back as that answer ends.
 *
 * It sits after authorize and approve, so calls that are refused anyway take no slot, and
 * before the record of intent, so a refused exec writes none. Without a limiter (no `streams`
 * configuration) it passes everything.
 */
import type { MiddlewareHandler } from 'hono';
import type { GatehouseContext } from '../context.ts';
import { teeWithCap } from '../records/capture.ts';
import { describeStream, longStreamKind } from '../streams/long-stream.ts';
import type { OpenStream, StreamLimiter } from '../streams/stream-limit.ts';
import { rawTarget } from './classify.ts';
import { headerOf } from './plain-response.ts';

export function limitStreams(limiter: StreamLimiter | undefined): MiddlewareHandler {
  return async function limitStreamsStage(c, next) {
    if (limiter === undefined) return next();
    const request = c.get('kubeRequest');
    const kind = longStreamKind(request, rawTarget(c).query);
    if (kind === undefined) return next();
    const stream = await limiter.open(c.get('identity').user, describeStream(kind, request));
    try {
      await next();
    } catch (error) {
      stream.close();
      throw error;
    }
    closeWhenEnded(c, stream);
  };
}

/** Ties the slot to the answer: closed when its body (or, for a tunnel, the client's socket) ends. */
function closeWhenEnded(c: GatehouseContext, stream: OpenStream): void {
  if (c.error !== undefined) {
    stream.close();
    return;
  }
  const socket = c.env?.upgrade?.socket;
  if (headerOf(c, 'x-gatehouse-upgraded') === 'true' && socket !== undefined) {
    if (socket.destroyed) stream.close();
    else socket.once('close', () => stream.close());
    return;
  }
  const response = c.res;
  if (c.req.method === 'HEAD' || response.body === null) {
    stream.close();
    return;
  }
  // A pass-through that keeps nothing: it only learns when the body ends, breaks or is cancelled.
  const watched = teeWithCap(response.body, 0, () => stream.close());
  // Unset first: assigning over a response makes Hono merge the old headers into the new.
  c.res = undefined;
  c.res = new Response(watched, { status: response.status, statusText: response.statusText, headers: response.headers });
}
