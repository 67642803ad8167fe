/**
 * Waiting out back-pressure on a Node writable (a socket, a Lambda response stream, a server
 * response): the one wait every runtime's writer uses after `write` returned false.
 */
import type { Writable } from 'node:stream';

/**
 * Resolves when `stream` takes more ('drain') or never will ('close'; at once when it is
 * destroyed already), leaving no listener behind either way.
 */
export function drainedOrClosed(stream: Pick<Writable, 'once' | 'off' | 'destroyed'>): Promise<void> {
  if (stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.once('drain', done);
    stream.once('close', done);
  });
}
