/**
 * `pods/exec` over WebSocket, the way kubectl ≥1.30 runs it (`v5.channel.k8s.io`, falling
 * back to v4): after the 101, each binary message starts with a stream byte — from the
 * client 0 stdin, 4 terminal size, 255 "close this stream" (v5); from the server 1 stdout,
 * 2 stderr, 3 the final `Status` (Success, or Failure with reason NonZeroExitCode and the
 * exit code as a cause) — then the connection closes.
 *
 * The "container" is the built-in shell of shell.ts: a command runs at once; with stdin a
 * shell (`sh`, `bash`) reads it line by line as it arrives (with a TTY, as a terminal would),
 * and any other command gets the whole of stdin once the client closes it. A test can
 * replace what a command without stdin does (`ExecHandler`).
 * SPDY (kubectl ≤1.29) is served by spdy.ts.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { isTrue } from './exchange.ts';
import { isShell, runCommand, ShellSession, type ExecResult, type ShellContext } from './shell.ts';
import { podContainers, type KubeObject } from './store.ts';
import { isTar, runTar, type TarResult } from './tar.ts';
import { ApiError, badRequest } from './status.ts';
import { OPCODE, readWsMessages, websocketAccept, wsFrame } from './ws-frames.ts';

export type { ExecResult } from './shell.ts';

export type ExecHandler = (pod: KubeObject, container: string, command: string[]) => ExecResult;

const PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];

/** What `kubectl attach` attaches to: each stand-in container's main process is its built-in shell. */
const MAIN_PROCESS = ['sh'];

/** Checks the exec (or attach) request and picks the container; throws an ApiError the caller writes as HTTP. */
export function execTarget(pod: KubeObject, query: URLSearchParams, attach = false): { container: string; command: string[] } {
  const containers = podContainers(pod);
  const name = pod.metadata.name ?? '';
  let container = query.get('container') ?? '';
  if (container === '') {
    if (containers.length > 1) throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]`);
    container = containers[0] ?? '';
  } else if (!containers.includes(container)) throw badRequest(`container ${container} is not valid for pod ${name}`);
  const command = attach ? MAIN_PROCESS : query.getAll('command');
  if (command.length === 0) throw badRequest('you must specify at least 1 command');
  return { container, command };
}

/** The final Status of an exec, as the API server writes it on the error stream. */
export function exitStatus(exitCode: number): Record<string, unknown> {
  return exitCode === 0
    ? { metadata: {}, status: 'Success' }
    : {
        metadata: {},
        status: 'Failure',
        message: `command terminated with non-zero exit code: exit status ${exitCode}`,
        reason: 'NonZeroExitCode',
        details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
      };
}

/** One exec, whatever carries it (WebSocket here, SPDY in spdy.ts). */
export interface ExecStreams {
  write(stream: 1 | 2, data: string | Buffer): void;
  /** Writes the final Status and closes. */
  finish(exitCode: number): void;
}

/** Input side of a running exec: stdin bytes, and the end of stdin. */
export interface ExecInput {
  stdin(data: Buffer): void;
  endOfStdin(): void;
}

export interface ExecRequest {
  pod: KubeObject;
  container: string;
  command: string[];
  stdin: boolean;
  tty: boolean;
  context: ShellContext;
  /** Replaces what a command without stdin does (tests). */
  handler?: ExecHandler;
}

/**
 * A kubelet answers the upgrade before the container runtime has started the process, so the
 * first output frame comes milliseconds after the 101. kubectl 1.30–1.33 rely on that gap: their
 * WebSocket client reads frames before it has created its streams and drops what comes first
 * ("Unknown stream id 2, discarding message"; client-go race, fixed in 1.34 by
 * kubernetes/kubernetes#131203). A stand-in that answered in the same write as the 101 would
 * make those kubectl versions fail where a real cluster does not.
 */
const PROCESS_START_MS = 50;

/** Output leaves in pieces of at most this many bytes, as the kubelet's copy loop writes them. */
const OUTPUT_CHUNK_BYTES = 32 * 1024;

/** Runs an exec over any stream carrier; returns where its stdin goes. */
export function runExec(request: ExecRequest, streams: ExecStreams): ExecInput {
  const transcript = request.context.transcript;
  if (transcript === undefined) return runProcess(request, streams);
  const input = runProcess(request, {
    write(stream, data) {
      (stream === 1 ? transcript.stdout : transcript.stderr).push(Buffer.from(data));
      streams.write(stream, data);
    },
    finish: (exitCode) => streams.finish(exitCode),
  });
  return {
    stdin(data) {
      transcript.stdin.push(Buffer.from(data));
      input.stdin(data);
    },
    endOfStdin: () => input.endOfStdin(),
  };
}

function runProcess(request: ExecRequest, out: ExecStreams): ExecInput {
  const write = (stream: 1 | 2, data: string | Buffer | undefined): void => {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    if (bytes === undefined) return;
    for (let at = 0; at < bytes.length; at += OUTPUT_CHUNK_BYTES) out.write(stream, bytes.subarray(at, at + OUTPUT_CHUNK_BYTES));
  };
  const emit = (result: ExecResult | TarResult): void => {
    write(1, result.stdout);
    write(2, result.stderr);
    out.finish(result.exitCode ?? 0);
  };
  const ignore: ExecInput = { stdin: () => undefined, endOfStdin: () => undefined };
  if (isTar(request.command)) {
    if (!request.stdin) {
      emit(runTar(request.context, request.command, Buffer.alloc(0)));
      return ignore;
    }
    const archive: Buffer[] = [];
    let done = false;
    return {
      stdin: (data) => archive.push(Buffer.from(data)),
      endOfStdin() {
        if (done) return;
        done = true;
        emit(runTar(request.context, request.command, Buffer.concat(archive)));
      },
    };
  }
  if (!request.stdin) {
    emit(request.handler?.(request.pod, request.container, request.command) ?? runCommand(request.context, request.command));
    return ignore;
  }
  if (isShell(request.command) && request.command[1] !== '-c') {
    const session = new ShellSession(request.context, request.tty, (stream, text) => out.write(stream, text), (code) => out.finish(code));
    return { stdin: (data) => session.input(data), endOfStdin: () => session.endOfInput() };
  }
  const chunks: Buffer[] = [];
  let ended = false;
  return {
    stdin: (data) => chunks.push(data),
    endOfStdin() {
      if (ended) return;
      ended = true;
      emit(runCommand(request.context, request.command, Buffer.concat(chunks).toString('utf8')));
    },
  };
}

/** Answers the upgrade with 101 and runs the command over the WebSocket channel protocol. */
export function serveExec(
  req: IncomingMessage,
  socket: Duplex,
  pod: KubeObject,
  query: URLSearchParams,
  contextFor: (container: string) => ShellContext,
  handler?: ExecHandler,
  attach = false,
): void {
  const upgrade = (req.headers.upgrade ?? '').toLowerCase();
  if (upgrade !== 'websocket') throw new ApiError(400, 'BadRequest', `the stand-in speaks only WebSocket streams here, not ${req.headers.upgrade ?? 'nothing'}`);
  const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  const protocol = PROTOCOLS.find((p) => offered.includes(p));
  if (protocol === undefined) throw badRequest(`no supported stream protocol among: ${offered.join(', ')}`);
  const { container, command } = execTarget(pod, query, attach);
  const accept = websocketAccept(req.headers['sec-websocket-key'] ?? '');
  socket.write(
    ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${accept}`, `Sec-WebSocket-Protocol: ${protocol}`, '', ''].join('\r\n'),
  );
  let finished = false;
  const onStream = (stream: number, data: string | Buffer): Buffer => wsFrame(OPCODE.binary, Buffer.concat([Buffer.from([stream]), Buffer.from(data)]));
  const out: ExecStreams = {
    write(stream, data) {
      if (!finished && socket.writable) socket.write(onStream(stream, data));
    },
    finish(exitCode) {
      if (finished) return;
      finished = true;
      if (!socket.writable) return;
      socket.write(onStream(3, JSON.stringify(exitStatus(exitCode))));
      socket.write(wsFrame(OPCODE.close, Buffer.from([0x03, 0xe8])));
      setImmediate(() => socket.end());
    },
  };
  // Input that arrives while the process is starting waits for it, in order.
  const early: Array<(input: ExecInput) => void> = [];
  let input: ExecInput | undefined;
  const deliver = (step: (input: ExecInput) => void): void => (input === undefined ? void early.push(step) : step(input));
  setTimeout(() => {
    if (socket.destroyed) return;
    const started = runExec({ pod, container, command, stdin: isTrue(query.get('stdin')), tty: isTrue(query.get('tty')), context: contextFor(container), ...(handler === undefined ? {} : { handler }) }, out);
    input = started;
    for (const step of early.splice(0)) step(started);
  }, PROCESS_START_MS);
  socket.on('error', () => undefined);
  readWsMessages(
    socket,
    (message) => {
      const stream = message[0];
      if (stream === 0) {
        const data = message.subarray(1);
        deliver((i) => i.stdin(data));
      } else if (stream === 255 && message[1] === 0) deliver((i) => i.endOfStdin());
    },
    () => deliver((i) => i.endOfStdin()),
  );
}
