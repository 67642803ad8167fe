/**
 * Benchmark 8 — the stream recorder: MB/s of terminal output through `data()` and `close()`
 * (asciicast lines, gzip, the object handed to an in-memory store), without redaction and
 * with a namespace's worth of it (200 Secret values, two patterns). 64 MiB of output in 4 KiB
 * frames, ANSI-coloured lines as `ls --color` prints them.
 */
import type { StreamSessionInfo } from '../../src/ports/recordings.ts';
import type { RedactionRules } from '../../src/recordings/redactor.ts';
import { NO_REDACTION } from '../../src/recordings/redactor.ts';
import { createRecordingStore } from '../../src/recordings/store.ts';

export interface RecorderResult {
  megabytes: number;
  plainMBps: number;
  redactedMBps: number;
  /** Gzip object size / bytes of output, plain run. */
  storedRatio: number;
}

const INFO: StreamSessionInfo = { requestId: 'bench', kind: 'exec', user: 'bench', namespace: 'bench', pod: 'p', command: ['sh'], tty: true, startedAt: '2025-03-01T00:00:00.000Z' };
const FRAME_BYTES = 4096;

function frames(totalBytes: number): Uint8Array[] {
  const line = (i: number): string => `\x1b[01;34mdir-${i}\x1b[0m  file-${i}.txt  \x1b[01;32mrun-${i}.sh\x1b[0m  notes ${'x'.repeat(i % 40)}\r\n`;
  let text = '';
  for (let i = 0; text.length < FRAME_BYTES * 16; i += 1) text += line(i);
  const block = Buffer.from(text);
  const out: Uint8Array[] = [];
  for (let offset = 0; offset < totalBytes; offset += FRAME_BYTES) {
    const at = offset % (block.length - FRAME_BYTES);
    out.push(block.subarray(at, at + FRAME_BYTES));
  }
  return out;
}

async function run(chunks: Uint8Array[], rules: RedactionRules): Promise<{ seconds: number; stored: number }> {
  let stored = 0;
  const store = createRecordingStore({
    objects: { location: 'memory', put: async (_key, body) => void (stored = body.length), get: async () => new Uint8Array(), list: async () => ({ keys: [], truncated: false }) },
    prefix: 'recordings/',
    maxBytes: 1 << 30,
    redactionFor: async () => rules,
  });
  const recorder = await store.open(INFO);
  const start = performance.now();
  chunks.forEach((chunk, i) => recorder.data('stdout', chunk, i));
  await recorder.close('bench done', chunks.length);
  return { seconds: (performance.now() - start) / 1000, stored };
}

export async function recorderThroughput(options: { megabytes: number }, log: (line: string) => void): Promise<RecorderResult> {
  const chunks = frames(options.megabytes * 1024 * 1024);
  const bytes = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const secrets = Array.from({ length: 200 }, (_, i) => `secret-value-${i}-${'k'.repeat(16)}`);
  await run(chunks.slice(0, 256), NO_REDACTION);
  const plain = await run(chunks, NO_REDACTION);
  const redacted = await run(chunks, { literals: secrets, patterns: [/AKIA[0-9A-Z]{16}/, /password=\S+/i], windowChars: 256 });
  const mb = bytes / (1024 * 1024);
  const result: RecorderResult = { megabytes: mb, plainMBps: mb / plain.seconds, redactedMBps: mb / redacted.seconds, storedRatio: plain.stored / bytes };
  log(`  ${mb.toFixed(0)} MiB of output: ${result.plainMBps.toFixed(1)} MB/s plain, ${result.redactedMBps.toFixed(1)} MB/s with 200 Secret values and 2 patterns redacted; gzip object ${(result.storedRatio * 100).toFixed(1)}% of the output`);
  return result;
}
