/**
 * exec, attach and port-forward over SPDY/3.1 (kubectl ≤1.29 for exec/attach/cp, every
 * kubectl's port-forward fallback).
 *
 * The client opens every stream (SYN_STREAM); the `streamtype` header says what it carries:
 * exec/attach `error`, `stdin`, `stdout`, `stderr`, `resize`; port-forward `error` and `data`,
 * each with `port` and `requestid`. The API server only answers (SYN_REPLY) and writes DATA.
 *
 * Every frame is read whole before anything of it moves on. Header blocks are inflated from
 * the sender's zlib stream and written again with Gatehouse's own, one per direction
 * (spdy-headers.ts): so a port the policy refuses is never opened upstream — Gatehouse
 * answers that stream to the client itself (SYN_REPLY, the reason on its error stream, FIN)
 * and drops whatever the client sends on it. DATA is reported to the recorder by stream type
 * and forwarded as it came. A frame of an unknown type, a stream the server opens, a stream
 * type the subresource does not have, DATA on a stream nobody opened: the session ends.
 */
import { describeExecStatus, endedStatus, reportResize, type FrameSession, type FrameSink, type SessionShape } from './frame-session.ts';
import { HeaderDeflater, HeaderInflater } from './spdy-headers.ts';
import { ByteQueue } from './byte-queue.ts';
import {
  headerBlockOf,
  readSpdyFrame,
  spdyFrameSize,
  spdyControlFrame,
  spdyDataFrame,
  spdySynReply,
  spdyTypeName,
  withHeaderBlock,
  SPDY_FLAG_FIN,
  SPDY_TYPE,
  type SpdyFrame,
} from './spdy-frame.ts';
import { StreamProtocolError } from './stream-error.ts';

/** `X-Stream-Protocol-Version`s Gatehouse reads, most preferred first. */
export const SPDY_EXEC_PROTOCOLS: readonly string[] = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];
export const SPDY_PORT_FORWARD_PROTOCOLS: readonly string[] = ['portforward.k8s.io'];

const EXEC_STREAM_TYPES = new Set(['error', 'stdin', 'stdout', 'stderr', 'resize']);
const PORT_FORWARD_STREAM_TYPES = new Set(['error', 'data']);

interface Stream {
  type: string;
  port: number;
  /** Refused by policy: answered by Gatehouse, never opened upstream. */
  refused: boolean;
  /** Resize text not yet ended by a newline. */
  partial: string;
  /** Each side ended its half (FIN); both ended, the stream is forgotten. */
  clientDone: boolean;
  serverDone: boolean;
}

export class SpdySession implements FrameSession {
  private readonly streams = new Map<number, Stream>();
  private readonly fromClientHeaders = new HeaderInflater();
  private readonly fromServerHeaders = new HeaderInflater();
  private readonly toServerHeaders = new HeaderDeflater();
  private readonly toClientHeaders = new HeaderDeflater();
  private readonly clientPending = new ByteQueue();
  private readonly serverPending = new ByteQueue();
  private status = '';
  private statusSeen = false;
  private lastStreamId = 0;

  constructor(private readonly shape: SessionShape) {}

  async fromClient(chunk: Buffer, sink: FrameSink): Promise<void> {
    this.clientPending.push(chunk);
    for (let raw = nextFrame(this.clientPending); raw !== undefined; raw = nextFrame(this.clientPending)) {
      await this.clientFrame(frameOf(raw), raw, sink);
    }
  }

  async fromUpstream(chunk: Buffer, sink: FrameSink): Promise<void> {
    this.serverPending.push(chunk);
    for (let raw = nextFrame(this.serverPending); raw !== undefined; raw = nextFrame(this.serverPending)) {
      await this.serverFrame(frameOf(raw), raw, sink);
    }
  }

  outcome(): string | undefined {
    return this.statusSeen ? describeExecStatus(this.status) : undefined;
  }

  unread(side: 'client' | 'upstream'): number {
    return (side === 'client' ? this.clientPending : this.serverPending).length;
  }

  farewell(reason: string): Buffer {
    const frames: Buffer[] = [];
    for (const [id, stream] of this.streams) {
      if (stream.type === 'error') {
        const text = this.shape.kind === 'portforward' || this.shape.protocol !== 'v4.channel.k8s.io' ? `Gatehouse ended the session: ${reason}` : endedStatus(reason);
        frames.push(spdyDataFrame(id, 0, Buffer.from(text)));
      }
    }
    for (const id of this.streams.keys()) frames.push(spdyDataFrame(id, SPDY_FLAG_FIN, Buffer.alloc(0)));
    const goAway = Buffer.alloc(8);
    goAway.writeUInt32BE(this.lastStreamId, 0);
    frames.push(spdyControlFrame(SPDY_TYPE.goAway, 0, goAway));
    return Buffer.concat(frames);
  }

  close(): void {
    this.clientPending.clear();
    this.serverPending.clear();
    this.fromClientHeaders.close();
    this.fromServerHeaders.close();
  }

  private async clientFrame(frame: SpdyFrame, raw: Buffer, sink: FrameSink): Promise<void> {
    if (!frame.control) {
      const stream = this.known(frame.streamId, 'client');
      if (stream.refused) return;
      this.clientData(stream, frame.payload);
      sink.toUpstream(raw);
      if ((frame.flags & SPDY_FLAG_FIN) !== 0) this.ended(frame.streamId, stream, 'client');
      return;
    }
    switch (frame.type) {
      case SPDY_TYPE.synStream:
        await this.open(frame, sink);
        return;
      case SPDY_TYPE.headers: {
        const headers = await this.fromClientHeaders.block(headerBlockOf(frame));
        if (this.known(frame.streamId, 'client').refused) return;
        sink.toUpstream(withHeaderBlock(frame, this.toServerHeaders.block(headers)));
        return;
      }
      case SPDY_TYPE.rstStream:
      case SPDY_TYPE.windowUpdate: {
        const stream = this.streams.get(frame.streamId);
        if (stream?.refused === true) return;
        sink.toUpstream(raw);
        if (frame.type === SPDY_TYPE.rstStream) this.streams.delete(frame.streamId);
        return;
      }
      case SPDY_TYPE.settings:
      case SPDY_TYPE.ping:
      case SPDY_TYPE.goAway:
        sink.toUpstream(raw);
        return;
      default:
        throw new StreamProtocolError(`the client sent a SPDY ${spdyTypeName(frame.type)} frame, which only a server sends here`);
    }
  }

  private async serverFrame(frame: SpdyFrame, raw: Buffer, sink: FrameSink): Promise<void> {
    if (!frame.control) {
      const stream = this.known(frame.streamId, 'upstream');
      this.serverData(stream, frame.payload);
      sink.toClient(raw);
      if ((frame.flags & SPDY_FLAG_FIN) !== 0) {
        if (stream.type === 'error' && this.shape.kind !== 'portforward') this.statusSeen = true;
        this.ended(frame.streamId, stream, 'server');
      }
      return;
    }
    switch (frame.type) {
      case SPDY_TYPE.synReply:
      case SPDY_TYPE.headers: {
        const headers = await this.fromServerHeaders.block(headerBlockOf(frame));
        this.known(frame.streamId, 'upstream');
        sink.toClient(withHeaderBlock(frame, this.toClientHeaders.block(headers)));
        return;
      }
      case SPDY_TYPE.rstStream:
        this.streams.delete(frame.streamId);
        sink.toClient(raw);
        return;
      case SPDY_TYPE.windowUpdate:
      case SPDY_TYPE.settings:
      case SPDY_TYPE.ping:
      case SPDY_TYPE.goAway:
        sink.toClient(raw);
        return;
      default:
        throw new StreamProtocolError(`the upstream sent a SPDY ${spdyTypeName(frame.type)} frame; in ${this.shape.kind} only the client opens streams`);
    }
  }

  /** A SYN_STREAM from the client: read its headers, check its type (and port), open it upstream or answer it here. */
  private async open(frame: SpdyFrame & { control: true }, sink: FrameSink): Promise<void> {
    const headers = await this.fromClientHeaders.block(headerBlockOf(frame));
    const id = frame.streamId;
    if (id === 0 || id % 2 === 0 || id <= this.lastStreamId) throw new StreamProtocolError(`the client opened SPDY stream ${id} out of order (last ${this.lastStreamId})`);
    this.lastStreamId = id;
    const type = headers.get('streamtype') ?? '';
    const types = this.shape.kind === 'portforward' ? PORT_FORWARD_STREAM_TYPES : EXEC_STREAM_TYPES;
    if (!types.has(type)) throw new StreamProtocolError(`the client opened a SPDY stream of type ${JSON.stringify(type)}; ${this.shape.kind} has only ${[...types].join(', ')}`);
    let port = 0;
    let refusal: string | undefined;
    if (this.shape.kind === 'portforward') {
      const text = headers.get('port') ?? '';
      port = /^[0-9]{1,5}$/.test(text) ? Number(text) : 0;
      if (port < 1 || port > 65535) throw new StreamProtocolError(`the client opened a port-forward stream for port ${JSON.stringify(text)}, which is not a port`);
      refusal = this.shape.refusePort?.(port);
    }
    this.streams.set(id, { type, port, refused: refusal !== undefined, partial: '', clientDone: false, serverDone: false });
    if (refusal === undefined) {
      sink.toUpstream(withHeaderBlock(frame, this.toServerHeaders.block(headers)));
      return;
    }
    // Answered here: the client reads the refusal on its error stream and gives up on that connection.
    sink.toClient(spdySynReply(id, this.toClientHeaders.block([])));
    if (type === 'error') sink.toClient(spdyDataFrame(id, 0, Buffer.from(refusal)));
    sink.toClient(spdyDataFrame(id, SPDY_FLAG_FIN, Buffer.alloc(0)));
  }

  /** One side finished a stream; a refused one or one both sides finished is forgotten (a port-forward opens two per connection). */
  private ended(id: number, stream: Stream, side: 'client' | 'server'): void {
    if (side === 'client') stream.clientDone = true;
    else stream.serverDone = true;
    if (stream.refused || (stream.clientDone && stream.serverDone)) this.streams.delete(id);
  }

  private known(id: number, from: 'client' | 'upstream'): Stream {
    const stream = this.streams.get(id);
    if (stream === undefined) throw new StreamProtocolError(`the ${from} used SPDY stream ${id}, which the client never opened`);
    return stream;
  }

  private clientData(stream: Stream, data: Buffer): void {
    if (data.length === 0) return;
    const at = this.shape.elapsed();
    const recorder = this.shape.recorder;
    switch (stream.type) {
      case 'stdin':
        recorder.data('stdin', data, at);
        return;
      case 'data':
        recorder.forwarded(stream.port, 'in', data, at);
        return;
      case 'resize': {
        const text = stream.partial + data.toString('utf8');
        const end = text.lastIndexOf('\n');
        stream.partial = text.slice(end + 1);
        if (stream.partial.length > 4096) throw new StreamProtocolError('the client sent a terminal resize line over 4096 bytes');
        if (end !== -1) reportResize(recorder, text.slice(0, end), at);
        return;
      }
      default:
        throw new StreamProtocolError(`the client wrote ${data.length} bytes on its ${stream.type} stream, which only the server writes`);
    }
  }

  private serverData(stream: Stream, data: Buffer): void {
    if (data.length === 0) return;
    const at = this.shape.elapsed();
    const recorder = this.shape.recorder;
    switch (stream.type) {
      case 'stdout':
        recorder.data('stdout', data, at);
        return;
      case 'stderr':
        recorder.data('stderr', data, at);
        return;
      case 'data':
        recorder.forwarded(stream.port, 'out', data, at);
        return;
      case 'error':
        if (this.shape.kind !== 'portforward' && this.status.length < 64 * 1024) {
          this.status += data.toString('utf8');
          this.statusSeen = true;
        }
        return;
      default:
        throw new StreamProtocolError(`the upstream wrote ${data.length} bytes on the client's ${stream.type} stream`);
    }
  }
}

/** The next whole frame's bytes, taken off the queue; undefined until all of it arrived. */
function nextFrame(queue: ByteQueue): Buffer | undefined {
  const size = spdyFrameSize(queue.peek(8));
  return size === undefined || queue.length < size ? undefined : queue.take(size);
}

function frameOf(raw: Buffer): SpdyFrame {
  const read = readSpdyFrame(raw);
  if (read === undefined) throw new StreamProtocolError('a SPDY frame that does not read whole');
  return read.frame;
}
