/**
 * exec and attach over WebSocket (kubectl ≥1.30): `v5.channel.k8s.io` or `v4.channel.k8s.io`.
 *
 * Every binary message starts with a channel byte. From the client: 0 stdin, 4 terminal size
 * (JSON), and in v5 255 "I closed this channel" (one more byte: which). From the API server:
 * 1 stdout, 2 stderr, 3 the final Status (JSON), and in v5 255. A message may be fragmented;
 * the channel byte leads its first frame. Ping, pong and close pass through. Each frame is
 * forwarded as it came (masking included) once it has been read whole and its channel is one
 * that side may write; text frames (the base64 protocols, which Gatehouse does not offer), an
 * unknown channel or a channel written by the wrong side end the session (fail closed).
 */
import { describeExecStatus, endedStatus, reportResize, type FrameSession, type FrameSink, type SessionShape } from './frame-session.ts';
import { StreamProtocolError } from './stream-error.ts';
import { ByteQueue } from './byte-queue.ts';
import { readWsFrame, wsClosePayload, wsFrame, wsFrameSize, WS_MAX_HEADER_BYTES, WS_OPCODE, type WsFrame } from './ws-frame.ts';

/** Subprotocols Gatehouse reads for exec and attach, most preferred first. */
export const WS_EXEC_PROTOCOLS: readonly string[] = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];

const CHANNEL = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4, close: 255 } as const;
const CLIENT_CHANNELS = new Set<number>([CHANNEL.stdin, CHANNEL.resize]);
const SERVER_CHANNELS = new Set<number>([CHANNEL.stdout, CHANNEL.stderr, CHANNEL.error]);
/** Largest resize or Status message kept whole to read. */
const MAX_CONTROL_MESSAGE_BYTES = 64 * 1024;

/** One direction: its unread bytes and the message being received. */
class Direction {
  readonly pending = new ByteQueue();
  /** Channel of the message whose fragments are arriving, or -1 between messages. */
  channel = -1;
  /** Bytes of a resize or close message being put together. */
  parts: Buffer[] = [];
  partBytes = 0;

  constructor(
    readonly from: 'client' | 'server',
    readonly mayWrite: ReadonlySet<number>,
  ) {}
}

export class WsChannelSession implements FrameSession {
  private readonly client = new Direction('client', CLIENT_CHANNELS);
  private readonly server = new Direction('server', SERVER_CHANNELS);
  private status = '';
  private statusSeen = false;
  private readonly v5: boolean;

  constructor(private readonly shape: SessionShape) {
    this.v5 = shape.protocol === 'v5.channel.k8s.io';
  }

  fromClient(chunk: Buffer, sink: FrameSink): void {
    this.read(this.client, chunk, (bytes) => sink.toUpstream(bytes));
  }

  fromUpstream(chunk: Buffer, sink: FrameSink): void {
    this.read(this.server, chunk, (bytes) => sink.toClient(bytes));
  }

  outcome(): string | undefined {
    return this.statusSeen ? describeExecStatus(this.status) : undefined;
  }

  unread(side: 'client' | 'upstream'): number {
    return (side === 'client' ? this.client : this.server).pending.length;
  }

  farewell(reason: string): Buffer {
    return Buffer.concat([
      wsFrame(WS_OPCODE.binary, Buffer.concat([Buffer.from([CHANNEL.error]), Buffer.from(endedStatus(reason))])),
      wsFrame(WS_OPCODE.close, wsClosePayload(1000, reason)),
    ]);
  }

  close(): void {
    this.client.pending.clear();
    this.server.pending.clear();
  }

  private read(side: Direction, chunk: Buffer, forward: (bytes: Buffer) => void): void {
    side.pending.push(chunk);
    for (;;) {
      const size = wsFrameSize(side.pending.peek(WS_MAX_HEADER_BYTES), side.from);
      if (size === undefined || side.pending.length < size) return;
      const raw = side.pending.take(size);
      const read = readWsFrame(raw, side.from);
      if (read === undefined) throw new StreamProtocolError(`the ${side.from} sent a WebSocket frame that does not read whole`);
      this.interpret(side, read.frame);
      forward(raw);
    }
  }

  private interpret(side: Direction, frame: WsFrame): void {
    const { opcode } = frame;
    if (opcode === WS_OPCODE.ping || opcode === WS_OPCODE.pong || opcode === WS_OPCODE.close) return;
    if (opcode === WS_OPCODE.text) throw new StreamProtocolError(`the ${side.from} sent a text frame; ${this.shape.protocol} carries binary frames only`);
    let data = frame.payload;
    if (opcode === WS_OPCODE.binary) {
      if (side.channel !== -1) throw new StreamProtocolError(`the ${side.from} began a message inside a fragmented one`);
      if (data.length === 0) throw new StreamProtocolError(`the ${side.from} sent a message without a channel byte`);
      const channel = data[0] as number;
      data = data.subarray(1);
      if (channel === CHANNEL.close && this.v5) {
        side.channel = channel;
      } else if (side.mayWrite.has(channel)) {
        side.channel = channel;
      } else if (channel <= CHANNEL.resize && data.length === 0) {
        // An empty message on a channel this side does not write (the API server opens every channel so).
        side.channel = channel;
      } else {
        throw new StreamProtocolError(`the ${side.from} wrote on channel ${channel}, which ${this.shape.protocol} does not let it write`);
      }
    } else if (side.channel === -1) {
      throw new StreamProtocolError(`the ${side.from} sent a continuation frame outside a message`);
    }
    this.deliver(side, side.channel, data, frame.fin);
    if (frame.fin) side.channel = -1;
  }

  private deliver(side: Direction, channel: number, data: Buffer, fin: boolean): void {
    const at = this.shape.elapsed();
    const recorder = this.shape.recorder;
    switch (channel) {
      case CHANNEL.stdin:
        if (data.length > 0) recorder.data('stdin', data, at);
        return;
      case CHANNEL.stdout:
        if (data.length > 0) recorder.data('stdout', data, at);
        return;
      case CHANNEL.stderr:
        if (data.length > 0) recorder.data('stderr', data, at);
        return;
      case CHANNEL.error:
        if (side.from === 'server') {
          this.collect(side, data);
          if (fin) {
            this.status += Buffer.concat(side.parts).toString('utf8');
            this.statusSeen = true;
            side.parts = [];
            side.partBytes = 0;
          }
        }
        return;
      case CHANNEL.resize:
        if (side.from !== 'client') return;
        this.collect(side, data);
        if (fin) {
          const text = Buffer.concat(side.parts).toString('utf8');
          side.parts = [];
          side.partBytes = 0;
          reportResize(recorder, text, at);
        }
        return;
      default:
        // v5 close: one byte naming the channel closed; nothing to record.
        this.collect(side, data);
        if (fin) {
          if (side.partBytes !== 1) throw new StreamProtocolError(`the ${side.from} sent a close message of ${side.partBytes} bytes; it names one channel`);
          side.parts = [];
          side.partBytes = 0;
        }
    }
  }

  private collect(side: Direction, data: Buffer): void {
    side.partBytes += data.length;
    if (side.partBytes > MAX_CONTROL_MESSAGE_BYTES) throw new StreamProtocolError(`the ${side.from} sent a control message over ${MAX_CONTROL_MESSAGE_BYTES} bytes`);
    if (data.length > 0) side.parts.push(data);
  }
}
