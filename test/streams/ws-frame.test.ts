/**
 * Reading WebSocket frames (src/streams/ws-frame.ts): a client's masked payload comes back
 * unmasked whatever its length (the word-at-a-time XOR and the bytes after the last whole
 * word) and wherever it starts in the buffer, without touching the bytes Gatehouse forwards;
 * a server's unmasked payload is returned as it is.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readWsFrame, wsFrame, WS_OPCODE } from '../../src/streams/ws-frame.ts';

/** A payload whose every byte differs from its neighbours', so a misplaced mask byte shows. */
const payloadOf = (length: number): Buffer => Buffer.from(Array.from({ length }, (_, i) => (i * 37 + 11) & 0xff));
const MASK = Buffer.from([0xa1, 0x07, 0xfe, 0x5c]);

describe('readWsFrame', () => {
  const lengths: [string, number][] = [
    ['an empty payload', 0],
    ['a payload shorter than one word', 3],
    ['a payload of exactly one word', 4],
    ['a payload of one word and one byte', 5],
    ['the largest payload with a 7-bit length', 125],
    ['the smallest payload with a 16-bit length', 126],
    ['a payload just under 4 KiB', 4095],
    ['a 32 KiB payload, as kubectl writes stdin', 32 * 1024],
    ['a payload with a 64-bit length and three bytes after its last word', 65_539],
  ];
  for (const [name, length] of lengths) {
    for (const offset of [0, 1, 3]) {
      test(`unmasks ${name} (${length} bytes) that starts ${offset} bytes into its buffer, leaving the frame as it came`, () => {
        const payload = payloadOf(length);
        const frame = wsFrame(WS_OPCODE.binary, payload, MASK);
        const buffer = Buffer.concat([Buffer.alloc(offset, 0xee), frame, Buffer.from('next')]).subarray(offset);
        const before = Buffer.from(buffer);
        const read = readWsFrame(buffer, 'client');
        assert.ok(read !== undefined);
        assert.equal(read.length, frame.length);
        assert.ok(read.frame.payload.equals(payload), 'the payload, unmasked');
        assert.ok(buffer.equals(before), 'the bytes to forward are untouched');
      });
    }
  }

  test("returns a server's unmasked payload as it came", () => {
    const payload = payloadOf(70_000);
    const read = readWsFrame(wsFrame(WS_OPCODE.binary, payload), 'server');
    assert.ok(read?.frame.payload.equals(payload));
  });
});
