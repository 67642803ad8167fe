/**
 * A loopback Lambda Runtime API (version 2018-06-01), for running the real runtime interface
 * client (`aws-lambda-ric`) against: what Lambda's own Runtime API answers and accepts, as
 * docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html and the response-streaming pages
 * describe it.
 *
 * - `GET /2018-06-01/runtime/invocation/next` waits for an invocation, then answers the event
 *   as JSON with `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms` (epoch ms),
 *   `Lambda-Runtime-Invoked-Function-Arn` and `Lambda-Runtime-Trace-Id`.
 * - `POST …/invocation/{id}/response` takes the response: buffered, or streamed
 *   (`Lambda-Runtime-Function-Response-Mode: streaming`, chunked) with the error trailers
 *   `Lambda-Runtime-Function-Error-Type` / `-Body`; a streamed HTTP integration response
 *   (`application/vnd.awslambda.http-integration-response`) starts with the JSON metadata
 *   prelude and 8 NUL bytes, which is split off here as the Function URL front end does.
 *   Answered 202 once the body has ended.
 * - `POST …/invocation/{id}/error` and `POST /2018-06-01/runtime/init/error` take errors
 *   (`Lambda-Runtime-Function-Error-Type` header, JSON body).

 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpResponseMetadata } from '../../functions/lambda-handler.ts';

const PRELUDE_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
const DELIMITER = Buffer.alloc(8);
export const FUNCTION_ARN = 'arn:aws:lambda:eu-west-1:123456789012:function:gatehouse';

export interface RuntimeError {
  errorType: string;
  errorMessage: string;
}

export interface InvocationResult {
  /** `response` (streamed or buffered), or `error` (the invocation failed). */
  kind: 'response' | 'error';
  streaming: boolean;
  metadata: HttpResponseMetadata | undefined;
  body: Buffer;
  /** Trailers of a streamed response (lower-case names): set when the stream failed mid-way. */
  trailers: Record<string, string>;
  error: RuntimeError | undefined;
}

export interface RuntimeInvocation {
  requestId: string;
  /** Resolves once the body received so far (after the prelude) satisfies `test`. */
  waitFor(test: (body: string) => boolean): Promise<string>;
  /** Settles when the runtime finished the response or posted an error. */
  done: Promise<InvocationResult>;
  /** Resolves when the runtime asks for its next invocation after this one: the invocation is over. */
  over: Promise<void>;
}

export interface InvokeOptions {
  /** Milliseconds from now to the invocation's deadline (the function timeout); default 60 s. */
  timeoutMs?: number;
}

export interface RuntimeApi {
  /** `host:port`, the value of AWS_LAMBDA_RUNTIME_API. */
  address: string;
  invoke(event: unknown, options?: InvokeOptions): RuntimeInvocation;
  /** Resolves with the error the runtime posts to `init/error`. */
  initError: Promise<RuntimeError>;
  close(): Promise<void>;
}

interface Pending {
  id: string;
  event: unknown;
  deadlineMs: number;
  received: Buffer[];
  streaming: boolean;
  contentType: string;
  arrivals: Set<() => void>;
  settle: (result: InvocationResult) => void;
  over: () => void;
}

export async function startRuntimeApi(): Promise<RuntimeApi> {
  const queue: Pending[] = [];
  const waiting: ServerResponse[] = [];
  const byId = new Map<string, Pending>();
  /** The invocation handed out last, whose end the next `next` call marks. */
  let current: Pending | undefined;
  let reportInitError: (error: RuntimeError) => void = () => undefined;
  const initError = new Promise<RuntimeError>((resolve) => (reportInitError = resolve));
  let counter = 0;

  const handOut = (res: ServerResponse, pending: Pending): void => {
    current = pending;
    res.writeHead(200, {
      'content-type': 'application/json',
      'lambda-runtime-aws-request-id': pending.id,
      'lambda-runtime-deadline-ms': String(pending.deadlineMs),
      'lambda-runtime-invoked-function-arn': FUNCTION_ARN,
      'lambda-runtime-trace-id': `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${pending.id.replaceAll('-', '').slice(0, 24)};Parent=0000000000000001;Sampled=0`,
    });
    res.end(JSON.stringify(pending.event));
  };

  const server: Server = createServer((req, res) => {
    const url = req.url ?? '';
    if (req.method === 'GET' && url === '/2018-06-01/runtime/invocation/next') {
      current?.over();
      current = undefined;
      const next = queue.shift();
      if (next !== undefined) handOut(res, next);
      else waiting.push(res);
      return;
    }
    const chunks: Buffer[] = [];
    const invocation = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url);
    const pending = invocation === null ? undefined : byId.get(decodeURIComponent(invocation[1] ?? ''));
    if (req.method === 'POST' && pending !== undefined && invocation?.[2] === 'response') {
      pending.streaming = String(req.headers['lambda-runtime-function-response-mode'] ?? '') === 'streaming';
      pending.contentType = String(req.headers['content-type'] ?? '');
      req.on('data', (chunk: Buffer) => {
        pending.received.push(chunk);
        for (const arrival of pending.arrivals) arrival();
      });
      req.on('end', () => {
        res.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"OK"}');
        const { metadata, body } = split(pending);
        pending.settle({ kind: 'response', streaming: pending.streaming, metadata, body, trailers: lowerCase(req.trailers), error: undefined });
      });
      return;
    }
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const error = parseError(Buffer.concat(chunks), req.headers['lambda-runtime-function-error-type']);
      if (req.method === 'POST' && pending !== undefined && invocation?.[2] === 'error') {
        res.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"OK"}');
        pending.settle({ kind: 'error', streaming: false, metadata: undefined, body: Buffer.alloc(0), trailers: {}, error });
        return;
      }
      if (req.method === 'POST' && url === '/2018-06-01/runtime/init/error') {
        res.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"OK"}');
        reportInitError(error);
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errorType: 'InvalidRequestID', errorMessage: `no invocation for ${url}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    address,
    initError,
    invoke(event, options = {}) {
      counter += 1;
      const id = `00000000-0000-4000-8000-${String(counter).padStart(12, '0')}`;
      let settle: (result: InvocationResult) => void = () => undefined;
      let over: () => void = () => undefined;
      const done = new Promise<InvocationResult>((resolve) => (settle = resolve));
      const overPromise = new Promise<void>((resolve) => (over = resolve));
      let settled = false;
      const pending: Pending = {
        id,
        event,
        deadlineMs: Date.now() + (options.timeoutMs ?? 60_000),
        received: [],
        streaming: false,
        contentType: '',
        arrivals: new Set(),
        settle: (result) => {
          if (settled) return;
          settled = true;
          settle(result);
        },
        over,
      };
      byId.set(id, pending);
      const res = waiting.shift();
      if (res !== undefined) handOut(res, pending);
      else queue.push(pending);
      return {
        requestId: id,
        done,
        over: overPromise,
        waitFor(test) {
          return new Promise((resolve) => {
            const check = (): void => {
              const body = split(pending).body.toString('utf8');
              if (!test(body)) return;
              pending.arrivals.delete(check);
              resolve(body);
            };
            pending.arrivals.add(check);
            check();
          });
        },
      };
    },
    close() {
      for (const res of waiting.splice(0)) res.destroy();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Splits a streamed integration response into its metadata prelude and body, as the Function URL does. */
function split(pending: Pending): { metadata: HttpResponseMetadata | undefined; body: Buffer } {
  const all = Buffer.concat(pending.received);
  if (pending.contentType !== PRELUDE_CONTENT_TYPE) return { metadata: undefined, body: all };
  const end = all.indexOf(DELIMITER);
  if (end === -1) return { metadata: undefined, body: Buffer.alloc(0) };
  return { metadata: JSON.parse(all.subarray(0, end).toString('utf8')) as HttpResponseMetadata, body: all.subarray(end + DELIMITER.length) };
}

function parseError(body: Buffer, type: string | string[] | undefined): RuntimeError {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as Partial<RuntimeError>;
    return { errorType: parsed.errorType ?? String(type ?? ''), errorMessage: parsed.errorMessage ?? '' };
  } catch {
    return { errorType: String(type ?? ''), errorMessage: body.toString('utf8') };
  }
}

function lowerCase(headers: NodeJS.Dict<string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) out[name.toLowerCase()] = value;
  return out;
}
