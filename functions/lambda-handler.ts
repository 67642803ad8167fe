/**
 * The Lambda Function URL adapter around the Gatehouse app: payload format 2.0 in, a
 * streamed response out (invoke mode RESPONSE_STREAM, so watch and `logs -f` flow as the
 * cluster sends them). Hono's `streamHandle` does the conversion; it hands the app
 * `{ event, requestContext, context }` as env, so `rawTarget` (classify.ts) reads
 * `event.rawPath` / `event.rawQueryString` — the path is never decoded twice.
 *
 * Before the app sees an event, this adapter refuses what cannot be turned into a request
 * faithfully, with a Kubernetes Status (hono would write a bare "Internal Server Error"
 * without a status prelude): a body over the 6 MB invoke payload limit (413), a body on
 * GET/HEAD (a fetch Request cannot carry one), and events that are not Function URL 2.0.
 * Those refusals happen outside the pipeline, like the limits Lambda itself enforces, so
 * they are logged, not recorded.
 */
import type { Writable } from 'node:stream';
import type { Hono } from 'hono';
import { streamHandle } from 'hono/aws-lambda';
import { GatehouseError, statusResponse } from '../src/errors.ts';

/** Lambda's synchronous invoke payload limit (request and buffered response): 6 MB. */
export const MAX_REQUEST_PAYLOAD_BYTES = 6 * 1024 * 1024;

/** The parts of a Function URL (payload format 2.0) event this adapter reads. */
export interface FunctionUrlEvent {
  version: string;
  rawPath: string;
  rawQueryString: string;
  headers?: Record<string, string | undefined>;
  cookies?: string[];
  body?: string | null;
  isBase64Encoded: boolean;
  requestContext: { http: { method: string; path?: string; protocol?: string; sourceIp?: string; userAgent?: string } } & Record<string, unknown>;
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

export type StreamingHandler = (event: FunctionUrlEvent, responseStream: Writable, context: unknown) => Promise<void>;

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
}

export function createLambdaHandler(app: Hono, options: LambdaHandlerOptions = {}): StreamingHandler {
  // streamifyResponse marks and returns the function itself, so the marked function can be
  // called from our own streaming handler with the same (event, stream, context).
  const honoHandler = streamHandle(app) as unknown as StreamingHandler;
  return awslambda.streamifyResponse(async function gatehouseLambda(event, responseStream, context) {
    const refusal = refuseEvent(event);
    if (refusal !== undefined) {
      console.warn(JSON.stringify({ message: 'refused before the pipeline', code: refusal.code, reason: refusal.message }));
      await writeResponse(responseStream, statusResponse(refusal));
      return;
    }
    try {
      await honoHandler(event, responseStream, context);
    } finally {
      // A stream's record is written as its body ends; let that settle, then flush.
      await new Promise((resolve) => setImmediate(resolve));
      await options.afterResponse?.();
    }
  });
}

/** Why this event cannot become a faithful request, or undefined when it can. */
export function refuseEvent(event: FunctionUrlEvent): GatehouseError | undefined {
  if (typeof event.rawPath !== 'string' || typeof event.requestContext?.http?.method !== 'string') {
    return new GatehouseError('ERR_REQUEST_INVALID', 'Gatehouse on Lambda accepts only Function URL events (payload format 2.0)');
  }
  const method = event.requestContext.http.method.toUpperCase();
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

function base64DecodedLength(text: string): number {
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return Math.floor((text.length * 3) / 4) - padding;
}

/** Writes a whole (small) response the way streamHandle does: metadata prelude, then body. */
async function writeResponse(responseStream: Writable, response: Response): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  const stream = awslambda.HttpResponseStream.from(responseStream, { statusCode: response.status, headers, cookies: [] });
  const body = Buffer.from(await response.arrayBuffer());
  await new Promise<void>((resolve, reject) => {
    stream.end(body, (error?: Error | null) => (error ? reject(error) : resolve()));
  });
}
