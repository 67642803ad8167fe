/**
 * What a protocol reader (ws-session.ts, spdy-session.ts) is to the tunnel (tunnel.ts): it is
 * handed each direction's bytes as they arrive, reads whole frames off them, tells the
 * recorder what they carried, and sends on — through `FrameSink`, synchronously, frame by
 * frame — what it understood. A frame it cannot read, or will not carry, throws
 * StreamProtocolError and the tunnel ends the session with that reason (fail closed).
 */
import type { StreamRecorder } from '../ports/recordings.ts';
import { StreamProtocolError } from './stream-error.ts';

export interface FrameSink {
  toClient(bytes: Buffer): void;
  toUpstream(bytes: Buffer): void;
}

/** What an exec, attach or port-forward session is, for its reader. */
export interface SessionShape {
  kind: 'exec' | 'attach' | 'portforward';
  /** The negotiated stream protocol (`v5.channel.k8s.io`, `portforward.k8s.io`, …). */
  protocol: string;
  recorder: StreamRecorder;
  /** Milliseconds since the session started. */
  elapsed(): number;
  /** Why a port-forward port may not be forwarded (policy), or undefined when it may. */
  refusePort?(port: number): string | undefined;
}

export interface FrameSession {
  fromClient(chunk: Buffer, sink: FrameSink): void | Promise<void>;
  fromUpstream(chunk: Buffer, sink: FrameSink): void | Promise<void>;
  /** The final word from the upstream, when it gave one (exec's Status): "exit code 0", … */
  outcome(): string | undefined;
  /** Bytes of one side read but not yet forwarded: the start of a frame still arriving. */
  unread(side: 'client' | 'upstream'): number;
  /** Frames telling the client the session ends and why (when Gatehouse ends it). */
  farewell(reason: string): Buffer;
  close(): void;
}

/** The exec Status Gatehouse sends on the error channel when it ends a session itself. */
export function endedStatus(reason: string): string {
  return JSON.stringify({ metadata: {}, status: 'Failure', message: `Gatehouse ended the session: ${reason}`, reason: 'InternalError', code: 500 });
}

/** A short reading of an exec's final Status (v4+: JSON; older: plain text, empty on success). */
export function describeExecStatus(text: string): string {
  if (text === '') return 'command exited 0';
  try {
    const status = JSON.parse(text) as { status?: unknown; message?: unknown };
    if (status.status === 'Success') return 'command exited 0';
    if (typeof status.message === 'string') return status.message;
  } catch {
    // v1-v3 carry a plain message.
  }
  return text.slice(0, 200);
}

/** Terminal sizes as kubectl sends them (JSON `{"Width":…,"Height":…}`, one per message or line). */
export function reportResize(recorder: StreamRecorder, text: string, at: number): void {
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let size: { Width?: unknown; Height?: unknown };
    try {
      size = JSON.parse(line) as { Width?: unknown; Height?: unknown };
    } catch {
      throw new StreamProtocolError(`a terminal resize that is not JSON: ${JSON.stringify(line.slice(0, 80))}`);
    }
    if (!isDimension(size.Width) || !isDimension(size.Height)) throw new StreamProtocolError(`a terminal resize without a sane Width and Height: ${JSON.stringify(line.slice(0, 80))}`);
    recorder.resize(size.Width, size.Height, at);
  }
}

function isDimension(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 65535;
}
