/**
 * An exec, attach or port-forward from the forward stage's point of view: what to do before
 * the upstream request (which stream protocols to offer, the recording to open) and after its
 * 101 (check what the upstream chose, start the tunnel, register the live session).
 *
 * Contract:
 * - Only the stream protocols Gatehouse reads are offered upstream: WebSocket
 *   `v5.channel.k8s.io` / `v4.channel.k8s.io` for exec and attach, SPDY/3.1 with
 *   `v4.channel.k8s.io` … `channel.k8s.io` for exec and attach and `portforward.k8s.io` for
 *   port-forward. A client offering none of them, or a WebSocket port-forward, is refused
 *   (400; kubectl ≥1.30 then falls back to SPDY/3.1 by itself).
 * - The recording is opened (durably) before anything reaches the upstream: no recording, no
 *   session (503 naming why).
 * - An upstream 101 naming another protocol than those offered is refused (502), never carried.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { asGatehouseError, GatehouseError } from '../errors.ts';
import type { RecordingStore, StreamRecorder, StreamSessionInfo } from '../ports/recordings.ts';
import type { Clock, Decision, Identity, KubeRequest, StreamTarget } from '../types.ts';
import type { FrameSession, SessionShape } from './frame-session.ts';
import { describeCaller } from '../policy/describe-request.ts';
import type { PolicyEngine } from '../policy/policy.ts';
import { systemClock } from '../types.ts';
import { LiveSessions } from './live-sessions.ts';
import { SpdySession, SPDY_EXEC_PROTOCOLS, SPDY_PORT_FORWARD_PROTOCOLS } from './spdy-session.ts';
import { Tunnel, type TunnelEnd, type TunnelStats } from './tunnel.ts';
import { WsChannelSession, WS_EXEC_PROTOCOLS } from './ws-session.ts';

export interface StreamDeps {
  recordings: RecordingStore | undefined;
  sessions: LiveSessions;
  clock: Clock;
  /** Shared by every tunnel started with these deps. */
  stats?: TunnelStats;
  /** Why a port-forward stream to `port` may not be opened, or undefined when it may (policy, per port). */
  refusePort?(identity: Identity, request: KubeRequest, sessionDecision: Decision | undefined, port: number): string | undefined;
}

/** What an upgraded call is offered, for the forward stage (which imports none of this: the Lambda bundle carries no stream code). */
export interface StreamHandling {
  readonly sessions: LiveSessions;
  /** What the tunnels held at most (the memory bound, observed). */
  readonly stats: TunnelStats;
  prepare(call: StreamCall): Promise<PreparedStream>;
  /** Starts the tunnel; the promise settles when the session ended and its recording was written. */
  start(prepared: PreparedStream, client: { socket: Duplex; head: Buffer }, upstream: { response: IncomingMessage; socket: Duplex; head: Buffer }): Promise<TunnelEnd>;
  abandon(prepared: PreparedStream, reason: string): void;
}

export interface StreamCall {
  /** The routed cluster, on a deployment of several. */
  cluster: string | undefined;
  identity: Identity;
  request: KubeRequest;
  requestId: string;
  approvalId: string | undefined;
  decision: Decision | undefined;
  clientHeaders: readonly string[];
}

/**
 * The Node runtime's stream handling: recordings from `recordings` (none: every session is
 * refused, 503), per-port policy from `policy`, live sessions kept for terminate.
 */
export function createNodeStreams(options: { recordings: RecordingStore | undefined; policy: PolicyEngine; clock?: Clock; sessions?: LiveSessions }): StreamHandling {
  const stats: TunnelStats = { peakHeldBytes: 0 };
  const deps: StreamDeps = { recordings: options.recordings, sessions: options.sessions ?? new LiveSessions(), clock: options.clock ?? systemClock, stats, refusePort: portRefusal(options.policy) };
  return {
    sessions: deps.sessions,
    stats,
    prepare: (call) => prepareStream(deps, call),
    start: (prepared, client, upstream) => startStream(prepared, deps, client, upstream).ended,
    abandon: (prepared, reason) => abandonStream(prepared, reason, deps),
  };
}

/** A stream about to be asked of the upstream: its protocol family, what is offered, its recording. */
export interface PreparedStream {
  family: 'websocket' | 'spdy';
  target: StreamTarget;
  /** The client's headers with the protocol offer narrowed to what Gatehouse reads. */
  clientHeaders: string[];
  offered: readonly string[];
  recorder: StreamRecorder;
  startedAt: number;
  identity: Identity;
  request: KubeRequest;
  requestId: string;
  approvalId: string | undefined;
  decision: Decision | undefined;
}

const OFFER_HEADER = { websocket: 'sec-websocket-protocol', spdy: 'x-stream-protocol-version' } as const;

export async function prepareStream(
  deps: StreamDeps,
  call: StreamCall,
): Promise<PreparedStream> {
  const { identity, request } = call;
  const target = request.stream;
  if (target === undefined) throw new GatehouseError('ERR_UPGRADE_UNSUPPORTED', `${request.path} is not an exec, attach or port-forward`);
  const family = upgradeFamily(call.clientHeaders);
  const readable = family === 'websocket' ? (target.kind === 'portforward' ? [] : WS_EXEC_PROTOCOLS) : target.kind === 'portforward' ? SPDY_PORT_FORWARD_PROTOCOLS : SPDY_EXEC_PROTOCOLS;
  if (readable.length === 0) {
    throw new GatehouseError(
      'ERR_UPGRADE_UNSUPPORTED',
      `user "${identity.user}" asked for a port-forward over WebSocket; Gatehouse reads port-forward streams over SPDY/3.1 only (kubectl falls back to it by itself)`,
    );
  }
  const header = OFFER_HEADER[family];
  const asked: string[] = [];
  const clientHeaders: string[] = [];
  for (let i = 0; i + 1 < call.clientHeaders.length; i += 2) {
    const name = call.clientHeaders[i] as string;
    const value = call.clientHeaders[i + 1] as string;
    if (name.toLowerCase() === header) asked.push(...value.split(',').map((p) => p.trim()).filter((p) => p !== ''));
    else clientHeaders.push(name, value);
  }
  const offered = asked.filter((protocol, i) => readable.includes(protocol) && asked.indexOf(protocol) === i);
  if (offered.length === 0) {
    throw new GatehouseError(
      'ERR_UPGRADE_UNSUPPORTED',
      `user "${identity.user}" offered the stream protocols ${asked.length === 0 ? '(none)' : asked.join(', ')} for ${family === 'websocket' ? 'WebSocket' : 'SPDY/3.1'} ${target.kind}; Gatehouse reads only ${readable.join(', ')}`,
    );
  }
  // Go's WebSocket server reads one Sec-WebSocket-Protocol line, comma-separated; its SPDY
  // handshake compares whole X-Stream-Protocol-Version lines, one per protocol.
  if (family === 'websocket') clientHeaders.push(header, offered.join(', '));
  else for (const protocol of offered) clientHeaders.push(header, protocol);

  if (deps.recordings === undefined) {
    throw new GatehouseError('ERR_RECORD_UNAVAILABLE', `no recording store is configured, and Gatehouse carries no ${target.kind} it cannot record`);
  }
  const startedAt = deps.clock.now();
  const info: StreamSessionInfo = {
    requestId: call.requestId,
    ...(call.cluster === undefined ? {} : { cluster: call.cluster }),
    kind: target.kind,
    user: identity.user,
    namespace: request.namespace,
    pod: request.name,
    ...(target.container === '' ? {} : { container: target.container }),
    ...(target.kind === 'exec' ? { command: target.command } : {}),
    ...(target.kind === 'portforward' ? { ports: target.ports } : {}),
    tty: target.tty,
    startedAt: new Date(startedAt).toISOString(),
  };
  let recorder: StreamRecorder;
  try {
    recorder = await deps.recordings.open(info);
  } catch (error) {
    // The store's own refusal names the session and why; anything else is worded here.
    if (error instanceof GatehouseError && error.code === 'ERR_RECORD_UNAVAILABLE') throw error;
    const failure = asGatehouseError(error);
    throw new GatehouseError(
      'ERR_RECORD_UNAVAILABLE',
      `the ${target.kind} session of user "${identity.user}" into pod ${request.namespace}/${request.name} was not started: it could not be recorded (${failure.message})`,
      { cause: error },
    );
  }
  return { family, target, clientHeaders, offered, recorder, startedAt, identity, request, requestId: call.requestId, approvalId: call.approvalId, decision: call.decision };
}

/** The upstream declined to switch, or the client left first: the recording ends with why. */
export function abandonStream(prepared: PreparedStream, reason: string, deps: Pick<StreamDeps, 'clock'>): void {
  prepared.recorder.close(reason, deps.clock.now() - prepared.startedAt).catch((error: unknown) => {
    console.error(`gatehouse could not write the recording of a session that never started (${reason}):`, error);
  });
}

/**
 * After the upstream's 101: checks the protocol it chose, then writes the 101 to the client and
 * runs the tunnel. Throws (before the client saw anything) when the upstream chose a protocol
 * Gatehouse did not offer.
 */
export function startStream(
  prepared: PreparedStream,
  deps: StreamDeps,
  client: { socket: Duplex; head: Buffer },
  upstream: { response: IncomingMessage; socket: Duplex; head: Buffer },
): Tunnel {
  const chosen = headerValue(upstream.response, OFFER_HEADER[prepared.family]);
  const upgradeTo = (headerValue(upstream.response, 'upgrade') ?? '').toLowerCase();
  const expected = prepared.family === 'websocket' ? 'websocket' : 'spdy/3.1';
  if (chosen === undefined || !prepared.offered.includes(chosen) || upgradeTo !== expected) {
    upstream.socket.destroy();
    const reason = `the upstream switched to ${upgradeTo || 'nothing'} with stream protocol ${chosen ?? '(none)'}, not one Gatehouse offered (${prepared.offered.join(', ')})`;
    abandonStream(prepared, reason, deps);
    throw new GatehouseError('ERR_UPSTREAM_UNREACHABLE', reason);
  }
  const lines = [`HTTP/1.1 101 ${upstream.response.statusMessage || 'Switching Protocols'}`];
  const raw = upstream.response.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) lines.push(`${raw[i]}: ${raw[i + 1]}`);
  client.socket.write(`${lines.join('\r\n')}\r\n\r\n`);

  const elapsed = (): number => deps.clock.now() - prepared.startedAt;
  const { identity, request } = prepared;
  const shape: SessionShape = {
    kind: prepared.target.kind,
    protocol: chosen,
    recorder: prepared.recorder,
    elapsed,
    ...(deps.refusePort === undefined ? {} : { refusePort: (port: number) => deps.refusePort?.(identity, request, prepared.decision, port) }),
  };
  const session: FrameSession = prepared.family === 'websocket' ? new WsChannelSession(shape) : new SpdySession(shape);
  const tunnel = new Tunnel({
    client: client.socket,
    clientHead: client.head,
    upstream: upstream.socket,
    upstreamHead: upstream.head,
    session,
    recorder: prepared.recorder,
    elapsed,
    ...(deps.stats === undefined ? {} : { stats: deps.stats }),
  });
  const remove = deps.sessions.add({
    requestId: prepared.requestId,
    ...(prepared.approvalId === undefined ? {} : { approvalId: prepared.approvalId }),
    user: identity.user,
    terminate: (reason) => tunnel.terminate(reason),
  });
  void tunnel.ended.then((end: TunnelEnd) => {
    remove();
    return end;
  });
  tunnel.start();
  return tunnel;
}

function upgradeFamily(clientHeaders: readonly string[]): 'websocket' | 'spdy' {
  for (let i = 0; i + 1 < clientHeaders.length; i += 2) {
    if ((clientHeaders[i] as string).toLowerCase() === 'upgrade') return /^\s*websocket\s*$/i.test(clientHeaders[i + 1] as string) ? 'websocket' : 'spdy';
  }
  return 'spdy';
}

function headerValue(response: IncomingMessage, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Per-port policy of a SPDY port-forward, asked by the tunnel as each stream opens (the upgrade
 * names no port): the request is decided again with that one port. Allow forwards; deny is
 * refused with its reason; review is refused unless the session itself was approved
 * (the upgrade was decided with ports unknown, when port-bound review rules already asked).
 */
function portRefusal(policy: PolicyEngine): (identity: Identity, request: KubeRequest, sessionDecision: Decision | undefined, port: number) => string | undefined {
  return function refusePort(identity, request, sessionDecision, port) {
    const stream = request.stream;
    if (stream === undefined) return `port ${port}: not a port-forward`;
    const decision = policy.decide(identity, { ...request, stream: { ...stream, ports: [port] } });
    if (decision.effect === 'allow') return undefined;
    if (decision.effect === 'review' && sessionDecision?.effect === 'review') return undefined;
    const why = decision.effect === 'review' ? `${decision.reason}, and this port-forward was not approved` : decision.reason;
    return `${describeCaller(identity)} may not forward port ${port} of pod ${request.namespace}/${request.name}: ${why}`;
  };
}
