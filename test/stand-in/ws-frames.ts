/**
 * WebSocket framing for the stand-in's upgraded streams: the frames themselves are Gatehouse's
 * own (src/streams/ws-frame.ts, one reader for both); this reads a client's messages off a
 * socket, unfragmented or fragmented, with ping answered by pong and close ending the stream.
 */
import type { Duplex } from 'node:stream';
import { readWsFrame, websocketAccept, wsFrame, WS_OPCODE } from '../../src/streams/ws-frame.ts';

export { websocketAccept, wsFrame };
export const OPCODE = WS_OPCODE;

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
      let read: ReturnType<typeof readWsFrame>;
      try {
        read = readWsFrame(pending, 'client');
      } catch {
        socket.destroy();
        close();
        return;
      }
      if (read === undefined) return;
      pending = pending.subarray(read.length);
      const { opcode, fin, payload } = read.frame;
      if (opcode === OPCODE.ping) {
        // Not after the socket's end: a write then destroys it, and what a slow reader had not yet got is lost.
        if (socket.writable) socket.write(wsFrame(OPCODE.pong, payload));
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
