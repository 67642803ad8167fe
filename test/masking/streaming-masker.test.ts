// The streaming masker holds about one item of a list at a time: each Secret of a list leaves,
// masked, as soon as its last byte came in. Counted, not timed: the cost and the memory of
// masking large lists and watches end to end are benchmarks 2 and 3 (`npm run bench`).
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

/** Counts a marker across the chunks of a stream (a marker may straddle two chunks). */
class Counter {
  count = 0;
  private tail = '';
  constructor(private readonly marker: string) {}
  add(chunk: Buffer): void {
    const text = this.tail + chunk.toString('latin1');
    for (let at = text.indexOf(this.marker); at !== -1; at = text.indexOf(this.marker, at + this.marker.length)) this.count += 1;
    this.tail = text.slice(-(this.marker.length - 1));
  }
}

/** Every item ends with its type: in the list as sent, and once masked. */
const ITEM_END = '"type":"Opaque"}';

test('streams a SecretList item by item: each Secret leaves, masked, once its last byte came in', () => {
  const count = 2000;
  const emitted = new Counter(ITEM_END);
  const values = new Counter(VALUE.slice(0, 64));
  const masker = new JsonStreamMasker({ rules: SECRETS_ONLY, hint: { kind: 'Secret' }, subject: 'secrets' }, (bytes) => {
    emitted.add(Buffer.from(bytes));
    values.add(Buffer.from(bytes));
  });
  const received = new Counter(ITEM_END);
  let chunks = 0;
  let mostBehind = 0;
  for (const chunk of secretListChunks(count)) {
    received.add(chunk);
    masker.push(chunk);
    chunks += 1;
    mostBehind = Math.max(mostBehind, received.count - emitted.count);
  }
  masker.end();
  assert.ok(chunks > 100, `the list came in ${chunks} chunks`);
  assert.equal(received.count, count);
  assert.equal(emitted.count, count, 'every Secret left');
  assert.equal(mostBehind, 0, 'no Secret whose last byte came in was held back');
  assert.equal(values.count, 0, 'no Secret value left');
});

test('masks a watch stream of Secrets event by event: each event leaves, masked, when it is pushed', () => {
  const events = Array.from({ length: 200 }, (_, i) => Buffer.from(`{"type":"MODIFIED","object":{"kind":"Secret","apiVersion":"v1",${item(i).slice(1)}}\n`));
  const out: string[] = [];
  const masker = new JsonStreamMasker({ rules: SECRETS_ONLY, hint: { kind: 'Secret' }, subject: 'secrets' }, (bytes) => out.push(Buffer.from(bytes).toString('utf8')));
  events.forEach((event, i) => {
    masker.push(event);
    const all = out.join('');
    assert.equal(all.split('\n').length - 1, i + 1, `event ${i} left when it was pushed`);
    assert.ok(!all.includes(VALUE.slice(0, 64)), `event ${i} holds no Secret value`);
  });
  masker.end();
});
