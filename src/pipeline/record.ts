/**
 * Stage 0 (outermost) — record: one session record per API call, failures included, and a
 * durable record of intent before any mutating call is forwarded.
 *
 * - `record(sink, options)` wraps the whole chain. After the inner stages ran (or threw and
 *   were turned into a Status), it writes the outcome record — buffered, so no response waits
 *   for S3. An answer held whole (`responseBytes`) is recorded from those bytes at once (not
 *   masked again when the mask stage masked them); any other body is teed with a cap and
 *   recorded when it ends or the client goes away. Without a sink it only assigns the
 *   request id (Audit-Id).
 * - `recordIntent()` sits between approve and credentials, where the decision is known and
 *   nothing was forwarded yet. For mutating calls (see `needsIntent`) it writes a record of
 *   intent through `writeDurable`; if that fails the call is refused with 503
 *   ERR_RECORD_UNAVAILABLE and reaches nothing.
 */
import type { Context, ContextVariableMap, MiddlewareHandler } from 'hono';
import type { GatehouseBindings, GatehouseContext } from '../context.ts';
import { asGatehouseError, GatehouseError } from '../errors.ts';
import type { RecordSink } from '../ports/records.ts';
import { NO_BODY, recordBody, recordSentBody, unreadBody } from '../records/body.ts';
import type { BodyOptions, CapturedBody, DocumentMasker, ProtobufReader, RecordedBody } from '../records/body.ts';
import { buildRecord, needsIntent } from '../records/build.ts';
import type { CallFacts, CallStart } from '../records/build.ts';
import { teeWithCap } from '../records/capture.ts';
import type { StreamEnd } from '../records/schema.ts';
import type { RecordsLog } from '../records/sink.ts';
import { stderrLog } from '../records/sink.ts';
import type { Clock, Decision, KubeRequest } from '../types.ts';
import { classifyRequest } from '../request-info.ts';
import { rawTarget } from './classify.ts';
import { headerOf } from './plain-response.ts';
import type { RecordingSummary } from '../ports/recordings.ts';
import type { TunnelEnd } from '../streams/tunnel.ts';

/** Settings of the record stage that come from `records` configuration. */
export interface RecordSettings {
  /** Bytes of each body kept in a record (after masking). */
  maxBodyBytes: number;
  /** Take the source IP from the last `X-Forwarded-For` entry (only behind a proxy you run). */
  trustForwardedFor: boolean;
}

export const DEFAULT_RECORD_SETTINGS: RecordSettings = { maxBodyBytes: 16384, trustForwardedFor: false };

export interface RecordStageOptions extends RecordSettings {
  clock: Clock;
  runtime: 'node' | 'lambda';
  /** Masks one parsed body document (the masking module's function). */
  mask: DocumentMasker;
  /** Reads Kubernetes protobuf bodies as masked text; without it they are recorded as a note. */
  readProtobuf?: ProtobufReader;
  log?: RecordsLog;
}

/** What the record stage leaves in the context for `recordIntent`. */
interface Recording {
  sink: RecordSink;
  options: RecordStageOptions;
  start: CallStart;
  /** The request body as the record of intent recorded it (read, masked, cut): the outcome record reuses it. */
  requestBody?: RecordedBody;
}

declare module 'hono' {
  interface ContextVariableMap {
    /** Set by record when records are on: the call as it arrived, for the record of intent. */
    recording: Recording;
  }
}

export function record(sink: RecordSink | undefined, options: RecordStageOptions): MiddlewareHandler {
  const log = options.log ?? stderrLog;
  return async function recordStage(c, next) {
    const requestId = crypto.randomUUID();
    c.set('requestId', requestId);
    if (sink === undefined) {
      await next();
      setAuditId(c, requestId);
      return;
    }
    const start = callStart(c, requestId, options);
    const recording: Recording = { sink, options, start };
    c.set('recording', recording);
    await next();
    setAuditId(c, requestId);

    const facts = await callFacts(c, options, false, recording.requestBody);
    const response = c.res;
    const error = c.error === undefined ? undefined : asGatehouseError(c.error);
    const upgraded = headerOf(c, 'x-gatehouse-upgraded') === 'true';
    const decision = facts.decision;
    const contentType = headerOf(c, 'content-type');
    const outcome: Outcome = { c, sink, options, log, start, facts, response, contentType, error, upgraded };

    const body = bodyOptions(options, contentType, facts.request, decision?.unmasked !== true);
    // An answer held whole (forward read it, mask may have rewritten it) is recorded from those
    // bytes, and the response is left as built: no tee stream, so the runtime writes it in one
    // go. A failure replaced the answer with a Status, so the bytes are not what was sent then.
    const sent = c.error === undefined ? variable<Uint8Array>(c, 'responseBytes') : undefined;
    if (sent !== undefined) {
      const identity = (headerOf(c, 'content-encoding') ?? 'identity').trim().toLowerCase() === 'identity';
      const passedMaskStage = identity && variable<boolean>(c, 'responseBytesMasked') === true && decision?.unmasked !== true;
      writeOutcome(outcome, responseBody(sent.byteLength, () => recordSentBody(sent, body, passedMaskStage)), 'complete');
      return;
    }
    // Not `response.body` before this point: reading it turns a Response built from bytes into a stream.
    // A HEAD answer sends no body (Hono drops it unread): a tee of it would never end, and its record never be written.
    // An exec/attach/port-forward: its record is written when the session ended, with its recording.
    const ended = upgraded ? variable<Promise<TunnelEnd>>(c, 'streamEnded') : undefined;
    if (ended !== undefined) {
      const release = sink.hold();
      void ended.then((end) => {
        try {
          writeOutcome(outcome, NO_BODY, 'upgraded', end.recording);
        } finally {
          release();
        }
      });
      return;
    }
    if (c.req.method === 'HEAD' || response.body === null) {
      writeOutcome(outcome, NO_BODY, upgraded ? 'upgraded' : 'none');
      return;
    }
    const release = sink.hold();
    const teed = teeWithCap(response.body, options.maxBodyBytes, (captured: CapturedBody, end: StreamEnd) => {
      try {
        writeOutcome(outcome, responseBody(captured.totalBytes, () => recordBody(captured, body)), end);
      } finally {
        release();
      }
    });
    const replacement = new Response(teed, { status: response.status, statusText: response.statusText, headers: response.headers });
    // Unset first: assigning over a response makes Hono merge the old headers into the new.
    c.res = undefined;
    c.res = replacement;
  };
}

/** What the outcome record of one call is built from. */
interface Outcome {
  c: Context;
  sink: RecordSink;
  options: RecordStageOptions;
  log: RecordsLog;
  start: CallStart;
  facts: CallFacts;
  response: Response;
  /** Of the response as the stages left it (read before a tee replaces it). */
  contentType: string | null;
  error: GatehouseError | undefined;
  upgraded: boolean;
}

/** Writes the outcome record; a record that cannot be built must not break the response, so that is logged loudly instead. */
function writeOutcome(outcome: Outcome, body: RecordedBody, streamEnd: StreamEnd, recording?: RecordingSummary): void {
  const { c, options, error, response } = outcome;
  try {
    outcome.sink.write(
      buildRecord('outcome', outcome.start, outcome.facts, {
        finishedAtMs: options.clock.now(),
        statusCode: outcome.upgraded ? 101 : response.status,
        upstreamStatus: variable<number>(c, 'upstreamStatus'),
        error: error === undefined ? undefined : { code: error.code, message: error.message },
        responseContentType: outcome.contentType,
        responseBody: body,
        maskedInResponse: variable<boolean>(c, 'masked') === true,
        streamEnd,
        recording,
      }),
    );
  } catch (failure) {
    outcome.log({ level: 'error', event: 'record_build_failed', message: `session record for request ${outcome.start.requestId} could not be built: ${String(failure)}` });
  }
}

export function recordIntent(): MiddlewareHandler {
  return async function recordIntentStage(c, next) {
    const recording = variable<Recording>(c, 'recording');
    if (recording === undefined || !needsIntent(c.req.method, variable<KubeRequest>(c, 'kubeRequest'))) return next();
    const facts = await callFacts(c, recording.options, true);
    recording.requestBody = facts.requestBody;
    try {
      await recording.sink.writeDurable(buildRecord('intent', recording.start, facts));
    } catch (error) {
      throw new GatehouseError('ERR_RECORD_UNAVAILABLE', intentRefusal(facts, error), { cause: error });
    }
    await next();
  };
}

function intentRefusal(facts: CallFacts, error: unknown): string {
  const who = facts.identity === undefined ? 'the caller' : `user "${facts.identity.user}"`;
  const request = facts.request;
  const what =
    request === undefined
      ? 'this call'
      : `${request.verb} ${[request.resource, request.subresource].filter((part) => part !== '').join('/') || request.path}` +
        `${request.name === '' ? '' : ` "${request.name}"`}${request.namespace === '' ? '' : ` in namespace "${request.namespace}"`}`;
  const cause = error instanceof Error ? error.message : String(error);
  return `${who} may not ${what} right now: its record of intent could not be written, and no change goes unrecorded (${cause}); nothing was forwarded, retry later`;
}

// ─── gathering facts ──────────────────────────────────────────────────────────

function callStart(c: Context, requestId: string, options: RecordStageOptions): CallStart {
  const target = rawTarget(c);
  const requestHeaders = c.req.raw.headers;
  // An MCP tool call: the agent's address and client, and which tool with which arguments.
  const agent = (c.env as GatehouseBindings | undefined)?.agent;
  const start: CallStart = {
    requestId,
    startedAtMs: options.clock.now(),
    runtime: options.runtime,
    cluster: (c.get('cluster') as string | undefined) ?? null,
    method: c.req.method,
    path: target.path,
    query: target.query,
    sourceIp: agent === undefined ? sourceIp(c, options.trustForwardedFor) : agent.sourceIp,
    headers: {
      kubectlSession: requestHeaders.get('kubectl-session'),
      kubectlCommand: requestHeaders.get('kubectl-command'),
      userAgent: agent === undefined ? requestHeaders.get('user-agent') : agent.userAgent,
      forwardedFor: requestHeaders.get('x-forwarded-for'),
      contentType: requestHeaders.get('content-type'),
    },
  };
  if (agent !== undefined) start.agent = { session: agent.session, tool: agent.tool, callId: agent.callId, arguments: agent.arguments };
  return start;
}

/** `recorded`: the request body the record of intent already recorded (the same bytes), so it is not read and masked twice. */
async function callFacts(c: Context, options: RecordStageOptions, consumeBody: boolean, recorded?: RecordedBody): Promise<CallFacts> {
  const request = variable<KubeRequest>(c, 'kubeRequest') ?? classifyQuietly(c, options.runtime);
  // Reads carry no body: no promise to wait for on the path of every GET.
  const captured = recorded !== undefined || hasNoBody(c.req.method) ? undefined : await requestBodyHead(c, consumeBody);
  return {
    identity: variable(c, 'identity'),
    impersonator: variable(c, 'impersonator'),
    request,
    decision: variable<Decision>(c, 'decision'),
    approval: variable(c, 'approval'),
    restoration: variable(c, 'restoration'),
    requestBody:
      recorded ??
      (captured === undefined
        ? unreadBody(declaredLength(c))
        : recordBody(captured, bodyOptions(options, c.req.header('content-type') ?? null, request, false))),
  };
}

/**
 * The response body for the record; what left went through the mask stage unless a
 * break-glass rule lifted it (`alreadyMasked`). Runs inside the stream or after the response
 * was built: it must not throw.
 */
function responseBody(totalBytes: number, read: () => RecordedBody): RecordedBody {
  try {
    return read();
  } catch {
    return { text: '[not recorded: the response body could not be read for masking]', bytes: totalBytes, truncated: false, masked: false };
  }
}

function bodyOptions(options: RecordStageOptions, contentType: string | null, request: KubeRequest | undefined, alreadyMasked: boolean): BodyOptions {
  const body: BodyOptions = { contentType, maxBodyBytes: options.maxBodyBytes, mask: options.mask, request, alreadyMasked };
  if (options.readProtobuf !== undefined) body.readProtobuf = options.readProtobuf;
  return body;
}

/** Reads a context variable that a stage may not have reached (Hono's types say always set). */
function variable<T>(c: Context, key: keyof ContextVariableMap): T | undefined {
  // `c.get`, not `c.var`: Hono builds a new object of every variable on each `c.var` read.
  return c.get(key) as T | undefined;
}

/** A call refused before classify (401, impersonation) is still recorded with what it targeted. */
function classifyQuietly(c: Context, runtime: 'node' | 'lambda'): KubeRequest | undefined {
  const target = rawTarget(c);
  try {
    const cluster = c.get('cluster') as string | undefined;
    return classifyRequest(c.req.method, target.path, target.query, cluster === undefined ? { runtime } : { runtime, cluster });
  } catch {
    return undefined;
  }
}

/**
 * The request body for the record. Stages that need the body read it through Hono's cache
 * (forward then sends the cached bytes): the record of intent does so too (`consume`), so
 * a mutating call's body is always whole here. A call refused before any stage read its body
 * is recorded without it — its size from Content-Length — and nothing reads it now: a
 * client that announced a body and never sends it must get its answer at once.
 */
async function requestBodyHead(c: Context, consume: boolean): Promise<CapturedBody | undefined> {
  if (hasNoBody(c.req.method)) return undefined;
  if (consume || Object.keys(c.req.bodyCache).length > 0) {
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    return { head: bytes, totalBytes: bytes.byteLength, complete: true };
  }
  return undefined;
}

/** The body's size by Content-Length (0 when absent or no byte count; a chunked body's is unknown until read). */
function declaredLength(c: Context): number {
  const text = c.req.header('content-length');
  return text !== undefined && /^\s*\d+\s*$/.test(text) ? Number(text) : 0;
}

function hasNoBody(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}

/** The caller's address: the TCP peer (Node) or the Function URL's view (Lambda); X-Forwarded-For only when trusted. */
export function sourceIp(c: GatehouseContext, trustForwardedFor: boolean): string | null {
  if (trustForwardedFor) {
    const hops = (c.req.header('x-forwarded-for') ?? '')
      .split(',')
      .map((hop) => hop.trim())
      .filter((hop) => hop !== '');
    const last = hops.at(-1);
    if (last !== undefined) return last;
  }
  return c.env?.incoming?.socket.remoteAddress ?? c.env?.event?.requestContext?.http?.sourceIp ?? null;
}

/** Audit-Id = the request id on every answer; forward's and mask's answers carry it already. */
function setAuditId(c: Context, requestId: string): void {
  if (headerOf(c, 'audit-id') === requestId) return;
  try {
    c.res.headers.set('audit-id', requestId);
  } catch {
    // Immutable headers (a fetched Response): copy them.
    const response = c.res;
    const headers = new Headers(response.headers);
    headers.set('audit-id', requestId);
    c.res = undefined;
    c.res = new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  }
}
