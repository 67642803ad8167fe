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
 * finished and the connection closed as spdystream's `Close` does (GOAWAY, then the socket
 * ends once all of it is written).
 *
 * Flow control: spdystream — both ends of every kubectl↔kubelet SPDY connection — implements
 * none. It never sends WINDOW_UPDATE, ignores the ones it gets and the SETTINGS initial window;
 * a reader that falls behind blocks its frame worker and, through it, TCP. So the stand-in
 * ignores them too, and its backpressure is its socket's. What it must never do is write after
 * its socket ended: Node destroys a socket written after `end()`, and what was still queued
 * for a slow reader (most of a 100 MB `kubectl cp` out of the pod) is lost — the client sees
 * the connection end mid-frame ("unexpected EOF"). kubectl pings every 5 s, so the echo of a
 * PING that arrives while the last megabytes drain is exactly such a write; it is dropped, as
 * a Go server's write on a closed connection fails. port-forward: each connection's data stream reaches a tiny server on the pod's
 * port — an HTTP request gets an HTTP answer naming pod and port, other bytes are echoed.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { constants, inflateSync } from 'node:zlib';
import { isTrue } from './exchange.ts';
import { execTarget, exitStatus, runExec, type ExecHandler, type ExecInput } from './exec.ts';
import type { ShellContext } from './shell.ts';
import { SPDY_HEADER_DICTIONARY } from '../../src/streams/spdy-dictionary.ts';
import { decodeHeaderPairs, readSpdyFrame, spdyControlFrame as controlFrame, spdyDataFrame as dataFrame, spdySynReply, SPDY_FLAG_FIN, SPDY_TYPE } from '../../src/streams/spdy-frame.ts';
import { HeaderDeflater } from '../../src/streams/spdy-headers.ts';
import { badRequest } from './status.ts';
import type { KubeObject } from './store.ts';

const EXEC_PROTOCOLS = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];
const PORT_FORWARD_PROTOCOL = 'portforward.k8s.io';

const TYPE = SPDY_TYPE;
const FLAG_FIN = SPDY_FLAG_FIN;

/** The client's header blocks, inflated against everything the shared zlib stream carried before. */
class HeaderReader {
  private compressed = Buffer.alloc(0);
  private seen = 0;

  block(data: Buffer): Record<string, string> {
    this.compressed = Buffer.concat([this.compressed, data]);
    const all = inflateSync(this.compressed, { dictionary: SPDY_HEADER_DICTIONARY, finishFlush: constants.Z_SYNC_FLUSH });
    const raw = all.subarray(this.seen);
    this.seen = all.length;
    return Object.fromEntries(decodeHeaderPairs(raw));
  }
}

/** One SPDY connection, server side: streams the client opens, by id. */
class SpdyConnection {
  private readonly writer = new HeaderDeflater();
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
    if (!this.finished.has(id)) this.send(dataFrame(id, 0, Buffer.from(data)));
  }

  finish(id: number): void {
    if (this.finished.has(id)) return;
    this.finished.add(id);
    this.send(dataFrame(id, FLAG_FIN, Buffer.alloc(0)));
  }

  /** GOAWAY naming the last stream the client opened, then the socket ends once everything queued is written. */
  close(lastStreamId: number): void {
    const goAway = Buffer.alloc(8);
    goAway.writeUInt32BE(lastStreamId, 0);
    this.send(controlFrame(TYPE.goAway, 0, goAway));
    if (this.socket.writable) this.socket.end();
  }

  /** Every frame leaves here: nothing is written once the socket's writing side ended. */
  private send(frame: Buffer): void {
    if (this.socket.writable) this.socket.write(frame);
  }

  private receive(chunk: Buffer): void {
    this.pending = Buffer.concat([this.pending, chunk]);
    for (;;) {
      let read: ReturnType<typeof readSpdyFrame>;
      try {
        read = readSpdyFrame(this.pending);
      } catch {
        this.socket.destroy();
        return;
      }
      if (read === undefined) return;
      this.pending = this.pending.subarray(read.length);
      const { frame } = read;
      if (frame.control) this.control(frame.type, frame.flags, frame.payload);
      else this.handlers.data(frame.streamId, frame.payload, (frame.flags & FLAG_FIN) !== 0);
    }
  }

  private control(type: number, flags: number, payload: Buffer): void {
    if (type === TYPE.synStream) {
      const id = payload.readUInt32BE(0) & 0x7fffffff;
      const headers = this.reader.block(payload.subarray(10));
      this.send(spdySynReply(id, this.writer.block([])));
      this.handlers.opened(id, headers);
      if ((flags & FLAG_FIN) !== 0) this.handlers.data(id, Buffer.alloc(0), true);
    } else if (type === TYPE.ping) {
      this.send(controlFrame(TYPE.ping, 0, payload));
    } else if (type === TYPE.headers) {
      this.reader.block(payload.subarray(4));
    } else if (type === TYPE.goAway && this.socket.writable) {
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
export function serveSpdyExec(req: IncomingMessage, socket: Duplex, pod: KubeObject, query: URLSearchParams, contextFor: (container: string) => ShellContext, handler?: ExecHandler, attach = false): void {
  const { container, command } = execTarget(pod, query, attach);
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
            connection.close(Math.max(...streams.values()));
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
