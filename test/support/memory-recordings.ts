/**
 * A RecordingStore that keeps every call the tunnel makes, in order, in memory: what the
 * stream tests compare byte for byte with what the stand-in's shell saw and sent. It stands
 * at the port (src/ports/recordings.ts), where the real store (src/recordings/) would write
 * asciicast to S3; `failOpen` makes `open` reject with ERR_RECORD_UNAVAILABLE, as a store that cannot write does.
 */
import { GatehouseError } from '../../src/errors.ts';
import type { RecordingStore, RecordingSummary, StreamChannel, StreamRecorder, StreamSessionInfo } from '../../src/ports/recordings.ts';

export type RecordedEvent =
  | { type: 'data'; channel: StreamChannel; bytes: Buffer; at: number }
  | { type: 'resize'; cols: number; rows: number; at: number }
  | { type: 'forwarded'; port: number; direction: 'in' | 'out'; bytes: Buffer; at: number };

export interface RecordedSession {
  info: StreamSessionInfo;
  events: RecordedEvent[];
  closed?: { reason: string; at: number };
  /** Resolves when the tunnel closed the recording. */
  whenClosed: Promise<{ reason: string; at: number }>;
}

export class MemoryRecordings implements RecordingStore {
  readonly sessions: RecordedSession[] = [];
  /** When set, `open` rejects with this message. */
  failOpen: string | undefined;
  private waiters: ((session: RecordedSession) => void)[] = [];

  open(info: StreamSessionInfo): Promise<StreamRecorder> {
    if (this.failOpen !== undefined) return Promise.reject(new GatehouseError('ERR_RECORD_UNAVAILABLE', this.failOpen));
    let closed!: (end: { reason: string; at: number }) => void;
    const session: RecordedSession = { info, events: [], whenClosed: new Promise((resolve) => (closed = resolve)) };
    this.sessions.push(session);
    for (const waiter of this.waiters.splice(0)) waiter(session);
    const bytes: Record<StreamChannel, number> = { stdin: 0, stdout: 0, stderr: 0 };
    const recorder: StreamRecorder = {
      data(channel, data, at) {
        if (session.closed !== undefined) throw new Error(`data after close on ${channel}`);
        bytes[channel] += data.length;
        session.events.push({ type: 'data', channel, bytes: Buffer.from(data), at });
      },
      resize(cols, rows, at) {
        session.events.push({ type: 'resize', cols, rows, at });
      },
      forwarded(port, direction, data, at) {
        session.events.push({ type: 'forwarded', port, direction, bytes: Buffer.from(data), at });
      },
      close(reason, at) {
        if (session.closed !== undefined) return Promise.reject(new Error(`closed twice: ${session.closed.reason}, then ${reason}`));
        session.closed = { reason, at };
        closed(session.closed);
        const ports = new Map<number, { port: number; in: number; out: number }>();
        for (const event of session.events) {
          if (event.type !== 'forwarded') continue;
          const counted = ports.get(event.port) ?? { port: event.port, in: 0, out: 0 };
          counted[event.direction] += event.bytes.length;
          ports.set(event.port, counted);
        }
        // Kept in memory, nothing stored: no key of a stored object, no tar index (the real store's job).
        const summary: RecordingSummary = { key: `memory/${info.requestId}`, storedBytes: 0, bytes: { ...bytes }, truncated: false, reason, durationMs: at, files: [], forwarded: [...ports.values()] };
        return Promise.resolve(summary);
      },
    };
    return Promise.resolve(recorder);
  }

  /** The next session opened from now on (or the latest, when `existing` says so). */
  next(): Promise<RecordedSession> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  latest(): RecordedSession {
    const session = this.sessions[this.sessions.length - 1];
    if (session === undefined) throw new Error('no session was recorded');
    return session;
  }
}

/** All bytes one channel carried, in order. */
export function channelBytes(session: RecordedSession, channel: StreamChannel): Buffer {
  return Buffer.concat(session.events.flatMap((e) => (e.type === 'data' && e.channel === channel ? [e.bytes] : [])));
}

/** All bytes forwarded for one port in one direction. */
export function forwardedBytes(session: RecordedSession, port: number, direction: 'in' | 'out'): Buffer {
  return Buffer.concat(session.events.flatMap((e) => (e.type === 'forwarded' && e.port === port && e.direction === direction ? [e.bytes] : [])));
}
