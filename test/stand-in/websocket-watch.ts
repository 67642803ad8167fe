/**
 * Watches over WebSocket, as kube-apiserver serves any watch when the client upgrades
 * (`Upgrade: websocket`): an `Origin` header is required (golang.org/x/net/websocket refuses
 * a handshake without one, 403), the subprotocol is `base64.binary.k8s.io` (each event a text
 * message of its base64) or `binary.k8s.io` (binary messages), and without either each event
 * is a text message. The events are the watch's own (watch.ts), one message each.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { wsFrame as frame, websocketAccept } from './ws-frames.ts';
import { ApiError } from './status.ts';
import type { WatchTransport } from './watch.ts';

const PROTOCOLS = ['base64.binary.k8s.io', 'binary.k8s.io'];

/** Checks the handshake and returns the transport that answers 101 when the watch starts. */
export function websocketWatchTransport(req: IncomingMessage, socket: Duplex): WatchTransport {
  if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') throw new ApiError(400, 'BadRequest', `cannot upgrade a watch to ${req.headers.upgrade ?? 'nothing'}`);
  if (req.headers.origin === undefined) throw new ApiError(403, 'Forbidden', 'websocket: null origin');
  const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  const protocol = PROTOCOLS.find((p) => offered.includes(p));
  let ended = false;
  return {
    start() {
      socket.write(
        [
          'HTTP/1.1 101 Switching Protocols',
          'Upgrade: websocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Accept: ${websocketAccept(req.headers['sec-websocket-key'] ?? '')}`,
          ...(protocol === undefined ? [] : [`Sec-WebSocket-Protocol: ${protocol}`]),
          '',
          '',
        ].join('\r\n'),
      );
    },
    write(bytes) {
      if (protocol === 'binary.k8s.io') socket.write(frame(0x2, bytes));
      else if (protocol === 'base64.binary.k8s.io') socket.write(frame(0x1, Buffer.from(bytes.toString('base64'))));
      else socket.write(frame(0x1, bytes));
    },
    end() {
      ended = true;
      socket.end(frame(0x8, Buffer.from([0x03, 0xe8])));
    },
    get ended() {
      return ended || socket.destroyed;
    },
    onClose(listener) {
      socket.on('data', () => undefined);
      socket.once('close', listener);
    },
  };
}
