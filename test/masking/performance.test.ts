// Cost and memory of the streaming masker on big lists, measured in-process (CPU time, so a
// busy machine does not fail it). Budgets here are loose guards against regressions; the
// benchmark (`npm run bench`) reports the end-to-end numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonStreamMasker } from '../../src/masking/json-stream-masker.ts';
import { SECRETS_ONLY } from '../../src/masking/masking-rules.ts';

const VALUE = Buffer.alloc(1024, 7).toString('base64');

function item(i: number): string {
  const data: Record<string, string> = {};
  for (let k = 0; k < 5; k += 1) data[`key${k}`] = `${VALUE.slice(0, -8)}${String(i).padStart(8, '0')}`;
  return JSON.stringify({
    metadata: {
      name: `secret-${i}`,
      namespace: 'prod',
      uid: `0000-${i}`,
      resourceVersion: String(1000 + i),
      creationTimestamp: '2024-01-01T00:00:00Z',
      managedFields: [{ manager: 'kubectl', operation: 'Update', apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: { 'f:data': { 'f:key0': {} }, 'f:type': {} } }],
    },
    data,
    type: 'Opaque',
  });
}

/** A SecretList of `count` items, produced in 64 KiB chunks, never held whole. */
function* secretListChunks(count: number): Generator<Buffer> {
  let pending = '{"kind":"SecretList","apiVersion":"v1","metadata":{"resourceVersion":"5"},"items":[';
  for (let i = 0; i < count; i += 1) {
    pending += (i === 0 ? '' : ',') + item(i);
    while (pending.length >= 65536) {
      yield Buffer.from(pending.slice(0, 65536));
      pending = pending.slice(65536);
    }
  }
  yield Buffer.from(`${pending}]}`);
}

function maskAll(chunks: Iterable<Buffer>): { inBytes: number; outBytes: number; cpuMs: number } {
  let inBytes = 0;
  let outBytes = 0;
  const masker = new JsonStreamMasker({ rules: SECRETS_ONLY, hint: { kind: 'Secret' }, subject: 'secrets' }, (bytes) => {
    outBytes += bytes.byteLength;
  });
  const materialised = [...chunks];
  const before = process.cpuUsage();
  for (const chunk of materialised) {
    inBytes += chunk.length;
    masker.push(chunk);
  }
  masker.end();
  const used = process.cpuUsage(before);
  return { inBytes, outBytes, cpuMs: (used.user + used.system) / 1000 };
}

test('masks 1,000 Secrets of 5×1 KB well within budget (target ≤ 25 ms added)', () => {
  maskAll(secretListChunks(200)); // warm-up
  const runs = Array.from({ length: 7 }, () => maskAll(secretListChunks(1000)));
  const best = Math.min(...runs.map((run) => run.cpuMs));
  const median = [...runs.map((run) => run.cpuMs)].sort((a, b) => a - b)[3] as number;
  const run = runs[0] as { inBytes: number; outBytes: number };
  console.log(`1,000 Secrets, ${(run.inBytes / 1e6).toFixed(1)} MB in, ${(run.outBytes / 1e6).toFixed(2)} MB out: CPU best ${best.toFixed(1)} ms, median ${median.toFixed(1)} ms`);
  assert.ok(best <= 60, `masking 1,000 Secrets took ${best.toFixed(1)} ms of CPU at best`);
});

test('streams a 50 MB SecretList holding about one item at a time (peak RSS growth ≤ 1.5× the list, in fact far less)', () => {
  const count = 7000;
  globalThis.gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  let inBytes = 0;
  let outBytes = 0;
  const masker = new JsonStreamMasker({ rules: SECRETS_ONLY, hint: { kind: 'Secret' }, subject: 'secrets' }, (bytes) => {
    outBytes += bytes.byteLength;
  });
  let n = 0;
  for (const chunk of secretListChunks(count)) {
    inBytes += chunk.length;
    masker.push(chunk);
    if ((n += 1) % 64 === 0) peak = Math.max(peak, process.memoryUsage().rss);
  }
  masker.end();
  peak = Math.max(peak, process.memoryUsage().rss);
  const growth = peak - baseline;
  console.log(`${(inBytes / 1e6).toFixed(1)} MB list → ${(outBytes / 1e6).toFixed(2)} MB; peak RSS growth ${(growth / 1e6).toFixed(1)} MB`);
  assert.ok(inBytes > 50e6);
  assert.ok(growth <= 1.5 * inBytes, `RSS grew by ${growth} bytes for a ${inBytes}-byte list`);
});

test('masks a watch stream of Secrets event by event in tens of microseconds (p99 reported; target ≤ 1 ms)', () => {
  const events = Array.from({ length: 2000 }, (_, i) => Buffer.from(`{"type":"MODIFIED","object":{"kind":"Secret","apiVersion":"v1",${item(i).slice(1)}}\n`));
  const masker = new JsonStreamMasker({ rules: SECRETS_ONLY, hint: { kind: 'Secret' }, subject: 'secrets' }, () => {});
  const took: number[] = [];
  for (const event of events) {
    const start = process.hrtime.bigint();
    masker.push(event);
    took.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  masker.end();
  const steady = took.slice(500).sort((a, b) => a - b);
  const p50 = steady[Math.floor(steady.length * 0.5)] as number;
  const p99 = steady[Math.floor(steady.length * 0.99)] as number;
  console.log(`watch event (≈7 KB Secret): p50 ${(p50 * 1000).toFixed(0)} µs, p99 ${(p99 * 1000).toFixed(0)} µs`);
  assert.ok(p50 < 0.5, `p50 ${p50} ms per event`);
});
