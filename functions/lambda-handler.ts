/**
 * The Lambda Function URL adapter around the Gatehouse app: payload format 2.0 in, a
 * streamed response out (invoke mode RESPONSE_STREAM, so watch and `logs -f` flow as the
 * cluster sends them). The app gets `{ event, requestContext, context }` as env (what
 * hono's `streamHandle` passes), so `rawTarget` (classify.ts) reads `event.rawPath` /
 * `event.rawQueryString` — the path is never decoded twice.
 *
 * Why not hono's `streamHandle`: a call must end on time and say how it ended, which needs
 * the request's AbortSignal and the loop that copies the body:
 * - Every invocation has a stream limit: the time Lambda gives it (`context.
 *   getRemainingTimeInMillis()`) less a margin, or the configured longest stream when that
 *   is shorter. When it passes, the call's AbortSignal fires with a `StreamStop`
 *   (`time_limit`): a pending upstream call is dropped, a streaming answer (watch, `logs -f`)
 *   ends cleanly — the body is closed as a normal end, which kubectl reads as the end of the
 *   watch — its record says `time_limit`, and the margin is left for the record to be written
 *   (`afterResponse`) before Lambda could stop the function.
 * - A response stream that closes or fails under us (the runtime's connection to the
 *   client is gone) fires the same signal (`client_gone`): the upstream stops too.
 * - The metadata prelude is written by a `write` — the runtime's `HttpResponseStream`
 *   writes it on the first `write` only, never on `end(body)` — and goes out at once, before
 *   the first event of a watch.
 * - A body that breaks after the prelude went out ends the stream as it is (hono would
 *   append "Internal Server Error" to the body).
 *
 * Before the app sees an event, this adapter refuses what cannot be turned into a request
 * faithfully, with a Kubernetes Status: a body over the 6 MB invoke payload limit (413), a
 * body on GET/HEAD (a fetch Request cannot carry one), a header value that is not ASCII,
 * and events that are not Function URL 2.0. Those refusals happen outside the pipeline,
 * like the limits Lambda itself enforces, so they are logged, not recorded.
 */
import type { Writable } from 'node:stream';
import type { Hono } from 'hono';
import { GatehouseError, statusResponse } from '../src/errors.ts';
import { base64DecodedLength } from '../src/masking/placeholder.ts';
import { StreamStop } from '../src/records/capture.ts';
import { drainedOrClosed } from '../src/runtime/drained.ts';

/** Lambda's synchronous invoke payload limit (request and buffered response): 6 MB. */
export const MAX_REQUEST_PAYLOAD_BYTES = 6 * 1024 * 1024;

/** Time left for the records once a stream is ended at the deadline, unless configured. */
export const DEFAULT_DEADLINE_MARGIN_MS = 10_000;

/** The parts of a Function URL (payload format 2.0) event this adapter reads. */
export interface FunctionUrlEvent {
  version: string;
  rawPath: string;
  rawQueryString: string;
  headers?: Record<string, string | undefined>;
  cookies?: string[];
  body?: string | null;
  isBase64Encoded: boolean;
  requestContext: { domainName?: string; http: { method: string; path?: string; protocol?: string; sourceIp?: string; userAgent?: string } } & Record<string, unknown>;
}

/** The parts of the Lambda context object this adapter reads. */
export interface LambdaContext {
  awsRequestId?: string;
  getRemainingTimeInMillis(): number;
}

/** The metadata prelude a streamed Function URL response starts with. */
export interface HttpResponseMetadata {
  statusCode: number;
  headers: Record<string, string>;
  cookies: string[];
}

/** What the Node.js Lambda runtime provides as the global `awslambda`. */
export interface AwsLambdaRuntime {
  streamifyResponse<H extends StreamingHandler>(handler: H, options?: { highWaterMark?: number }): H;
  HttpResponseStream: { from(stream: Writable, metadata: HttpResponseMetadata): Writable };
}

export type StreamingHandler = (event: FunctionUrlEvent, responseStream: Writable, context: LambdaContext) => Promise<void>;

declare global {
  // Provided by the Lambda Node.js runtime (and by the test shim).
  var awslambda: AwsLambdaRuntime;
}

export interface LambdaHandlerOptions {
  /**
   * Runs after each response has been streamed out, before the invocation ends: Lambda
   * freezes the process between invocations, so buffered records must be written now.
   */
  afterResponse?: () => Promise<void>;
  /** A call's stream ends this long before the invocation's deadline (default 10 s). */
  deadlineMarginMs?: number;
  /** The longest a call runs, whatever time the invocation has left (default: no bound but the deadline). */
  maxStreamMs?: number;
  /** One JSON line per event (default: stderr through console.warn). */
  log?: (event: Record<string, unknown>) => void;
  /** Told how each call ended, once its response is out (for metrics). */
  observe?: (call: CallObservation) => void;
}

/** How one call ended, as the adapter saw it. */
export interface CallObservation {
  statusCode: number;
  /** `refused`: by the adapter, before the app; `time_limit` / `client_gone`: the call's signal fired; `broken`: the body failed after the prelude. */
  ended: 'complete' | 'refused' | 'time_limit' | 'client_gone' | 'broken';
}

const consoleLog = (event: Record<string, unknown>): void => console.warn(JSON.stringify(event));

export function createLambdaHandler(app: Hono, options: LambdaHandlerOptions = {}): StreamingHandler {
  const log = options.log ?? consoleLog;
  const marginMs = options.deadlineMarginMs ?? DEFAULT_DEADLINE_MARGIN_MS;
  return awslambda.streamifyResponse(async function gatehouseLambda(event, responseStream, context) {
    const refusal = refuseEvent(event);
    if (refusal !== undefined) {
      log({ message: 'refused before the pipeline', code: refusal.code, reason: refusal.message });
      const response = statusResponse(refusal);
      await sendResponse(responseStream, response, undefined, log);
      options.observe?.({ statusCode: response.status, ended: 'refused' });
      return;
    }
    const stop = new AbortController();
    const limit = streamLimit(context, marginMs, options.maxStreamMs);
    const timer = setTimeout(() => stop.abort(new StreamStop('time_limit', limit.reason)), limit.ms);
    const gone = (): void => {
      if (!responseStream.writableFinished) stop.abort(new StreamStop('client_gone', 'the response stream to the client closed before the answer ended'));
    };
    responseStream.once('close', gone);
    // Stays attached: an error after the answer must not become an uncaught exception.
    responseStream.on('error', gone);
    try {
      const response = await app.fetch(functionUrlRequest(event, stop.signal), { event, requestContext: event.requestContext, context });
      const whole = await sendResponse(responseStream, response, stop.signal, log);
      const reason: unknown = stop.signal.reason;
      options.observe?.({ statusCode: response.status, ended: !whole ? 'broken' : reason instanceof StreamStop ? reason.end : 'complete' });
    } finally {
      clearTimeout(timer);
      responseStream.off('close', gone);
      // A stream's record is written as its body ends; let that settle, then flush.
      await new Promise((resolve) => setImmediate(resolve));
      await options.afterResponse?.();
    }
  });
}

/** How long this invocation's call may run, and the reason its record gives when it is cut there. */
export function streamLimit(context: LambdaContext, marginMs: number, maxStreamMs: number | undefined): { ms: number; reason: string } {
  const remaining = context.getRemainingTimeInMillis();
  const beforeDeadline = Math.max(0, remaining - marginMs);
  if (maxStreamMs !== undefined && maxStreamMs <= beforeDeadline) {
    return { ms: maxStreamMs, reason: `Gatehouse on AWS Lambda ends a call after ${seconds(maxStreamMs)}s (the configured longest stream); the client may reconnect` };
  }
  return {
    ms: beforeDeadline,
    reason: `Gatehouse on AWS Lambda ended the call ${seconds(marginMs)}s before the function's deadline (${seconds(remaining)}s were left when it started), so its record is written in time; the client may reconnect`,
  };
}

function seconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}

/** Why this event cannot become a faithful request, or undefined when it can. */
export function refuseEvent(event: FunctionUrlEvent): GatehouseError | undefined {
  if (typeof event.rawPath !== 'string' || typeof event.requestContext?.http?.method !== 'string') {
    return new GatehouseError('ERR_REQUEST_INVALID', 'Gatehouse on Lambda accepts only Function URL events (payload format 2.0)');
  }
  const method = event.requestContext.http.method.toUpperCase();
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    // eslint-disable-next-line no-control-regex
    if (value !== undefined && /[^\x00-\x7f]/.test(value)) {
      return new GatehouseError('ERR_REQUEST_INVALID', `header ${name} of ${method} ${event.rawPath} carries non-ASCII characters, which Gatehouse does not pass on`);
    }
  }
  const body = event.body ?? '';
  if (body === '') return undefined;
  const bodyBytes = event.isBase64Encoded ? base64DecodedLength(body) : Buffer.byteLength(body, 'utf8');
  if (body.length > MAX_REQUEST_PAYLOAD_BYTES || bodyBytes > MAX_REQUEST_PAYLOAD_BYTES) {
    return new GatehouseError(
      'ERR_PAYLOAD_TOO_LARGE',
      `the request body of ${method} ${event.rawPath} is ${bodyBytes} bytes; Gatehouse on AWS Lambda accepts at most ${MAX_REQUEST_PAYLOAD_BYTES} bytes (the Lambda payload limit)`,
    );
  }
  if (method === 'GET' || method === 'HEAD') {
    return new GatehouseError('ERR_REQUEST_INVALID', `a ${method} request cannot carry a body (${event.rawPath})`);
  }
  return undefined;
}

/**
 * The fetch Request for an event, as hono's Function URL processor builds it (URL from the
 * domain, raw path and query; cookies back into one Cookie header; the body decoded), with
 * the call's AbortSignal. The app reads the path from the event, never from this URL.
 */
export function functionUrlRequest(event: FunctionUrlEvent, signal: AbortSignal): Request {
  const headers = new Headers();
  if (Array.isArray(event.cookies) && event.cookies.length > 0) headers.set('cookie', event.cookies.join('; '));
  for (const [name, value] of Object.entries(event.headers ?? {})) if (value) headers.set(name, value);
  const domain = event.requestContext.domainName ?? headers.get('host') ?? 'lambda-url.invalid';
  const url = `https://${domain}${event.rawPath}${event.rawQueryString === '' ? '' : `?${event.rawQueryString}`}`;
  const init: RequestInit = { method: event.requestContext.http.method, headers, signal };
  if (event.body) {
    const body = event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
    init.body = body;
    headers.set('content-length', String(body.byteLength));
  }
  return new Request(url, init);
}

/**
 * Streams a response out: the metadata prelude at once (by a `write`), then the body chunk by
 * chunk with back-pressure, then the end; false when the body broke on the way. When `signal` fires the body is cancelled with its
 * reason (the record stage's tee records how the call ended) and the stream ends normally.
 */
async function sendResponse(responseStream: Writable, response: Response, signal: AbortSignal | undefined, log: (event: Record<string, unknown>) => void): Promise<boolean> {
  let whole = true;
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  response.headers.forEach((value, name) => {
    if (name === 'set-cookie') cookies.push(value);
    else headers[name] = value;
  });
  const stream = awslambda.HttpResponseStream.from(responseStream, { statusCode: response.status, headers, cookies });
  stream.write('');
  const body = response.body;
  if (body !== null) {
    const reader = body.getReader();
    const cancel = (): void => void reader.cancel(signal?.reason).catch(() => undefined);
    if (signal?.aborted === true) cancel();
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || stream.destroyed) break;
        if (!stream.write(value)) await drainedOrClosed(stream);
      }
    } catch (error) {
      // The prelude is out: the status cannot change any more. End what was sent.
      whole = false;
      log({ message: 'response body broke after it started', error: error instanceof Error ? error.message : String(error) });
    } finally {
      signal?.removeEventListener('abort', cancel);
    }
    if (stream.destroyed) await reader.cancel(new StreamStop('client_gone', 'the response stream closed')).catch(() => undefined);
  }
  await endStream(stream);
  return whole;
}


function endStream(stream: Writable): Promise<void> {
  if (stream.destroyed || stream.writableFinished) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('close', done);
      resolve();
    };
    stream.once('close', done);
    stream.end(done);
  });
}
