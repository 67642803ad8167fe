/**
 * The tunnel of one exec, attach or port-forward session on the Node runtime: two sockets
 * (the client's and the API server's), both after the 101, and the protocol reader
 * (ws-session.ts or spdy-session.ts) between them.
 *
 * Contract:
 * - Each direction is read chunk by chunk; the reader forwards only whole frames it read and
 *   reports what they carried to the recorder. While a chunk is being read (a SPDY header
 *   block inflates asynchronously) or its destination must drain, the source is paused: order
 *   is kept per direction and memory stays bounded — a direction holds at most about two
 *   HIGH_WATER_BYTES and one frame (chunks not yet read, the reader's partial frame, what its
 *   destination socket has not yet handed to the kernel), whatever the sizes copied. Each
 *   direction waits only for its own destination, so a slow reader on one side never stalls
 *   the other direction. This is the only flow control there is: SPDY/3.1's windows are not
 *   used by spdystream, kubectl's and the kubelet's SPDY library (it never sends WINDOW_UPDATE
 *   and ignores those it gets), so Gatehouse passes SETTINGS and WINDOW_UPDATE through
 *   untouched and enforces no window — backpressure is TCP's, end to end, as without Gatehouse.
 * - The session ends once, with ONE reason, given to `recorder.close`: the exec's own outcome
 *   ("command exited 0") when the API server gave it, else who went away and how ("client
 *   closed the connection", "upstream connection lost (ECONNRESET)"), a frame refused ("refused
 *   a frame from the client: …") or an approver ending it ("terminated by alice@example.com").
 * - When Gatehouse ends it (refused frame, lost upstream, terminate), the client is told why in
 *   the protocol's own terms before its socket ends (a Status on the error channel).
 * - Sockets are ended (flushing what was written) and destroyed shortly after.
 */
import type { Duplex } from 'node:stream';
import type { RecordingSummary, StreamRecorder } from '../ports/recordings.ts';
import type { FrameSession, FrameSink } from './frame-session.ts';
import { StreamProtocolError } from './stream-error.ts';
import { drainedOrClosed } from '../runtime/drained.ts';

/** How long an ended socket may take to flush before it is destroyed. */
const LINGER_MS = 2000;

export interface TunnelOptions {
  client: Duplex;
  clientHead: Buffer;
  upstream: Duplex;
  upstreamHead: Buffer;
  session: FrameSession;
  recorder: StreamRecorder;
  /** Milliseconds since the session started. */
  elapsed(): number;
  /** Where the tunnel reports how much it held at most (shared by every tunnel of one process). */
  stats?: TunnelStats;
}

/** What the tunnels of one process held, for the operator and for tests of the memory bound. */
export interface TunnelStats {
  /**
   * The most bytes one direction of one tunnel held at once: read from its source and not yet
   * handed to the kernel by its destination (queued chunks, the reader's partial frame, the
   * destination socket's unwritten bytes). Sampled after every chunk arrives and after every
   * chunk is read; it does not depend on timing, only on how far a reader fell behind.
   */
  peakHeldBytes: number;
}

export interface TunnelEnd {
  reason: string;
  /** Undefined when the recording could not be written (the failure is logged). */
  recording?: RecordingSummary;
}

export class Tunnel {
  private done = false;
  private upstreamError: string | undefined;
  private clientError: string | undefined;
  private resolveEnded!: (end: TunnelEnd) => void;
  /** Resolves once the session ended and its recording was written. */
  readonly ended: Promise<TunnelEnd> = new Promise((resolve) => (this.resolveEnded = resolve));
  private readonly sink: FrameSink;

  constructor(private readonly options: TunnelOptions) {
    const { client, upstream } = options;
    this.sink = {
      toClient: (bytes) => {
        if (!this.done && client.writable) client.write(bytes);
      },
      toUpstream: (bytes) => {
        if (!this.done && upstream.writable) upstream.write(bytes);
      },
    };
  }

  /** Reads what came with the 101 on both sides, then both sockets. */
  start(): void {
    const { client, upstream, session } = this.options;
    const fromClient = new Pump(client, upstream, (chunk) => session.fromClient(chunk, this.sink), this, 'client');
    const fromUpstream = new Pump(upstream, client, (chunk) => session.fromUpstream(chunk, this.sink), this, 'upstream');
    client.on('error', (error: NodeJS.ErrnoException) => (this.clientError ??= error.code ?? error.message));
    upstream.on('error', (error: NodeJS.ErrnoException) => (this.upstreamError ??= error.code ?? error.message));
    // What arrived before a side ended is read first: the end is acted on once its pump is idle.
    client.on('close', () => fromClient.afterQueued(() => this.sideClosed('client')));
    upstream.on('close', () => fromUpstream.afterQueued(() => this.sideClosed('upstream')));
    client.on('end', () =>
      fromClient.afterQueued(() => {
        if (!this.done && upstream.writable) upstream.end();
      }),
    );
    upstream.on('end', () =>
      fromUpstream.afterQueued(() => {
        // The API server ends a session after its final word (exec's Status); ending before it is a break.
        if (this.done) return;
        if (session.outcome() === undefined) this.finish(this.upstreamError === undefined ? 'upstream closed the connection before the session ended' : `upstream connection lost (${this.upstreamError})`, true);
        else if (client.writable) client.end();
      }),
    );
    if (this.options.upstreamHead.length > 0) fromUpstream.push(this.options.upstreamHead);
    if (this.options.clientHead.length > 0) fromClient.push(this.options.clientHead);
    client.on('data', (chunk: Buffer) => fromClient.push(chunk));
    upstream.on('data', (chunk: Buffer) => fromUpstream.push(chunk));
  }

  /** Ends the session now (an approver's terminate); the client is told `reason`. */
  terminate(reason: string): void {
    this.finish(reason, true);
  }

  /** Records what one direction holds now (see TunnelStats). */
  held(side: 'client' | 'upstream', queued: number, destination: Duplex): void {
    const stats = this.options.stats;
    if (stats === undefined) return;
    const bytes = queued + this.options.session.unread(side) + destination.writableLength;
    if (bytes > stats.peakHeldBytes) stats.peakHeldBytes = bytes;
  }

  get isDone(): boolean {
    return this.done;
  }

  refused(error: unknown, side: 'client' | 'upstream'): void {
    if (error instanceof StreamProtocolError) {
      this.finish(`refused a frame from the ${side}: ${error.message}`, true);
      return;
    }
    console.error('gatehouse stream tunnel failed:', error);
    this.finish(`Gatehouse failed reading the ${side}'s frames: ${error instanceof Error ? error.message : String(error)}`, true);
  }

  private sideClosed(side: 'client' | 'upstream'): void {
    if (this.done) return;
    const outcome = this.options.session.outcome();
    if (outcome !== undefined) {
      this.finish(outcome, false);
    } else if (side === 'client') {
      this.finish(this.clientError === undefined ? 'client closed the connection' : `client connection lost (${this.clientError})`, false);
    } else {
      this.finish(this.upstreamError === undefined ? 'upstream closed the connection before the session ended' : `upstream connection lost (${this.upstreamError})`, true);
    }
  }

  private finish(reason: string, tellClient: boolean): void {
    if (this.done) return;
    const { client, upstream, session, recorder } = this.options;
    if (tellClient && client.writable) client.write(session.farewell(reason));
    this.done = true;
    session.close();
    client.end();
    upstream.end();
    if (tellClient) upstream.destroy();
    setTimeout(() => {
      client.destroy();
      upstream.destroy();
    }, LINGER_MS).unref();
    recorder.close(reason, this.options.elapsed()).then(
      (recording) => this.resolveEnded({ reason, recording }),
      (error: unknown) => {
        console.error(`gatehouse could not write the recording of a session that ended (${reason}):`, error);
        this.resolveEnded({ reason });
      },
    );
  }
}

/**
 * Unread bytes a direction may queue before its source is paused, and unwritten bytes its
 * destination may hold before the direction waits for 'drain'. Waiting only past this, not at
 * every chunk the socket's own 16 KiB mark asks for, keeps a bulk copy (`kubectl cp`)
 * streaming instead of stopping and going.
 */
const HIGH_WATER_BYTES = 1024 * 1024;

/** Resolves once `socket` holds at most HIGH_WATER_BYTES unwritten (undefined when it already does). */
function drained(socket: Duplex): Promise<void> | undefined {
  return socket.writableLength <= HIGH_WATER_BYTES || socket.destroyed ? undefined : drainedOrClosed(socket);
}

/**
 * One direction's reader: chunks are queued as they arrive and read one after the other
 * (a SPDY header block inflates asynchronously), each once its destination drained. The
 * source is paused while the queue is over the high-water mark. `afterQueued` runs once what
 * arrived so far has been read: a side's end is acted on only after its last bytes.
 */
class Pump {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private running = false;
  private readonly idle: (() => void)[] = [];

  constructor(
    private readonly source: Duplex,
    private readonly destination: Duplex,
    private readonly read: (chunk: Buffer) => void | Promise<void>,
    private readonly tunnel: Tunnel,
    private readonly side: 'client' | 'upstream',
  ) {}

  push(chunk: Buffer): void {
    if (this.tunnel.isDone) return;
    this.queue.push(chunk);
    this.queued += chunk.length;
    this.tunnel.held(this.side, this.queued, this.destination);
    if (this.queued > HIGH_WATER_BYTES) this.source.pause();
    if (!this.running) void this.run();
  }

  afterQueued(action: () => void): void {
    if (this.running) this.idle.push(action);
    else action();
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      for (let chunk = this.queue.shift(); chunk !== undefined && !this.tunnel.isDone; chunk = this.queue.shift()) {
        this.queued -= chunk.length;
        await this.read(chunk);
        this.tunnel.held(this.side, this.queued, this.destination);
        await drained(this.destination);
        if (this.queued <= HIGH_WATER_BYTES && this.source.isPaused()) this.source.resume();
      }
    } catch (error) {
      this.tunnel.refused(error, this.side);
    }
    this.queue.length = 0;
    this.queued = 0;
    this.running = false;
    for (const action of this.idle.splice(0)) action();
  }
}
