/**
 * Raw HTTP/1.1 over TLS for tests that must control every byte a server receives (a GET with
 * a body, an Upgrade, repeated or odd headers) and see every byte it sends back (a 101 and
 * the WebSocket frames after it, a response that closes the connection).
 *
 *   const reply = await rawRequest(url, ca, ['GET /api HTTP/1.1', 'Host: x', 'Connection: close'], '');
 *   reply.status; reply.head; reply.bytes (everything after the head); reply.raw (all of it)
 */
import * as tls from 'node:tls';

export interface RawReply {
  status: number;
  /** The status line and headers, as text. */
  head: string;
  headers: Record<string, string>;
  /** Everything after the head (body, or frames after a 101), as received. */
  bytes: Buffer;
  /** The body with chunked framing removed (as received when not chunked). */
  body: Buffer;
  raw: Buffer;
  /** What ended the exchange: `until` was satisfied, the server closed the connection, or the timeout passed. */
  ended: 'until' | 'closed' | 'timeout';
}

export interface RawOptions {
  /** Resolve once the bytes received so far satisfy this (else when the server closes). */
  until?: (received: Buffer) => boolean;
  /** Give up (destroying the connection) after this long; default 20 s. */
  timeoutMs?: number;
}

/** Sends `lines` (joined with CRLF, ended by an empty line) and `body` as is; collects the answer. */
export function rawRequest(url: string, ca: string, lines: string[], body: Buffer | string = '', options: RawOptions = {}): Promise<RawReply> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const socket = tls.connect({ host: target.hostname, port: Number(target.port), ca, servername: target.hostname === '127.0.0.1' ? undefined : target.hostname });
    const finish = (ended: RawReply['ended']): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const raw = Buffer.concat(chunks);
      const end = raw.indexOf('\r\n\r\n');
      if (end === -1) {
        reject(new Error(`no HTTP answer head in ${raw.length} bytes: ${JSON.stringify(raw.toString('latin1').slice(0, 200))}`));
        return;
      }
      const head = raw.subarray(0, end).toString('latin1');
      const [statusLine = '', ...headerLines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).trim().toLowerCase();
        headers[name] = headers[name] === undefined ? line.slice(colon + 1).trim() : `${headers[name]}, ${line.slice(colon + 1).trim()}`;
      }
      const bytes = raw.subarray(end + 4);
      const chunked = /chunked/i.test(headers['transfer-encoding'] ?? '');
      resolve({ status: Number(statusLine.split(' ')[1]), head, headers, bytes, body: chunked ? dechunk(bytes) : bytes, raw, ended });
    };
    const timer = setTimeout(() => finish('timeout'), options.timeoutMs ?? 20_000);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (options.until?.(Buffer.concat(chunks)) === true) finish('until');
    });
    socket.on('close', () => finish('closed'));
    socket.on('error', (error) => {
      if (chunks.length > 0) finish('closed');
      else if (!settled) {
        settled = true;
        clearTimeout(timer);
        reject(error);
      }
    });
    socket.write(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), Buffer.isBuffer(body) ? body : Buffer.from(body)]));
  });
}

/** A chunked body's data (as much as arrived). */
function dechunk(bytes: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at);
    if (lineEnd === -1) break;
    const size = Number.parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/** The payloads of the server-to-client WebSocket frames in `bytes` (unmasked, as servers send them). */
export function websocketMessages(bytes: Buffer): { opcode: number; payload: Buffer }[] {
  const out: { opcode: number; payload: Buffer }[] = [];
  let at = 0;
  while (at + 2 <= bytes.length) {
    const opcode = (bytes[at] as number) & 0x0f;
    let length = (bytes[at + 1] as number) & 0x7f;
    let start = at + 2;
    if (length === 126) {
      length = bytes.readUInt16BE(at + 2);
      start = at + 4;
    } else if (length === 127) {
      length = Number(bytes.readBigUInt64BE(at + 2));
      start = at + 10;
    }
    if (start + length > bytes.length) break;
    out.push({ opcode, payload: bytes.subarray(start, start + length) });
    at = start + length;
  }
  return out;
}
