/**
 * A stand-in for what the Node.js Lambda runtime gives a RESPONSE_STREAM function, as the
 * runtime interface client implements it:
 * - the global `awslambda.streamifyResponse(handler)` marks the handler as streaming and
 *   returns it;
 * - `awslambda.HttpResponseStream.from(stream, metadata)` sets the integration content type
 *   and, on the first `write` call, writes the JSON metadata prelude and 8 NUL bytes — the
 *   wire format the Function URL front end parses into status, headers and cookies. As in
 *   the runtime, only `write` does: `end(body)` without a `write` sends no prelude.
 * `invoke` calls a handler with a fresh response stream and decodes that wire format back,
 * keeping each chunk with the moment it arrived so tests can tell streaming from buffering.
 */
import { Writable } from 'node:stream';
import type { FunctionUrlEvent, HttpResponseMetadata, StreamingHandler } from '../../functions/lambda-handler.ts';

export const STREAMING_MARK = Symbol.for('aws.lambda.runtime.handler.streaming');
const PRELUDE_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
const DELIMITER = new Uint8Array(8);

/** The response stream the runtime passes as the handler's second argument. */
export class ShimResponseStream extends Writable {
  readonly raw: Buffer[] = [];
  contentType = 'application/octet-stream';
  /** Called by every write; tests await arrivals with `waitFor`. */
  private readonly arrivals = new Set<() => void>();
  onBeforeFirstWrite: ((write: (chunk: Uint8Array | string) => void) => void) | undefined;
  private started = false;

  setContentType(contentType: string): void {
    this.contentType = contentType;
  }

  // The runtime patches `write` (not `_write`): Writable#end(chunk) bypasses it, and so the prelude.
  override write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
    if (!this.started) {
      this.started = true;
      this.onBeforeFirstWrite?.((c) => super.write(c));
    }
    return super.write(chunk, encoding as BufferEncoding, callback as (error: Error | null | undefined) => void);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.raw.push(chunk);
    for (const arrival of this.arrivals) arrival();
    callback();
  }

  /** Resolves once the body received so far satisfies `test`. */
  async waitFor(test: (body: string) => boolean): Promise<string> {
    const decoded = await this.waitUntil((d) => test(d.body.toString('utf8')));
    return decoded.body.toString('utf8');
  }

  /** Resolves once what was received so far (prelude and body) satisfies `test`. */
  waitUntil(test: (decoded: DecodedResponse) => boolean): Promise<DecodedResponse> {
    return new Promise((resolve) => {
      const check = (): void => {
        const decoded = decode(this);
        if (!test(decoded)) return;
        this.arrivals.delete(check);
        resolve(decoded);
      };
      this.arrivals.add(check);
      check();
    });
  }
}

export function installAwsLambdaShim(): void {
  globalThis.awslambda = {
    streamifyResponse(handler) {
      Object.defineProperty(handler, STREAMING_MARK, { value: 'response' });
      return handler;
    },
    HttpResponseStream: {
      from(stream: Writable, metadata: HttpResponseMetadata): Writable {
        const shim = stream as unknown as ShimResponseStream;
        shim.setContentType(PRELUDE_CONTENT_TYPE);
        shim.onBeforeFirstWrite = (write) => {
          write(JSON.stringify(metadata));
          write(DELIMITER);
        };
        return stream;
      },
    },
  };
}

export interface DecodedResponse {
  metadata: HttpResponseMetadata | undefined;
  body: Buffer;
}

/** Splits the stream's bytes into the metadata prelude and the body, as the Function URL does. */
export function decode(stream: ShimResponseStream): DecodedResponse {
  const all = Buffer.concat(stream.raw);
  if (stream.contentType !== PRELUDE_CONTENT_TYPE) return { metadata: undefined, body: all };
  const end = all.indexOf(Buffer.from(DELIMITER));
  if (end === -1) return { metadata: undefined, body: Buffer.alloc(0) };
  return { metadata: JSON.parse(all.subarray(0, end).toString('utf8')) as HttpResponseMetadata, body: all.subarray(end + DELIMITER.length) };
}

export interface Invocation {
  stream: ShimResponseStream;
  /** Settles when the handler's promise does, as the runtime waits for it. */
  done: Promise<DecodedResponse>;
}

/** `remainingMs`: what the context's getRemainingTimeInMillis() answers when the invocation starts (default 900 s). */
export function invoke(handler: StreamingHandler, event: FunctionUrlEvent, remainingMs = 900_000): Invocation {
  const stream = new ShimResponseStream();
  const started = Date.now();
  const context = { awsRequestId: 'test-request', functionName: 'gatehouse', getRemainingTimeInMillis: () => remainingMs - (Date.now() - started) };
  const done = handler(event, stream as unknown as Writable, context).then(() => {
    if (!stream.writableEnded) stream.end();
    return decode(stream);
  });
  return { stream, done };
}
