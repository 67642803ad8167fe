/**
 * The unread bytes of one direction, as the chunks they arrived in: a frame is copied into
 * one buffer once, when all of it is there — not the whole backlog again with every chunk
 * (a 1 MiB frame arriving in 16 KiB TLS records would otherwise be copied 64 times).
 */
export class ByteQueue {
  private chunks: Buffer[] = [];
  private total = 0;

  get length(): number {
    return this.total;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  /** The first `n` bytes (at most what is there), contiguous; the queue is unchanged. */
  peek(n: number): Buffer {
    const want = Math.min(n, this.total);
    const first = this.chunks[0];
    if (first === undefined) return Buffer.alloc(0);
    if (first.length >= want) return first.subarray(0, want);
    // Merge just enough leading chunks to cover `want` (headers are a few bytes).
    const merged = Buffer.concat(this.chunks.slice(0, this.chunksCovering(want)));
    this.chunks.splice(0, this.chunksCovering(want), merged);
    return merged.subarray(0, want);
  }

  /** Removes and returns the first `n` bytes (n ≤ length), contiguous. */
  take(n: number): Buffer {
    const first = this.chunks[0];
    if (first !== undefined && first.length >= n) {
      this.total -= n;
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const count = this.chunksCovering(n);
    const merged = Buffer.concat(this.chunks.slice(0, count));
    const rest = merged.subarray(n);
    this.chunks.splice(0, count, ...(rest.length > 0 ? [rest] : []));
    this.total -= n;
    return merged.subarray(0, n);
  }

  clear(): void {
    this.chunks = [];
    this.total = 0;
  }

  private chunksCovering(n: number): number {
    let covered = 0;
    for (let i = 0; i < this.chunks.length; i += 1) {
      covered += (this.chunks[i] as Buffer).length;
      if (covered >= n) return i + 1;
    }
    return this.chunks.length;
  }
}
