/**
 * One session's recording in memory: what the tunnel reports (`StreamRecorder`) becomes
 * asciicast v2 events — stdin as `i`, stdout and stderr as `o` (stderr events listed by
 * number in the header's `gatehouse.stderr_events`), resizes as `r` — redacted, up to a cap
 * of stored bytes; past the cap an `m` marker says so and the rest is only counted. Tar
 * streams (kubectl cp) are indexed whether stored or not; port-forward bytes are counted
 * per port and never stored (they are arbitrary protocols: database sessions, credentials).
 * Every call is synchronous and bounded. Pure: no clock (times come from the tunnel), no I/O.
 */
import type { ForwardedPort, RecordedFile, RecordingSummary, StreamChannel, StreamSessionInfo } from '../ports/recordings.ts';
import type { CastEvent, CastHeader } from './asciicast.ts';
import { castTime, eventLine, headerLine } from './asciicast.ts';
import type { Redaction, StreamRedactor } from './redactor.ts';
import { createTarIndex } from './tar-index.ts';
import type { TarIndex } from './tar-index.ts';

export interface RecorderOptions {
  /** Stored event bytes (UTF-8, lines with their newline) beyond which events are only counted. */
  maxBytes: number;
  redaction: Redaction;
  /** Most tar entries listed in the summary. */
  maxFiles: number;
}

/** The summary without where it was stored (the store adds that). */
export type RecordedSession = Omit<RecordingSummary, 'key' | 'storedBytes'>;

export interface SessionRecorder {
  data(channel: StreamChannel, bytes: Uint8Array, at: number): void;
  resize(cols: number, rows: number, at: number): void;
  forwarded(port: number, direction: 'in' | 'out', bytes: Uint8Array, at: number): void;
  /** The recording as it stands at the start: header and an opening marker. */
  opening(): string;
  /** Ends the recording: releases what redaction kept back, adds the end marker; later calls are ignored. */
  finish(reason: string, at: number): { text: string; session: RecordedSession };
}

export const DEFAULT_SIZE = { cols: 80, rows: 24 } as const;

const OPEN_MARKER = 'gatehouse: session started; if this is the last event, Gatehouse stopped before the session ended';

export function createSessionRecorder(info: StreamSessionInfo, options: RecorderOptions): SessionRecorder {
  const bytes: Record<StreamChannel, number> = { stdin: 0, stdout: 0, stderr: 0 };
  const decoders: Record<StreamChannel, TextDecoder> = { stdin: new TextDecoder(), stdout: new TextDecoder(), stderr: new TextDecoder() };
  const redactors: Record<StreamChannel, StreamRedactor> = {
    stdin: options.redaction.stream(),
    stdout: options.redaction.stream(),
    stderr: options.redaction.stream(),
  };
  // kubectl cp: `tar cf -` writes the archive to stdout, `tar xf -` reads it from stdin.
  const tars: Partial<Record<StreamChannel, TarIndex>> = info.kind === 'exec' ? { stdin: createTarIndex(options.maxFiles), stdout: createTarIndex(options.maxFiles) } : {};
  const forwarded = new Map<number, { in: number; out: number }>();
  for (const port of info.ports ?? []) forwarded.set(port, { in: 0, out: 0 });

  const lines: string[] = [];
  const stderrEvents: number[] = [];
  let stored = 0;
  let truncated = false;
  let finished: { text: string; session: RecordedSession } | undefined;
  let size = info.size;

  function push(event: CastEvent, fromStderr = false): void {
    if (truncated) return;
    const line = eventLine(event);
    const length = Buffer.byteLength(line) + 1;
    if (stored + length > options.maxBytes) {
      truncated = true;
      lines.push(eventLine([event[0], 'm', `gatehouse: recording truncated: the cap of ${options.maxBytes} bytes per session was reached; later input and output were counted, not stored`]));
      return;
    }
    if (fromStderr) stderrEvents.push(lines.length);
    lines.push(line);
    stored += length;
  }

  function text(channel: StreamChannel, decoded: string, at: number): void {
    if (decoded === '') return;
    push([castTime(at), channel === 'stdin' ? 'i' : 'o', decoded], channel === 'stderr');
  }

  function header(endReason: string | null): CastHeader {
    const shown = size ?? DEFAULT_SIZE;
    return {
      version: 2,
      width: shown.cols,
      height: shown.rows,
      timestamp: Math.floor(Date.parse(info.startedAt) / 1000),
      title: titleOf(info),
      env: info.tty && info.command !== undefined && info.command[0] !== undefined ? { SHELL: info.command[0] } : {},
      gatehouse: {
        request_id: info.requestId,
        ...(info.cluster === undefined ? {} : { cluster: info.cluster }),
        kind: info.kind,
        user: info.user,
        namespace: info.namespace,
        pod: info.pod,
        container: info.container ?? null,
        command: info.command ?? null,
        ports: info.ports ?? null,
        tty: info.tty,
        end_reason: endReason,
        truncated,
        stderr_events: stderrEvents,
      },
    };
  }

  return {
    data(channel, chunk, at) {
      if (finished !== undefined) return;
      bytes[channel] += chunk.length;
      tars[channel]?.push(chunk);
      if (truncated) return;
      text(channel, redactors[channel].push(decoders[channel].decode(chunk, { stream: true })), at);
    },
    resize(cols, rows, at) {
      if (finished !== undefined) return;
      size ??= { cols, rows };
      push([castTime(at), 'r', `${cols}x${rows}`]);
    },
    forwarded(port, direction, chunk) {
      if (finished !== undefined) return;
      const counts = forwarded.get(port) ?? { in: 0, out: 0 };
      counts[direction] += chunk.length;
      forwarded.set(port, counts);
    },
    opening() {
      return `${headerLine(header(null))}\n${eventLine([0, 'm', OPEN_MARKER])}\n`;
    },
    finish(reason, at) {
      if (finished !== undefined) return finished;
      for (const channel of ['stdout', 'stderr', 'stdin'] as const) {
        if (!truncated) text(channel, redactors[channel].push(decoders[channel].decode()) + redactors[channel].flush(), at);
      }
      lines.push(eventLine([castTime(at), 'm', `gatehouse: session ended: ${reason}`]));
      const files: RecordedFile[] = [...(tars.stdin?.files ?? []), ...(tars.stdout?.files ?? [])];
      const ports: ForwardedPort[] = [...forwarded].sort(([a], [b]) => a - b).map(([port, counts]) => ({ port, in: counts.in, out: counts.out }));
      finished = {
        text: `${headerLine(header(reason))}\n${lines.join('\n')}\n`,
        session: { bytes: { ...bytes }, truncated, reason, durationMs: Math.max(0, Math.round(at)), files, forwarded: ports },
      };
      return finished;
    },
  };
}

/** `alice exec payments/db-0 -c main -- sh -i`, `alice portforward payments/db-0 5432`. */
export function titleOf(info: StreamSessionInfo): string {
  const container = info.container === undefined ? '' : ` -c ${info.container}`;
  const command = info.command === undefined || info.command.length === 0 ? '' : ` -- ${info.command.join(' ')}`;
  const ports = info.ports === undefined || info.ports.length === 0 ? '' : ` ${info.ports.join(' ')}`;
  return `${info.user} ${info.kind} ${info.namespace}/${info.pod}${container}${info.kind === 'portforward' ? ports : command}`;
}
