/**
 * asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/): one JSON header line, then
 * one `[time, code, data]` line per event — `o` output, `i` input, `r` resize (`COLSxROWS`),
 * `m` marker. Pure: the writer and reader of the lines, nothing of sessions or storage.
 *
 * Times are seconds since the session start, rounded to microseconds, written the way
 * `JSON.stringify` writes numbers, so the same events always give the same bytes.
 */

export type EventCode = 'o' | 'i' | 'r' | 'm';

export type CastEvent = readonly [time: number, code: EventCode, data: string];

/** Gatehouse's own header fields (readers ignore header keys they do not know). */
export interface GatehouseCastInfo {
  readonly request_id: string;
  /** The cluster, on a deployment of several (absent with one, and in recordings made before). */
  readonly cluster?: string;
  readonly kind: 'exec' | 'attach' | 'portforward';
  readonly user: string;
  readonly namespace: string;
  readonly pod: string;
  readonly container: string | null;
  readonly command: readonly string[] | null;
  readonly ports: readonly number[] | null;
  readonly tty: boolean;
  /** Why the session ended; null in the object written when it opened. */
  readonly end_reason: string | null;
  readonly truncated: boolean;
  /** Numbers (0-based, counting events only) of the `o` events that came from stderr. */
  readonly stderr_events: readonly number[];
}

export interface CastHeader {
  readonly version: 2;
  readonly width: number;
  readonly height: number;
  /** Unix seconds of the session start. */
  readonly timestamp: number;
  readonly title: string;
  readonly env: Readonly<Record<string, string>>;
  readonly gatehouse: GatehouseCastInfo;
}

/** `1234.5678` ms → `1.234568` s. */
export function castTime(ms: number): number {
  return Math.round(Math.max(0, ms) * 1000) / 1e6;
}

export function headerLine(header: CastHeader): string {
  return JSON.stringify(header);
}

export function eventLine(event: CastEvent): string {
  return JSON.stringify(event);
}

export interface Cast {
  header: CastHeader;
  events: CastEvent[];
}

/** Reads an asciicast v2 text; throws naming the line that is not one. */
export function parseCast(text: string): Cast {
  const lines = text.split('\n');
  let header: CastHeader;
  try {
    header = JSON.parse(lines[0] ?? '') as CastHeader;
  } catch {
    throw new Error('not an asciicast v2 recording: its first line is not a JSON header');
  }
  if (header === null || typeof header !== 'object' || header.version !== 2) {
    throw new Error('not an asciicast v2 recording: the header does not say version 2');
  }
  const events: CastEvent[] = [];
  lines.slice(1).forEach((line, index) => {
    if (line.trim() === '') return;
    const event: unknown = JSON.parse(line);
    if (!Array.isArray(event) || typeof event[0] !== 'number' || typeof event[1] !== 'string' || typeof event[2] !== 'string') {
      throw new Error(`not an asciicast v2 recording: line ${index + 2} is not a [time, code, data] event`);
    }
    events.push([event[0], event[1] as EventCode, event[2]]);
  });
  return { header, events };
}
