/**
 * WebSocket framing (RFC 6455): reading frames off a byte stream and writing them. Pure.
 *
 * Contract: `readWsFrame(buffer, from)` returns the first whole frame and its length on the
 * wire — a masked payload unmasked into a copy of its own, an unmasked one as a view of
 * `buffer` (never written to, by the reader or by anyone it hands the frame to) — `undefined` when the buffer holds only part of one, and
 * throws StreamProtocolError for what the tunnel will not carry: reserved bits (no extension
 * is negotiated through Gatehouse), unknown opcodes, a control frame that is fragmented or
 * over 125 bytes, a frame over the limit, or a mask missing or present against the side
 * (`from`) that sent it.
 */
import { createHash } from 'node:crypto';
import { StreamProtocolError } from './stream-error.ts';

export const WS_OPCODE = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** Largest frame payload accepted. */
export const MAX_WS_FRAME_BYTES = 16 * 1024 * 1024;

const KNOWN_OPCODES = new Set<number>(Object.values(WS_OPCODE));

export interface WsFrame {
  fin: boolean;
  opcode: number;
  /** Unmasked. */
  payload: Buffer;
}

/**
 * The length on the wire of the frame that `head` (at least its first 14 bytes, or all there
 * is) begins, once its header is checked; undefined while the header is incomplete.
 */
export function wsFrameSize(head: Buffer, from: 'client' | 'server'): number | undefined {
  if (head.length < 2) return undefined;
  const first = head[0] as number;
  const second = head[1] as number;
  let length = second & 0x7f;
  let at = 2;
  if (length === 126) {
    if (head.length < 4) return undefined;
    length = head.readUInt16BE(2);
    at = 4;
  } else if (length === 127) {
    if (head.length < 10) return undefined;
    const long = head.readBigUInt64BE(2);
    if (long > BigInt(MAX_WS_FRAME_BYTES)) throw new StreamProtocolError(`a WebSocket frame of ${long} bytes is over the limit of ${MAX_WS_FRAME_BYTES}`);
    length = Number(long);
    at = 10;
  }
  if (length > MAX_WS_FRAME_BYTES) throw new StreamProtocolError(`a WebSocket frame of ${length} bytes is over the limit of ${MAX_WS_FRAME_BYTES}`);
  const opcode = first & 0x0f;
  const fin = (first & 0x80) !== 0;
  if ((first & 0x70) !== 0) throw new StreamProtocolError('a WebSocket frame sets reserved bits (no extension is negotiated through Gatehouse)');
  if (!KNOWN_OPCODES.has(opcode)) throw new StreamProtocolError(`a WebSocket frame of unknown opcode ${opcode}`);
  if (opcode >= 0x8 && (!fin || length > 125)) throw new StreamProtocolError('a WebSocket control frame is fragmented or longer than 125 bytes');
  const masked = (second & 0x80) !== 0;
  if (masked !== (from === 'client')) throw new StreamProtocolError(from === 'client' ? 'a WebSocket frame from the client is not masked' : 'a WebSocket frame from the server is masked');
  return at + (masked ? 4 : 0) + length;
}

/** The largest WebSocket frame header: what `wsFrameSize` needs to see. */
export const WS_MAX_HEADER_BYTES = 14;

export function readWsFrame(buffer: Buffer, from: 'client' | 'server'): { frame: WsFrame; length: number } | undefined {
  const size = wsFrameSize(buffer, from);
  if (size === undefined || buffer.length < size) return undefined;
  const first = buffer[0] as number;
  const masked = ((buffer[1] as number) & 0x80) !== 0;
  const short = (buffer[1] as number) & 0x7f;
  const at = (short === 126 ? 4 : short === 127 ? 10 : 2) + (masked ? 4 : 0);
  const payload = masked ? unmasked(buffer.subarray(at, size), buffer.subarray(at - 4, at)) : buffer.subarray(at, size);
  return { frame: { fin: (first & 0x80) !== 0, opcode: first & 0x0f, payload }, length: size };
}

/**
 * A copy of `data` XORed with the 4-byte `mask`. The copy gets an ArrayBuffer of its own (so
 * it starts 4-byte aligned) and is XORed a 32-bit word at a time through a typed-array view:
 * every byte kubectl sends on stdin passes here (Buffer's readUInt32LE/writeUInt32LE per
 * word cost a quarter of a `kubectl cp` into a pod's CPU).
 */
function unmasked(data: Buffer, mask: Buffer): Buffer {
  const payload = Buffer.allocUnsafeSlow(data.length);
  data.copy(payload);
  const words = data.length >>> 2;
  // The mask as one word in the platform's byte order, the same order the view reads in.
  const word = new Uint32Array(Uint8Array.from(mask).buffer)[0] as number;
  const view = new Uint32Array(payload.buffer, payload.byteOffset, words);
  for (let i = 0; i < words; i += 1) view[i] = (view[i] as number) ^ word;
  for (let i = words << 2; i < payload.length; i += 1) payload[i] = (payload[i] as number) ^ (mask[i & 3] as number);
  return payload;
}

/** One frame, FIN set; masked with `mask` (4 bytes) when a client sends it. */
export function wsFrame(opcode: number, payload: Buffer, mask?: Buffer): Buffer {
  const length = payload.length;
  const maskBit = mask === undefined ? 0 : 0x80;
  let header: Buffer;
  if (length < 126) header = Buffer.from([0x80 | opcode, maskBit | length]);
  else if (length < 65536) header = Buffer.from([0x80 | opcode, maskBit | 126, length >> 8, length & 0xff]);
  else {
    header = Buffer.alloc(10);
    header[0] = 0x80 | opcode;
    header[1] = maskBit | 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  if (mask === undefined) return Buffer.concat([header, payload]);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i += 1) body[i] = (body[i] as number) ^ (mask[i & 3] as number);
  return Buffer.concat([header, mask, body]);
}

/** A close frame's payload: status code and a reason (cut to fit the 125-byte limit on a character boundary). */
export function wsClosePayload(code: number, reason: string): Buffer {
  let text = Buffer.from(reason);
  if (text.length > 123) text = Buffer.from(text.subarray(0, 123).toString('utf8').replace(/\uFFFD+$/, ''));
  const code2 = Buffer.alloc(2);
  code2.writeUInt16BE(code);
  return Buffer.concat([code2, text]);
}

const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (RFC 6455 §4.2.2). */
export function websocketAccept(key: string): string {
  return createHash('sha1').update(`${key}${WEBSOCKET_GUID}`).digest('base64');
}
