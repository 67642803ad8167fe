/**
 * SPDY/3.1 streams, the way kubectl ≤1.29 runs `exec` (`X-Stream-Protocol-Version:
 * v4.channel.k8s.io` … v1) and every kubectl runs `port-forward` (`portforward.k8s.io`) —
 * kubectl ≥1.30 tries WebSockets first and falls back to this when the upgrade is refused.
 *
 * The server side of moby/spdystream, just enough of it: the client opens streams
 * (SYN_STREAM, headers `streamtype`, for port-forward also `port` and `requestid`), the
 * server accepts each (SYN_REPLY), DATA frames carry bytes (FIN ends a direction), PING is
 * echoed, GOAWAY or the socket's end closes all. Header blocks are zlib with the SPDY
 * dictionary: the client's are inflated with the shared stream's history; the server's are
 * written as stored (uncompressed) deflate blocks of one shared zlib stream.
 *
 * exec: once the streams the query asks for are open (error, stdin, stdout, stderr, resize
 * with a TTY), the command runs in the built-in shell (exec.ts/shell.ts); output goes to
 * stdout/stderr, the final Status (v4: JSON) to the error stream, then every stream is
 * finished. port-forward: each connection's data stream reaches a tiny server on the pod's
 * port — an HTTP request gets an HTTP answer naming pod and port, other bytes are echoed.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { constants, inflateSync } from 'node:zlib';
import { isTrue } from './exchange.ts';
import { execTarget, exitStatus, runExec, type ExecHandler, type ExecInput } from './exec.ts';
import type { ShellContext } from './shell.ts';
import { SPDY_HEADER_DICTIONARY } from './spdy-dictionary.ts';
import { badRequest } from './status.ts';
import type { KubeObject } from './store.ts';

const EXEC_PROTOCOLS = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];
const PORT_FORWARD_PROTOCOL = 'portforward.k8s.io';

const TYPE = { synStream: 1, synReply: 2, rstStream: 3, settings: 4, ping: 6, goAway: 7, headers: 8, windowUpdate: 9 } as const;
const FLAG_FIN = 0x01;

function adler32(data: Buffer): number {
  let a = 1;
  let b = 0;
  for (const byte of data) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** The server's header blocks: one zlib stream (with the dictionary) made of stored deflate blocks. */
class HeaderWriter {
  private started = false;

  block(headers: Record<string, string>): Buffer {
    const pairs = Object.entries(headers);
    const parts: Buffer[] = [u32(pairs.length)];
    for (const [name, value] of pairs) parts.push(u32(Buffer.byteLength(name)), Buffer.from(name), u32(Buffer.byteLength(value)), Buffer.from(value));
    const raw = Buffer.concat(parts);
    // A stored block, then an empty one, as a sync flush ends: Go's inflater hands out what it
    // has only when a block boundary says so, without reading past the frame.
    const stored = Buffer.concat([Buffer.from([0x00, raw.length & 0xff, raw.length >> 8, ~raw.length & 0xff, (~raw.length >> 8) & 0xff]), raw, Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff])]);
    if (this.started) return stored;
    this.started = true;
    // zlib header: deflate, 32 KiB window, FDICT set, then the dictionary's Adler-32.
    return Buffer.concat([Buffer.from([0x78, 0xbb]), u32(adler32(SPDY_HEADER_DICTIONARY)), stored]);
  }
}

/** The client's header blocks, inflated against everything the shared zlib stream carried before. */
class HeaderReader {
  private compressed = Buffer.alloc(0);
  private seen = 0;

  block(data: Buffer): Record<string, string> {
    this.compressed = Buffer.concat([this.compressed, data]);
    const all = inflateSync(this.compressed, { dictionary: SPDY_HEADER_DICTIONARY, finishFlush: constants.Z_SYNC_FLUSH });
    const raw = all.subarray(this.seen);
    this.seen = all.length;
    const headers: Record<string, string> = {};
    let at = 4;
    for (let i = 0; i < raw.readUInt32BE(0); i += 1) {
      const nameLength = raw.readUInt32BE(at);
      const name = raw.subarray(at + 4, at + 4 + nameLength).toString('utf8');
      at += 4 + nameLength;
      const valueLength = raw.readUInt32BE(at);
      headers[name.toLowerCase()] = raw.subarray(at + 4, at + 4 + valueLength).toString('utf8');
      at += 4 + valueLength;
    }
    return headers;
  }
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0);
  return b;
}

function controlFrame(type: number, flags: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16BE(0x8003, 0);
  header.writeUInt16BE(type, 2);
  header.writeUInt32BE((flags << 24) | payload.length, 4);
  return Buffer.concat([header, payload]);
}

function dataFrame(streamId: number, flags: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(streamId & 0x7fffffff, 0);
  header.writeUInt32BE((flags << 24) | payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** One SPDY connection, server side: streams the client opens, by id. */
class SpdyConnection {
  private readonly writer = new HeaderWriter();
  private readonly reader = new HeaderReader();
  private pending = Buffer.alloc(0);
  readonly finished = new Set<number>();

  constructor(
    private readonly socket: Duplex,
    private readonly handlers: {
      opened(id: number, headers: Record<string, string>): void;
      data(id: number, data: Buffer, fin: boolean): void;
      closed(): void;
    },
  ) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('close', () => handlers.closed());
    socket.on('error', () => handlers.closed());
  }

  write(id: number, data: Buffer | string): void {
    if (!this.socket.writableEnded && !this.finished.has(id)) this.socket.write(dataFrame(id, 0, Buffer.from(data)));
  }

  finish(id: number): void {
    if (this.socket.writableEnded || this.finished.has(id)) return;
    this.finished.add(id);
    this.socket.write(dataFrame(id, FLAG_FIN, Buffer.alloc(0)));
  }

  private receive(chunk: Buffer): void {
    this.pending = Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 8) {
      const length = this.pending.readUInt32BE(4) & 0xffffff;
      if (this.pending.length < 8 + length) return;
      const frame = this.pending.subarray(0, 8 + length);
      this.pending = this.pending.subarray(8 + length);
      const flags = frame[4] as number;
      const payload = frame.subarray(8);
      if ((frame[0] as number) & 0x80) this.control(frame.readUInt16BE(2), flags, payload);
      else this.handlers.data(frame.readUInt32BE(0) & 0x7fffffff, payload, (flags & FLAG_FIN) !== 0);
    }
  }

  private control(type: number, flags: number, payload: Buffer): void {
    if (type === TYPE.synStream) {
      const id = payload.readUInt32BE(0) & 0x7fffffff;
      const headers = this.reader.block(payload.subarray(10));
      this.socket.write(controlFrame(TYPE.synReply, 0, Buffer.concat([u32(id), this.writer.block({})])));
      this.handlers.opened(id, headers);
      if ((flags & FLAG_FIN) !== 0) this.handlers.data(id, Buffer.alloc(0), true);
    } else if (type === TYPE.ping) {
      this.socket.write(controlFrame(TYPE.ping, 0, payload));
    } else if (type === TYPE.headers) {
      this.reader.block(payload.subarray(4));
    } else if (type === TYPE.goAway) {
      this.socket.end();
    }
    // SETTINGS, WINDOW_UPDATE, RST_STREAM: nothing to do for the stand-in's short streams.
  }
}

/** Writes the 101 that switches to SPDY/3.1 with the negotiated stream protocol. */
function switchToSpdy(req: IncomingMessage, socket: Duplex, supported: string[]): string {
  const offered = ([] as string[]).concat(req.headers['x-stream-protocol-version'] ?? []).flatMap((v) => v.split(',')).map((v) => v.trim());
  const protocol = supported.find((p) => offered.includes(p));
  if (protocol === undefined) throw badRequest(`no supported stream protocol among: ${offered.join(', ') || 'none'}`);
  socket.write(['HTTP/1.1 101 Switching Protocols', 'Connection: Upgrade', 'Upgrade: SPDY/3.1', `X-Stream-Protocol-Version: ${protocol}`, '', ''].join('\r\n'));
  return protocol;
}

export function isSpdyUpgrade(req: IncomingMessage): boolean {
  return (req.headers.upgrade ?? '').toLowerCase().startsWith('spdy/3.1');
}

/** `kubectl exec` over SPDY. */
export function serveSpdyExec(req: IncomingMessage, socket: Duplex, pod: KubeObject, query: URLSearchParams, contextFor: (container: string) => ShellContext, handler?: ExecHandler): void {
  const { container, command } = execTarget(pod, query);
  const protocol = switchToSpdy(req, socket, EXEC_PROTOCOLS);
  const stdin = isTrue(query.get('stdin'));
  const tty = isTrue(query.get('tty'));
  const expected = new Set(['error', ...(stdin ? ['stdin'] : []), ...(isTrue(query.get('stdout')) ? ['stdout'] : []), ...(isTrue(query.get('stderr')) && !tty ? ['stderr'] : []), ...(tty ? ['resize'] : [])]);
  const streams = new Map<string, number>();
  let input: ExecInput | undefined;
  const early: { data: Buffer; fin: boolean }[] = [];
  const connection: SpdyConnection = new SpdyConnection(socket, {
    opened(id, headers) {
      streams.set(headers['streamtype'] ?? '', id);
      if (input !== undefined || ![...expected].every((type) => streams.has(type))) return;
      input = runExec(
        { pod, container, command, stdin, tty, context: contextFor(container), ...(handler === undefined ? {} : { handler }) },
        {
          write(stream, data) {
            const id = streams.get(stream === 1 || tty ? 'stdout' : 'stderr');
            if (id !== undefined) connection.write(id, data);
          },
          finish(exitCode) {
            const errorId = streams.get('error') as number;
            // v1 carries a plain message and nothing on success; v2+ the Status (v4: as JSON).
            const status = exitStatus(exitCode);
            if (protocol === 'v4.channel.k8s.io') connection.write(errorId, JSON.stringify(status));
            else if (exitCode !== 0) connection.write(errorId, String(status['message']));
            for (const id of streams.values()) connection.finish(id);
            setTimeout(() => socket.end(), 50).unref();
          },
        },
      );
      for (const chunk of early.splice(0)) deliver(chunk.data, chunk.fin);
    },
    data(id, data, fin) {
      if (id !== streams.get('stdin')) return;
      if (input === undefined) early.push({ data, fin });
      else deliver(data, fin);
    },
    closed() {
      input?.endOfStdin();
    },
  });
  function deliver(data: Buffer, fin: boolean): void {
    if (data.length > 0) input?.stdin(data);
    if (fin) input?.endOfStdin();
  }
}

/** `kubectl port-forward` over SPDY: every connection reaches the pod's tiny server on that port. */
export function serveSpdyPortForward(req: IncomingMessage, socket: Duplex, pod: KubeObject): void {
  switchToSpdy(req, socket, [PORT_FORWARD_PROTOCOL]);
  const name = pod.metadata.name ?? '';
  const ports = new Set(((pod.spec as { containers?: { ports?: { containerPort?: number }[] }[] } | undefined)?.containers ?? []).flatMap((c) => (c.ports ?? []).map((p) => String(p.containerPort))));
  const received = new Map<number, { port: string; bytes: Buffer; answered: boolean; errorId?: number }>();
  const errors = new Map<string, number>();
  const connection: SpdyConnection = new SpdyConnection(socket, {
    opened(id, headers) {
      const port = headers['port'] ?? '';
      const request = headers['requestid'] ?? '';
      if (headers['streamtype'] === 'error') {
        errors.set(request, id);
        return;
      }
      received.set(id, { port, bytes: Buffer.alloc(0), answered: false, ...(errors.has(request) ? { errorId: errors.get(request) as number } : {}) });
      if (!ports.has(port)) {
        const errorId = errors.get(request);
        if (errorId !== undefined) connection.write(errorId, `error forwarding port ${port} to pod ${name}: nothing listens on port ${port} in the demo`);
        connection.finish(id);
        if (errorId !== undefined) connection.finish(errorId);
      }
    },
    data(id, data, fin) {
      const stream = received.get(id);
      if (stream === undefined || !ports.has(stream.port)) return;
      stream.bytes = Buffer.concat([stream.bytes, data]);
      const text = stream.bytes.toString('latin1');
      if (/^[A-Z]+ \S+ HTTP\/1\.[01]\r\n/.test(text)) {
        if (!stream.answered && text.includes('\r\n\r\n')) {
          stream.answered = true;
          const body = `hello from pod ${name}, port ${stream.port} (Gatehouse demo cluster)\n`;
          connection.write(id, `HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
          connection.finish(id);
        }
      } else if (data.length > 0) connection.write(id, data);
      if (fin) {
        connection.finish(id);
        if (stream.errorId !== undefined) connection.finish(stream.errorId);
      }
    },
    closed() {
      received.clear();
    },
  });
}
