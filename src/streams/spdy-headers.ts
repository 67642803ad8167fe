/**
 * SPDY/3 header compression: each direction of a connection is ONE zlib stream primed with
 * the SPDY dictionary, every header block ending in a sync flush.
 *
 * - `HeaderInflater` reads one side's blocks, in order (the zlib history spans them all).
 * - `HeaderDeflater` writes header blocks of its own zlib stream as stored (uncompressed)
 *   deflate blocks: valid for any inflater, synchronous, and header blocks are tiny. The
 *   tunnel re-encodes every block it passes on with one, so it may drop a stream the policy
 *   refuses, or answer one itself, without breaking either side's zlib history.
 */
import { constants, createInflate, type Inflate } from 'node:zlib';
import { SPDY_HEADER_DICTIONARY } from './spdy-dictionary.ts';
import { decodeHeaderPairs, encodeHeaderPairs } from './spdy-frame.ts';
import { StreamProtocolError } from './stream-error.ts';

/** Largest inflated header block accepted (a zip bomb is refused, not inflated). */
const MAX_HEADER_BLOCK_BYTES = 64 * 1024;

export class HeaderInflater {
  private readonly inflate: Inflate = createInflate({ dictionary: SPDY_HEADER_DICTIONARY, maxOutputLength: MAX_HEADER_BLOCK_BYTES });
  private failure: Error | undefined;

  constructor() {
    this.inflate.on('error', (error: Error) => (this.failure = error));
  }

  /** The headers of the next block (names lower-cased); rejects with StreamProtocolError. */
  block(compressed: Buffer): Promise<Map<string, string>> {
    return new Promise((resolve, reject) => {
      const fail = (error: Error): void => reject(new StreamProtocolError(`a SPDY header block does not inflate: ${error.message}`));
      if (this.failure !== undefined) {
        fail(this.failure);
        return;
      }
      const onError = (error: Error): void => fail(error);
      this.inflate.once('error', onError);
      this.inflate.write(compressed);
      this.inflate.flush(constants.Z_SYNC_FLUSH, () => {
        this.inflate.off('error', onError);
        if (this.failure !== undefined) return;
        const chunks: Buffer[] = [];
        let total = 0;
        for (let chunk = this.inflate.read() as Buffer | null; chunk !== null; chunk = this.inflate.read() as Buffer | null) {
          chunks.push(chunk);
          total += chunk.length;
        }
        if (total > MAX_HEADER_BLOCK_BYTES) {
          reject(new StreamProtocolError(`a SPDY header block inflates to more than ${MAX_HEADER_BLOCK_BYTES} bytes`));
          return;
        }
        try {
          resolve(decodeHeaderPairs(Buffer.concat(chunks, total)));
        } catch (error) {
          reject(error instanceof Error ? error : new StreamProtocolError(String(error)));
        }
      });
    });
  }

  close(): void {
    this.inflate.destroy();
  }
}

export class HeaderDeflater {
  private started = false;

  block(headers: Iterable<readonly [string, string]>): Buffer {
    const raw = encodeHeaderPairs(headers);
    const stored: Buffer[] = [];
    // Stored blocks hold at most 65535 bytes; then an empty one, as a sync flush ends (Go's
    // inflater hands out what it has only at a block boundary).
    for (let at = 0; at < raw.length || at === 0; at += 0xffff) {
      const part = raw.subarray(at, at + 0xffff);
      stored.push(Buffer.from([0x00, part.length & 0xff, part.length >> 8, ~part.length & 0xff, (~part.length >> 8) & 0xff]), part);
      if (raw.length === 0) break;
    }
    stored.push(Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]));
    const body = Buffer.concat(stored);
    if (this.started) return body;
    this.started = true;
    // zlib header: deflate, 32 KiB window, FDICT set, then the dictionary's Adler-32.
    const id = Buffer.alloc(4);
    id.writeUInt32BE(adler32(SPDY_HEADER_DICTIONARY));
    return Buffer.concat([Buffer.from([0x78, 0xbb]), id, body]);
  }
}

function adler32(data: Buffer): number {
  let a = 1;
  let b = 0;
  for (const byte of data) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}
