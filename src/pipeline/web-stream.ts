/**
 * A web ReadableStream over a Node Readable (an upstream answer), for the responses forward
 * and mask hand to the runtime. Why not `Readable.toWeb`: that one wires itself to the source
 * at once, so a later stage could not take the Node stream instead; and a masked answer would
 * pay a second stream (`pipeThrough`) with a promise hop per chunk.
 *
 * Contract:
 * - Lazy: nothing touches `source` until the web stream is first read. A stage that takes the
 *   Node stream itself simply never reads this one.
 * - One hop per chunk: each Node chunk goes through `step.chunk`, which enqueues zero or more
 *   pieces synchronously (default: the chunk itself). `step.end` runs when the source ends.
 *   Either may throw: the web stream then errors with that error and the source is destroyed
 *   (the rest is never sent).
 * - Backpressure by bytes: the source pauses once `QUEUE_BYTES` are queued unread (a client
 *   slower than the upstream), and resumes on the next read.
 * - A source that errors, or closes before its end (upstream cut, client gone), errors the
 *   web stream; cancelling the web stream destroys the source.
 */
import type { Readable } from 'node:stream';

export interface StreamStep {
  chunk(bytes: Buffer, enqueue: (bytes: Uint8Array) => void): void;
  end(enqueue: (bytes: Uint8Array) => void): void;
}

const PASS_THROUGH: StreamStep = {
  chunk: (bytes, enqueue) => enqueue(bytes),
  end: () => undefined,
};

/** Bytes queued in the web stream before the source is paused. */
const QUEUE_BYTES = 64 * 1024;

export function lazyWebStream(source: Readable, step: StreamStep = PASS_THROUGH): ReadableStream<Uint8Array> {
  let wired = false;
  let done = false;
  let failure: { error: unknown } | undefined;
  /** A read is pending on an empty queue (pull was called and nothing enqueued since). */
  let waiting = false;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (failure !== undefined) {
          controller.error(failure.error);
          return;
        }
        waiting = true;
        if (!wired) {
          wired = true;
          const enqueue = (bytes: Uint8Array): void => {
            if (bytes.byteLength === 0) return;
            waiting = false;
            controller.enqueue(bytes);
          };
          const fail = (error: unknown): void => {
            if (done) return;
            done = true;
            failure = { error };
            source.destroy();
            // Errored at the next read, after what was queued: a read must be pending for the
            // runtime to abort the response (an error while it waits for 'drain' ends it cleanly).
            if (waiting) controller.error(error);
          };
          source.on('data', (chunk: Buffer) => {
            if (done) return;
            try {
              step.chunk(chunk, enqueue);
            } catch (error) {
              fail(error);
              return;
            }
            if ((controller.desiredSize ?? 0) <= -QUEUE_BYTES) source.pause();
          });
          source.once('end', () => {
            if (done) return;
            try {
              step.end(enqueue);
            } catch (error) {
              fail(error);
              return;
            }
            done = true;
            controller.close();
          });
          source.once('error', fail);
          source.once('close', () => {
            if (!done) fail(prematureClose());
          });
        }
        source.resume();
      },
      cancel() {
        done = true;
        source.destroy();
      },
    },
    // Nothing is pulled before the first read (laziness); the size makes the pause threshold bytes.
    { highWaterMark: 0, size: (chunk) => chunk.byteLength },
  );
}

function prematureClose(): Error {
  return Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}
