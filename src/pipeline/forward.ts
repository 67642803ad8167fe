/**
 * Stage 6 — forward: sends the request to the upstream API server as the caller, and
 * streams the answer back.
 *
 * Contract:
 * - URL = upstream base (path prefix kept) + the RAW request path and query, never re-encoded.
 * - Request headers by allowlist (upstream-headers.ts): the caller's identity travels as
 *   Impersonate-User / Impersonate-Group / Impersonate-Uid, Gatehouse's request id as
 *   Audit-ID, its own upstream token as Authorization; of the client's headers only those the
 *   API server reads. Hop-by-hop response headers are dropped.
 * - A request body is sent whole, as read and bounded by request-body.ts (never on GET, HEAD
 *   or an upgrade). Answers stream (watch, `logs -f`); a client that goes away takes the
 *   upstream request with it.
 * - Upstream TLS is verified against the connection's CA; keep-alive agents are cached per
 *   TLS identity (CA, client cert/key, server name).
 * - Failures are GatehouseErrors: ERR_UPSTREAM_UNREACHABLE (502), ERR_UPSTREAM_TIMEOUT (504,
 *   no response headers in time), ERR_UPSTREAM_TLS (verification failed). Upstream error
 *   bodies (Status objects) pass through unchanged.
 * - HTTP Upgrade (exec/attach/port-forward) on the Node runtime: when the runtime hands over
 *   the client socket in `c.env.upgrade`, the stream is prepared first (src/streams/: the
 *   protocols Gatehouse reads offered, the recording opened — or the call refused), and a 101
 *   from upstream starts the tunnel that reads every frame both ways; any other upstream
 *   answer is returned as an ordinary response for the runtime to write.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { Duplex } from 'node:stream';
import type { Context, Handler } from 'hono';
import type { GatehouseBindings, GatehouseContext } from '../context.ts';
import { asGatehouseError, GatehouseError } from '../errors.ts';
import type { StreamHandling } from '../streams/stream-upgrade.ts';
import type { ApprovalOutcome, Decision } from '../types.ts';
import type { UpstreamConnection } from '../types.ts';
import { rawTarget } from './classify.ts';
import { plainResponse } from './plain-response.ts';
import { clientHeaderPairs } from './request-headers.ts';
import { DEFAULT_MAX_REQUEST_BODY_BYTES, readBody } from './request-body.ts';
import { upstreamHeaders } from './upstream-headers.ts';
import { lazyWebStream } from './web-stream.ts';

export interface ForwardOptions {
  /** Seconds the upstream has to answer with response headers; streams then run freely. */
  timeoutSeconds: number;
  /** exec, attach and port-forward on the Node runtime (src/streams/); absent, every upgrade is refused (503). */
  tunnels?: StreamHandling;
  /** Largest request body sent (the request-body stage refuses larger ones first); default 3 MiB. */
  maxRequestBodyBytes?: number;
}


/** Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus proxy ones. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);


export function forward(options: ForwardOptions): Handler {
  const timeoutMs = Math.round(options.timeoutSeconds * 1000);
  const maxBodyBytes = options.maxRequestBodyBytes ?? DEFAULT_MAX_REQUEST_BODY_BYTES;
  return async function forwardStage(c: GatehouseContext) {
    const connection = c.get('upstream');
    const identity = c.get('identity');
    const env: GatehouseBindings = c.env ?? {};
    const upgrade = env.upgrade;
    const target = rawTarget(c);
    const base = connection.server;
    const basePath = base.pathname.endsWith('/') ? base.pathname.slice(0, -1) : base.pathname;
    const path = basePath + target.path + (target.query === '' ? '' : `?${target.query}`);
    const method = c.req.method;
    // Bodies are read whole and bounded (request-body.ts); a GET, HEAD or upgrade sends none.
    // Where the restore stage put live values back in place of placeholders, that body goes.
    const body = upgrade === undefined && method !== 'GET' && method !== 'HEAD' ? (c.get('upstreamBody') ?? (await readBody(c, maxBodyBytes, 'Gatehouse forwards'))) : null;
    // exec/attach/port-forward: the protocols Gatehouse reads are offered, the recording opened (or the call refused) first.
    const stream =
      upgrade === undefined
        ? undefined
        : await streamsOf(options).prepare({
            cluster: c.get('cluster') as string | undefined,
            identity,
            request: c.get('kubeRequest'),
            requestId: c.get('requestId'),
            approvalId: approvedId(c),
            decision: c.get('decision') as Decision | undefined,
            clientHeaders: clientHeaderPairs(c),
          });
    const headers = upstreamHeaders({
      clientHeaders: stream?.clientHeaders ?? clientHeaderPairs(c),
      host: base.host,
      identity,
      token: connection.token,
      requestId: c.get('requestId'),
      // A POST upgrade (SPDY exec) has no body: say so (Content-Length: 0), as Go's client does.
      bodyLength: body === null ? (method === 'GET' || method === 'HEAD' ? undefined : 0) : body.byteLength,
      upgrade: upgrade !== undefined,
    });

    const requestOptions: http.RequestOptions & { servername?: string | undefined } = {
      agent: agentFor(connection),
      host: hostnameOf(base),
      port: base.port === '' ? undefined : Number(base.port),
      method,
      path,
      headers,
      servername: connection.tlsServerName,
    };
    let answer: Answer;
    try {
      answer = await send(base.protocol === 'https:' ? https.request : http.request, requestOptions, body, {
        timeoutMs,
        origin: base.origin,
        // A GET without body may be replayed once when a reused keep-alive socket turns out closed.
        retryable: body === null && (method === 'GET' || method === 'HEAD') && upgrade === undefined,
        c,
        env,
      });
    } catch (error) {
      if (stream !== undefined) streamsOf(options).abandon(stream, `the session did not start: ${asGatehouseError(error).message}`);
      throw error;
    }

    if (answer.kind === 'upgrade') {
      c.set('upstreamStatus', 101);
      if (upgrade === undefined || stream === undefined || options.tunnels === undefined) {
        answer.socket.destroy();
        throw new GatehouseError('ERR_UPGRADE_UNSUPPORTED', 'upstream switched protocols but this runtime cannot carry an upgrade');
      }
      upgrade.taken = true;
      if (upgrade.socket.destroyed) {
        answer.socket.destroy();
        options.tunnels.abandon(stream, 'client closed the connection before the session started');
      } else {
        try {
          c.set('streamEnded', options.tunnels.start(stream, upgrade, answer));
        } catch (error) {
          upgrade.taken = false;
          throw error;
        }
      }
      return plainResponse(c, null, { status: 200, headers: { 'x-gatehouse-upgraded': 'true' } });
    }
    if (stream !== undefined) streamsOf(options).abandon(stream, `the upstream answered ${answer.response.statusCode ?? 502} instead of switching protocols`);
    const upstream = answer.response;
    const status = upstream.statusCode ?? 502;
    c.set('upstreamStatus', status);
    const init = { status, statusText: upstream.statusMessage, headers: responseHeaders(upstream.rawHeaders, c.get('requestId')) };
    if (method === 'HEAD' || status === 204 || status === 304 || status === 205) {
      upstream.resume();
      return plainResponse(c, null, init);
    }
    // A small answer of known length is read whole: the runtime then writes headers and body in
    // one go, which is most of the cost of a proxied GET. Anything else (watch, logs -f, big
    // lists) streams.
    const length = Number(upstream.headers['content-length'] ?? Number.NaN);
    if (length >= 0 && length <= BUFFERED_RESPONSE_MAX_BYTES) {
      const bytes = await readWhole(upstream, base.origin);
      c.set('responseBytes', bytes);
      c.set('responseBytesMasked', false);
      return plainResponse(c, bytes, init, { bytes });
    }
    return plainResponse(c, lazyWebStream(upstream), init, { stream: upstream });
  };
}

function streamsOf(options: ForwardOptions): StreamHandling {
  if (options.tunnels === undefined) {
    throw new GatehouseError('ERR_RECORD_UNAVAILABLE', 'this Gatehouse has no recording store, and carries no exec, attach, cp or port-forward it cannot record');
  }
  return options.tunnels;
}

/** The approval that let this call in, when one did (a terminate on its page ends the session). */
function approvedId(c: GatehouseContext): string | undefined {
  return (c.get('approval') as ApprovalOutcome | undefined)?.approvalId;
}

/** Responses up to this size (with Content-Length) are read whole before they are passed on. */
const BUFFERED_RESPONSE_MAX_BYTES = 1024 * 1024;

/** Reads an answer whole: a single chunk is kept as is, several are copied once. */
function readWhole(response: http.IncomingMessage, origin: string): Promise<Buffer<ArrayBuffer>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    response.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      total += chunk.length;
    });
    response.once('end', () => {
      resolve((chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total)) as Buffer<ArrayBuffer>);
    });
    response.once('close', () => {
      if (!response.complete) reject(new GatehouseError('ERR_UPSTREAM_UNREACHABLE', `upstream ${origin} closed the connection in the middle of its answer`));
    });
  });
}

// ─── sending ──────────────────────────────────────────────────────────────────

type Answer =
  | { kind: 'response'; response: http.IncomingMessage }
  | { kind: 'upgrade'; response: http.IncomingMessage; socket: Duplex; head: Buffer };

interface SendOptions {
  timeoutMs: number;
  origin: string;
  retryable: boolean;
  /** The call, to notice a client that goes away (see `watchClient`). */
  c: Context;
  env: GatehouseBindings;
}

type RequestFunction = (options: http.RequestOptions) => http.ClientRequest;

function send(request: RequestFunction, requestOptions: http.RequestOptions, body: Uint8Array | null, options: SendOptions): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => new UpstreamCall(request, requestOptions, body, options, resolve, reject).attempt(options.retryable));
}

/**
 * One upstream request, settled once: by the answer (headers, or the switch to a tunnel), a
 * failure, the header timeout, or the client going away first: the state of one call in one
 * object, each way of settling a method.
 */
class UpstreamCall {
  private settled = false;
  private request: http.ClientRequest | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly stopWatching: () => void;

  constructor(
    private readonly requestFunction: RequestFunction,
    private readonly requestOptions: http.RequestOptions,
    private readonly body: Uint8Array | null,
    private readonly options: SendOptions,
    private readonly resolve: (answer: Answer) => void,
    private readonly reject: (error: Error) => void,
  ) {
    this.timer = setTimeout(UpstreamCall.timedOut, options.timeoutMs, this);
    this.stopWatching = watchClient(options.c, options.env, this.clientGone.bind(this));
  }

  private static timedOut(call: UpstreamCall): void {
    const error = new GatehouseError('ERR_UPSTREAM_TIMEOUT', `upstream ${call.options.origin} did not answer within ${call.options.timeoutMs / 1000}s`);
    call.fail(error);
    call.request?.destroy(error);
  }

  private clientGone(): void {
    this.fail(new GatehouseError('ERR_UPSTREAM_UNREACHABLE', 'client went away before the upstream answered'));
    this.request?.destroy();
  }

  private finish(): boolean {
    if (this.settled) return false;
    this.settled = true;
    clearTimeout(this.timer);
    this.stopWatching();
    return true;
  }

  private fail(error: Error): void {
    if (this.finish()) this.reject(error);
  }

  attempt(mayRetry: boolean): void {
    const request = this.requestFunction(this.requestOptions);
    this.request = request;
    const { c, env } = this.options;
    request.on('response', (response: http.IncomingMessage) => {
      if (this.finish()) this.resolve({ kind: 'response', response });
      // The client left while the body streamed: stop the upstream too (a cancelled watch must not leak).
      const stop = watchClient(c, env, response.destroy.bind(response, undefined));
      response.once('close', stop);
    });
    request.on('upgrade', (response: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      if (this.finish()) this.resolve({ kind: 'upgrade', response, socket, head });
    });
    request.on('error', (error: NodeJS.ErrnoException) => {
      if (this.settled) return;
      if (mayRetry && request.reusedSocket && error.code === 'ECONNRESET') {
        this.attempt(false);
        return;
      }
      this.fail(upstreamError(error, this.options.origin));
    });
    if (this.body === null) request.end();
    else request.end(this.body);
  }
}

/** Runs `abort` when the client disconnects before the response finished. */
function watchClient(c: Context, env: GatehouseBindings, abort: () => void): () => void {
  const outgoing = env.outgoing;
  if (outgoing !== undefined) {
    const onClose = (): void => {
      if (!outgoing.writableFinished) abort();
    };
    outgoing.once('close', onClose);
    return () => outgoing.off('close', onClose);
  }
  const socket = env.upgrade?.socket;
  if (socket !== undefined) {
    const onClose = (): void => {
      if (env.upgrade?.taken !== true) abort();
    };
    socket.once('close', onClose);
    return () => socket.off('close', onClose);
  }
  const signal = c.req.raw.signal;
  signal.addEventListener('abort', abort, { once: true });
  return () => signal.removeEventListener('abort', abort);
}

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
  'ECONNABORTED',
]);

/** Header names listed in a response's Connection header are hop-by-hop too. */
function connectionNamed(pairs: string[]): Set<string> | typeof NONE {
  let named: Set<string> | undefined;
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    if ((pairs[i] as string).length !== 10 || (pairs[i] as string).toLowerCase() !== 'connection') continue;
    for (const token of (pairs[i + 1] as string).split(',')) {
      const t = token.trim().toLowerCase();
      if (t !== '' && t !== 'upgrade' && t !== 'keep-alive' && t !== 'close') (named ??= new Set()).add(t);
    }
  }
  return named ?? NONE;
}

const NONE: { has(name: string): boolean } = { has: () => false };

/** Maps a socket/TLS failure to what kubectl should read. */
export function upstreamError(error: NodeJS.ErrnoException, origin: string): GatehouseError {
  if (error instanceof GatehouseError) return error;
  const code = error.code ?? '';
  if (!UNREACHABLE.has(code) && isTlsFailure(code)) {
    return new GatehouseError(
      'ERR_UPSTREAM_TLS',
      `upstream ${origin} failed TLS verification: ${error.message}${code === '' ? '' : ` (${code})`}`,
      { cause: error },
    );
  }
  return new GatehouseError('ERR_UPSTREAM_UNREACHABLE', `upstream ${origin} is unreachable: ${code || error.message}`, {
    cause: error,
  });
}

function isTlsFailure(code: string): boolean {
  return (
    code.includes('CERT') ||
    code.includes('SELF_SIGNED') ||
    code.startsWith('ERR_TLS') ||
    code.startsWith('ERR_SSL') ||
    code === 'EPROTO' ||
    code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' ||
    code === 'UNABLE_TO_GET_ISSUER_CERT' ||
    code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY'
  );
}

// ─── response ─────────────────────────────────────────────────────────────────

/**
 * The upstream's response headers minus hop-by-hop ones, as a plain object (the Node
 * runtime writes such a Response without building a Headers object). Repeated headers
 * (Warning) are joined with ", " as HTTP list syntax allows. Audit-Id is Gatehouse's request
 * id (the record stage's), which the records carry: the id a user quotes is the one to look up.
 */
function responseHeaders(raw: string[], requestId: string | undefined): Record<string, string> {
  const named = connectionNamed(raw);
  const headers: Record<string, string> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const lower = (raw[i] as string).toLowerCase();
    if (HOP_BY_HOP.has(lower) || named.has(lower)) continue;
    const value = raw[i + 1] as string;
    const existing = headers[lower];
    headers[lower] = existing === undefined ? value : `${existing}, ${value}`;
  }
  if (requestId !== undefined) headers['audit-id'] = requestId;
  return headers;
}

// ─── agents ───────────────────────────────────────────────────────────────────

let agentsByConnection = new WeakMap<UpstreamConnection, http.Agent>();
const agentsByIdentity = new Map<string, http.Agent>();
const MAX_AGENTS = 32;

/**
 * One keep-alive agent per TLS identity. Adapters usually hand out the same connection
 * object, so the WeakMap answers without hashing; a fresh object with the same TLS material
 * (a rotated token) finds its agent by identity.
 */
export function agentFor(connection: UpstreamConnection): http.Agent {
  const known = agentsByConnection.get(connection);
  if (known !== undefined) return known;
  const https_ = connection.server.protocol === 'https:';
  const key = [connection.server.protocol, connection.ca ?? '', connection.cert ?? '', connection.key ?? '', connection.tlsServerName ?? ''].join('\0');
  let agent = agentsByIdentity.get(key);
  if (agent === undefined) {
    const common = { keepAlive: true, keepAliveMsecs: 30_000, scheduling: 'lifo' as const };
    agent = https_
      ? new https.Agent({
          ...common,
          ca: connection.ca,
          cert: connection.cert,
          key: connection.key,
          servername: connection.tlsServerName,
          rejectUnauthorized: true,
        })
      : new http.Agent(common);
    if (agentsByIdentity.size >= MAX_AGENTS) {
      const oldest = agentsByIdentity.keys().next().value;
      if (oldest !== undefined) {
        agentsByIdentity.get(oldest)?.destroy();
        agentsByIdentity.delete(oldest);
      }
    }
    agentsByIdentity.set(key, agent);
  }
  agentsByConnection.set(connection, agent);
  return agent;
}

/** Closes every cached upstream agent (idle keep-alive sockets); for clean shutdowns and tests. */
export function closeUpstreamAgents(): void {
  for (const agent of agentsByIdentity.values()) agent.destroy();
  agentsByIdentity.clear();
  agentsByConnection = new WeakMap();
}

/** URL.hostname keeps IPv6 brackets; the socket layer wants them off. */
export function hostnameOf(url: URL): string {
  const host = url.hostname;
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
