/**
 * Record lines (src/records/record-line.ts): the bytes of every line are exactly its JSON in
 * UTF-8 — multi-byte text and a long line included — and a later line never changes an
 * earlier one's bytes.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SessionRecord } from '../../src/ports/records.ts';
import { recordLineBytes, toRecordLine } from '../../src/records/record-line.ts';

function record(index: number, bodyChars: number): SessionRecord {
  // Only the fields the line itself reads are typed; the rest is carried as it is.
  return {
    started_at: `2026-11-29T04:00:${String(index % 60).padStart(2, '0')}.000Z`,
    request_id: `request-${index}`,
    response_body: `{"n":${index},"text":"${'é😀"\\'.repeat(bodyChars / 4)}"}`,
  } as unknown as SessionRecord;
}

describe('record lines', () => {
  test('keep every line’s exact UTF-8 bytes, long lines included', () => {
    const records = Array.from({ length: 900 }, (_, index) => record(index, index === 450 ? 200_000 : 1200 + (index % 7) * 300));
    const lines = records.map(toRecordLine);
    let total = 0;
    records.forEach((value, index) => {
      const line = lines[index];
      assert.ok(line !== undefined);
      const expected = Buffer.from(JSON.stringify(value), 'utf8');
      total += expected.byteLength;
      assert.deepEqual(Buffer.from(recordLineBytes(line)), expected, `line ${index}`);
      assert.equal(line.json, JSON.stringify(value));
      assert.equal(line.startedAt, value.started_at);
    });
    assert.ok(total > 3 * 1024 * 1024, `${total} bytes of lines held at once`);
  });

  test('a line that was not made here is encoded from its JSON', () => {
    const line = { startedAt: '2026-11-29T04:00:00.000Z', cluster: null, json: '{"a":"é"}' };
    assert.deepEqual(Buffer.from(recordLineBytes(line)), Buffer.from('{"a":"é"}', 'utf8'));
  });
});
