/**
 * SPDY/3.1 framing (draft-mbelshe-httpbis-spdy-00 as moby/spdystream speaks it, the carrier of
 * kubectl ≤1.29's exec/attach/cp and of every kubectl's port-forward): reading frames off a
 * byte stream and writing them. Pure: no sockets, no zlib state (spdy-headers.ts keeps that).
 *
 * Contract: `readSpdyFrame(buffer)` returns the first whole frame and its length, `undefined`
 * when the buffer holds only part of one, and throws StreamProtocolError for anything that is
 * not SPDY/3 — a control frame of another version or an unknown type, a frame longer than the
 * limit, a control frame whose fixed fields do not fit.
 */
import { StreamProtocolError } from './stream-error.ts';

export const SPDY_TYPE = { synStream: 1, synReply: 2, rstStream: 3, settings: 4, ping: 6, goAway: 7, headers: 8, windowUpdate: 9 } as const;
export const SPDY_FLAG_FIN = 0x01;

/** Largest frame payload accepted (spdystream's own default frame size is far smaller). */
export const MAX_SPDY_FRAME_BYTES = 1 << 20;

const TYPE_NAMES = new Map<number, string>(Object.entries(SPDY_TYPE).map(([name, value]) => [value, name]));
/** Bytes of fixed fields before a control frame's header block (SYN_STREAM, SYN_REPLY, HEADERS). */
const FIXED: Partial<Record<number, number>> = { 1: 10, 2: 4, 3: 8, 4: 4, 6: 4, 7: 8, 8: 4, 9: 8 };

export type SpdyFrame =
  | { control: true; type: number; flags: number; payload: Buffer; /** Stream id for stream-scoped control frames, else 0. */ streamId: number }
  | { control: false; streamId: number; flags: number; payload: Buffer };

/** The length on the wire of the frame `head` (its first 8 bytes) begins; undefined before 8 bytes. */
export function spdyFrameSize(head: Buffer): number | undefined {
  if (head.length < 8) return undefined;
  const length = head.readUInt32BE(4) & 0xffffff;
  if (length > MAX_SPDY_FRAME_BYTES) throw new StreamProtocolError(`a SPDY frame of ${length} bytes is over the limit of ${MAX_SPDY_FRAME_BYTES}`);
  return 8 + length;
}

export function readSpdyFrame(buffer: Buffer): { frame: SpdyFrame; length: number } | undefined {
  const size = spdyFrameSize(buffer);
  if (size === undefined || buffer.length < size) return undefined;
  const length = size - 8;
  const flags = buffer[4] as number;
  const payload = buffer.subarray(8, 8 + length);
  if (((buffer[0] as number) & 0x80) === 0) return { frame: { control: false, streamId: buffer.readUInt32BE(0) & 0x7fffffff, flags, payload }, length: 8 + length };
  const version = buffer.readUInt16BE(0) & 0x7fff;
  const type = buffer.readUInt16BE(2);
  if (version !== 3) throw new StreamProtocolError(`a SPDY control frame of version ${version}, not 3`);
  const fixed = FIXED[type];
  if (fixed === undefined) throw new StreamProtocolError(`a SPDY control frame of unknown type ${type}`);
  if (payload.length < fixed) throw new StreamProtocolError(`a SPDY ${TYPE_NAMES.get(type) ?? type} frame of ${payload.length} bytes is too short`);
  const scoped = type === SPDY_TYPE.synStream || type === SPDY_TYPE.synReply || type === SPDY_TYPE.rstStream || type === SPDY_TYPE.headers || type === SPDY_TYPE.windowUpdate;
  return { frame: { control: true, type, flags, payload, streamId: scoped ? payload.readUInt32BE(0) & 0x7fffffff : 0 }, length: 8 + length };
}

/** The header block of a SYN_STREAM, SYN_REPLY or HEADERS frame (after its fixed fields). */
export function headerBlockOf(frame: SpdyFrame & { control: true }): Buffer {
  return frame.payload.subarray(FIXED[frame.type] ?? 0);
}

export function spdyTypeName(type: number): string {
  return TYPE_NAMES.get(type) ?? String(type);
}

export function spdyControlFrame(type: number, flags: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16BE(0x8003, 0);
  header.writeUInt16BE(type, 2);
  header.writeUInt32BE(((flags << 24) | payload.length) >>> 0, 4);
  return Buffer.concat([header, payload]);
}

export function spdyDataFrame(streamId: number, flags: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(streamId & 0x7fffffff, 0);
  header.writeUInt32BE(((flags << 24) | payload.length) >>> 0, 4);
  return Buffer.concat([header, payload]);
}

/** A control frame's payload with its fixed fields replaced by `fixed` and its header block by `block`. */
export function withHeaderBlock(frame: SpdyFrame & { control: true }, block: Buffer): Buffer {
  const fixed = frame.payload.subarray(0, FIXED[frame.type] ?? 0);
  return spdyControlFrame(frame.type, frame.flags, Buffer.concat([fixed, block]));
}

/** A SYN_REPLY for `streamId` carrying an (already compressed) header block. */
export function spdySynReply(streamId: number, block: Buffer): Buffer {
  const id = Buffer.alloc(4);
  id.writeUInt32BE(streamId & 0x7fffffff);
  return spdyControlFrame(SPDY_TYPE.synReply, 0, Buffer.concat([id, block]));
}

/** Name/value pairs of an inflated header block (u32 count, then u32-length-prefixed names and values). */
export function decodeHeaderPairs(raw: Buffer): Map<string, string> {
  const fail = (why: string): never => {
    throw new StreamProtocolError(`a SPDY header block ${why}`);
  };
  if (raw.length < 4) fail('is shorter than its count');
  const count = raw.readUInt32BE(0);
  const headers = new Map<string, string>();
  let at = 4;
  const field = (): string => {
    if (at + 4 > raw.length) fail('ends inside a length');
    const length = raw.readUInt32BE(at);
    if (at + 4 + length > raw.length) fail('ends inside a name or value');
    const text = raw.toString('utf8', at + 4, at + 4 + length);
    at += 4 + length;
    return text;
  };
  for (let i = 0; i < count; i += 1) {
    const name = field().toLowerCase();
    const value = field();
    if (headers.has(name)) fail(`names ${JSON.stringify(name)} twice`);
    headers.set(name, value);
  }
  if (at !== raw.length) fail('has bytes after its last header');
  return headers;
}

export function encodeHeaderPairs(headers: Iterable<readonly [string, string]>): Buffer {
  const pairs = [...headers];
  const parts: Buffer[] = [u32(pairs.length)];
  for (const [name, value] of pairs) parts.push(u32(Buffer.byteLength(name)), Buffer.from(name), u32(Buffer.byteLength(value)), Buffer.from(value));
  return Buffer.concat(parts);
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0);
  return b;
}
