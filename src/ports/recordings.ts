/**
 * Ports for stream recordings (exec, attach, cp, port-forward on the Node runtime).
 *
 * The tunnel (src/streams/) parses the SPDY or WebSocket frames of a session and reports
 * what it saw to a StreamRecorder; the recorder (src/recordings/) turns that into an
 * asciicast v2 file (gzip) in the records store, next to the call's record, which links to
 * it by `recording_key`.
 *
 * Fail closed: `open` writes durably before the tunnel is spliced; if it rejects, the
 * session is not started and the client gets a Status naming why. Everything after `open`
 * is synchronous and bounded (the cap), so the tunnel never waits on the store mid-session;
 * `close` writes the whole recording and resolves with where it is.
 */

/** What is known of a session when it starts (after policy, before the upstream 101). */
export interface StreamSessionInfo {
  /** Gatehouse's request id (the call's record `request_id`, the upstream Audit-ID). */
  readonly requestId: string;
  /** The cluster the session is on, on a deployment of several (`clusters:`); absent with one. */
  readonly cluster?: string;
  /** `exec`, `attach` or `portforward` (`kubectl cp` is an exec of `tar`). */
  readonly kind: 'exec' | 'attach' | 'portforward';
  readonly user: string;
  readonly namespace: string;
  readonly pod: string;
  readonly container?: string;
  /** The exec command, argv as the API server receives it (`command=` query values). */
  readonly command?: readonly string[];
  /** Port-forward ports. */
  readonly ports?: readonly number[];
  readonly tty: boolean;
  /** Initial terminal size when known. */
  readonly size?: { readonly cols: number; readonly rows: number };
  /** ISO 8601 UTC start. */
  readonly startedAt: string;
}

export type StreamChannel = 'stdin' | 'stdout' | 'stderr';

/** How a recording ended, as stored in the recording and the record. */
export interface RecordingSummary {
  /** Key of the recording object in the records store. */
  readonly key: string;
  /** Bytes of the stored (compressed) object. */
  readonly storedBytes: number;
  /** Bytes seen per channel (before any cap). */
  readonly bytes: Readonly<Record<StreamChannel, number>>;
  /** True when the cap was reached; the recording carries an explicit truncation marker. */
  readonly truncated: boolean;
  /** Why the session ended, as given to `close` (and stored in the recording). */
  readonly reason: string;
  /** Milliseconds from the session start to `close`. */
  readonly durationMs: number;
  /** Files in a tar stream on stdin or stdout (`kubectl cp` both ways), in order, at most a bounded number. */
  readonly files: readonly RecordedFile[];
  /** Port-forward bytes per port (`in`: client to pod, `out`: pod to client). */
  readonly forwarded: readonly ForwardedPort[];
}

export interface RecordedFile {
  /** Path as the tar header names it. */
  readonly name: string;
  readonly size: number;
}

export interface ForwardedPort {
  readonly port: number;
  readonly in: number;
  readonly out: number;
}

export interface StreamRecorder {
  /** Terminal input/output. `at` is ms since the session start (from the tunnel's clock). */
  data(channel: StreamChannel, bytes: Uint8Array, at: number): void;
  /** A terminal resize. */
  resize(cols: number, rows: number, at: number): void;
  /** A port-forward data chunk: counted (and for cp-like content, recorded within the cap). */
  forwarded(port: number, direction: 'in' | 'out', bytes: Uint8Array, at: number): void;
  /** Writes the recording durably; `reason` (e.g. "client closed", "upstream reset", "terminated by alice") is stored. */
  close(reason: string, at: number): Promise<RecordingSummary>;
}

export interface RecordingStore {
  /** Starts a recording: durable before it resolves (rejects with ERR_RECORD_UNAVAILABLE otherwise). */
  open(info: StreamSessionInfo): Promise<StreamRecorder>;
}
