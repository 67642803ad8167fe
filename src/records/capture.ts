/**
 * Tees a response body for the record without holding the stream: every chunk passes
 * through as it comes, only the first `maxBytes` are kept, and `onEnd` runs exactly once —
 * when the stream ends, breaks, or the client goes away (the runtime cancels the body). A
 * stream that breaks ends cleanly for the client (`upstream_error` in the record).
 * A watch or `logs -f` therefore costs the record at most `maxBytes` of memory however long
 * it runs, and its record is written when it ends. A runtime that cancels the body with a
 * `StreamStop` (the Lambda adapter at its time limit) names how the stream ended; any other
 * cancel is the client going away.
 */
import type { CapturedBody } from './body.ts';
import type { StreamEnd } from './schema.ts';

/** Why a runtime cancelled a response body: the record's `stream_end`, and a sentence for logs. */
export class StreamStop extends Error {
  constructor(
    readonly end: Extract<StreamEnd, 'time_limit' | 'client_gone'>,
    message: string,
  ) {
    super(message);
    this.name = 'StreamStop';
  }
}

export function teeWithCap(
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
  onEnd: (captured: CapturedBody, end: StreamEnd) => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const kept: Uint8Array[] = [];
  let keptBytes = 0;
  let totalBytes = 0;
  let ended = false;

  const finish = (end: StreamEnd): void => {
    if (ended) return;
    ended = true;
    const head = Buffer.concat(kept);
    onEnd({ head, totalBytes, complete: end === 'complete' && totalBytes === keptBytes }, end);
  };

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = await reader.read();
        } catch {
          // The upstream broke mid-answer (reset, cut, a body that could not be masked): the
          // record says so, and the client gets a clean end of what was sent — as when the API
          // server ends a watch — rather than a reset connection. A body cut short is never a
          // whole JSON document, so nothing reads a truncated answer as a complete one.
          finish('upstream_error');
          controller.close();
          return;
        }
        if (result.done) {
          finish('complete');
          controller.close();
          return;
        }
        const chunk = result.value;
        totalBytes += chunk.byteLength;
        if (keptBytes < maxBytes) {
          // A copy, so the record does not pin the runtime's (possibly much larger) chunk.
          const part = chunk.slice(0, maxBytes - keptBytes);
          kept.push(part);
          keptBytes += part.byteLength;
        }
        controller.enqueue(chunk);
      },
      async cancel(reason) {
        finish(reason instanceof StreamStop ? reason.end : 'client_gone');
        await reader.cancel(reason);
      },
    },
    // Pull only when the consumer asks: back-pressure reaches the upstream unchanged.
    { highWaterMark: 0 },
  );
}
