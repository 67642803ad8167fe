/**
 * WebSocket framing (RFC 6455) for the stand-in's upgraded streams: frames written by the
 * server (never masked) and a reader for the client's frames (always masked), unfragmented
 * or fragmented, with ping answered by pong and close ending the stream.
 */
import { createHash } from 'node:crypto';
import type { Duplex } from 'node:stream';

const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (RFC 6455 §4.2.2). */
export function websocketAccept(key: string): string {
  return createHash('sha1').update(`${key}${WEBSOCKET_GUID}`).digest('base64');
}

export const OPCODE = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** One server frame: FIN set, no mask. */
export function wsFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  let header: Buffer;
  if (length < 126) header = Buffer.from([0x80 | opcode, length]);
  else if (length < 65536) header = Buffer.from([0x80 | opcode, 126, length >> 8, length & 0xff]);
  else {
    header = Buffer.alloc(10);
    header[0] = 0x80 | opcode;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  return Buffer.concat([header, payload]);
}

/**
 * Reads the client's messages from `socket`: `onMessage` gets each whole binary or text
 * message; a close frame is answered and `onClose` runs once (also when the socket ends).
 */
export function readWsMessages(socket: Duplex, onMessage: (payload: Buffer) => void, onClose: () => void): void {
  let pending = Buffer.alloc(0);
  let fragments: Buffer[] = [];
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    onClose();
  };
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      if (pending.length < 2) return;
      const first = pending[0] as number;
      const second = pending[1] as number;
      let length = second & 0x7f;
      let at = 2;
      if (length === 126) {
        if (pending.length < 4) return;
        length = pending.readUInt16BE(2);
        at = 4;
      } else if (length === 127) {
        if (pending.length < 10) return;
        length = Number(pending.readBigUInt64BE(2));
        at = 10;
      }
      const masked = (second & 0x80) !== 0;
      const mask = masked ? pending.subarray(at, at + 4) : undefined;
      if (masked) at += 4;
      if (pending.length < at + length) return;
      const payload = Buffer.from(pending.subarray(at, at + length));
      pending = pending.subarray(at + length);
      if (mask !== undefined) for (let i = 0; i < payload.length; i += 1) payload[i] = (payload[i] as number) ^ (mask[i % 4] as number);
      const opcode = first & 0x0f;
      const fin = (first & 0x80) !== 0;
      if (opcode === OPCODE.ping) {
        socket.write(wsFrame(OPCODE.pong, payload));
        continue;
      }
      if (opcode === OPCODE.pong) continue;
      if (opcode === OPCODE.close) {
        if (!socket.writableEnded) socket.end(wsFrame(OPCODE.close, payload.subarray(0, 2)));
        close();
        return;
      }
      fragments.push(payload);
      if (!fin) continue;
      const message = Buffer.concat(fragments);
      fragments = [];
      onMessage(message);
    }
  });
  socket.on('end', close);
  socket.on('close', close);
  socket.on('error', close);
}
