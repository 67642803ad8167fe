/**
 * The RecordingStore: a session's recording opens durably and closes as one asciicast v2
 * object (gzip) at `<recordings prefix>dt=YYYY-MM-DD/<request id>.cast.gz` — beside the
 * records, outside their Athena table's folder (the table would read a recording as records).
 *
 * `open` first works out what to redact (the namespace's Secret values when the policy asks:
 * no values, no session), then writes the header and an opening marker under the key the
 * recording will have; only then does it resolve. `close` overwrites that object with the
 * whole recording. So a Gatehouse that stops mid-session leaves an object saying the
 * session started and was never closed; a store that is down refuses the session.
 */
import { constants as zlibConstants, gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { GatehouseError } from '../errors.ts';
import type { RecordingStore, StreamRecorder, StreamSessionInfo } from '../ports/recordings.ts';
import { datePrefix, partitionDate } from '../records/layout.ts';
import { compileRedaction } from './redactor.ts';
import type { RedactionRules } from './redactor.ts';
import { createSessionRecorder } from './recorder.ts';

const gzipCallback = promisify(gzip);
/** Fastest deflate level, as for records (adapters/s3-records.ts): compressing shares the cores with the tunnels. */
const gzipAsync = (text: string): Promise<Buffer> => gzipCallback(text, { level: zlibConstants.Z_BEST_SPEED });

/** Where recording objects live: S3 (adapters/s3-recordings.ts), also the local stand-in. */
export interface RecordingObjects {
  /** `s3://bucket/prefix/`, for messages. */
  readonly location: string;
  /** Durable when it resolves; rejects with ERR_RECORD_UNAVAILABLE. */
  put(key: string, body: Uint8Array): Promise<void>;
  /** The object's bytes; rejects with ERR_NOT_FOUND when there is none, ERR_RECORD_UNAVAILABLE when the store is down. */
  get(key: string): Promise<Uint8Array>;
  /** One page of the keys under `prefix`, in key order: at most `maxKeys`, after the key `startAfter`; `truncated` when more follow. */
  list(prefix: string, page: { maxKeys: number; startAfter?: string }): Promise<{ keys: string[]; truncated: boolean }>;
}

export interface RecordingStoreOptions {
  objects: RecordingObjects;
  /** Key prefix of recordings, e.g. `recordings/`. */
  prefix: string;
  /** Stored event bytes per session (before compression) beyond which the recording is cut. */
  maxBytes: number;
  /** Most tar entries listed per session. */
  maxFiles?: number;
  /** What to redact in this session; rejects (ERR_RECORD_UNAVAILABLE) when it cannot be known. */
  redactionFor(info: StreamSessionInfo): Promise<RedactionRules>;
}

export const DEFAULT_MAX_FILES = 1000;

/** `recordings/dt=2025-03-01/<request id>.cast.gz`. */
export function recordingKey(prefix: string, startedAt: string, requestId: string): string {
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(requestId)) throw new GatehouseError('ERR_INTERNAL', `request id ${JSON.stringify(requestId)} cannot name a recording`);
  return `${datePrefix(prefix, partitionDate(startedAt))}${requestId}.cast.gz`;
}

export function createRecordingStore(options: RecordingStoreOptions): RecordingStore {
  const { objects } = options;

  function refused(info: StreamSessionInfo, why: string, cause: unknown): GatehouseError {
    return new GatehouseError(
      'ERR_RECORD_UNAVAILABLE',
      `the ${info.kind} session into pod "${info.pod}" in namespace "${info.namespace}" was not started: it cannot be recorded (${why})`,
      { cause },
    );
  }

  return {
    async open(info) {
      let rules: RedactionRules;
      try {
        rules = await options.redactionFor(info);
      } catch (error) {
        throw refused(info, `what to redact is unknown: ${messageOf(error)}`, error);
      }
      const key = recordingKey(options.prefix, info.startedAt, info.requestId);
      const recorder = createSessionRecorder(info, { maxBytes: options.maxBytes, maxFiles: options.maxFiles ?? DEFAULT_MAX_FILES, redaction: compileRedaction(rules) });
      try {
        await objects.put(key, await gzipAsync(recorder.opening()));
      } catch (error) {
        throw refused(info, messageOf(error), error);
      }
      let closing: ReturnType<StreamRecorder['close']> | undefined;
      return {
        data: (channel, bytes, at) => recorder.data(channel, bytes, at),
        resize: (cols, rows, at) => recorder.resize(cols, rows, at),
        forwarded: (port, direction, bytes, at) => recorder.forwarded(port, direction, bytes, at),
        close(reason, at) {
          closing ??= (async () => {
            const { text, session } = recorder.finish(reason, at);
            const body = await gzipAsync(text);
            await objects.put(key, body);
            return { ...session, key, storedBytes: body.length };
          })();
          return closing;
        },
      };
    },
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
