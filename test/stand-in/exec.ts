/**
 * `pods/exec` over WebSocket, the way kubectl ≥1.30 runs it (`v5.channel.k8s.io`, falling
 * back to v4): after the 101, each binary message starts with a stream byte — 1 stdout,
 * 2 stderr, 3 the final `Status` (Success, or Failure with reason NonZeroExitCode and the
 * exit code as a cause) — then the connection closes. The "container" runs a tiny command
 * set (`echo`, `hostname`, `cat` of stdin is not supported); a test can supply its own.
 * SPDY (kubectl ≤1.29) is not spoken: such upgrades get a 400 Status.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { podContainers, type KubeObject } from './store.ts';
import { ApiError, badRequest } from './status.ts';

export interface ExecResult {
  stdout?: string;
  stderr?: string;
  exitCode?: number;
}

export type ExecHandler = (pod: KubeObject, container: string, command: string[]) => ExecResult;

export const defaultExec: ExecHandler = (pod, _container, command) => {
  const [program, ...args] = command;
  if (program === 'echo') return { stdout: `${args.join(' ')}\n` };
  if (program === 'hostname') return { stdout: `${pod.metadata.name ?? ''}\n` };
  if (program === 'false') return { exitCode: 1 };
  return { stderr: `sh: ${program ?? ''}: not found\n`, exitCode: 127 };
};

const PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (RFC 6455 §4.2.2). */
export function websocketAccept(key: string): string {
  return createHash('sha1').update(`${key}${WEBSOCKET_GUID}`).digest('base64');
}

export function frame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const header =
    length < 126
      ? Buffer.from([0x80 | opcode, length])
      : length < 65536
        ? Buffer.from([0x80 | opcode, 126, length >> 8, length & 0xff])
        : Buffer.concat([Buffer.from([0x80 | opcode, 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(length)); return b; })()]);
  return Buffer.concat([header, payload]);
}

const onStream = (stream: number, data: string | Buffer): Buffer => frame(0x2, Buffer.concat([Buffer.from([stream]), Buffer.from(data)]));

/** Checks the exec request and picks the container; throws an ApiError the caller writes as HTTP. */
export function execTarget(pod: KubeObject, query: URLSearchParams): { container: string; command: string[] } {
  const containers = podContainers(pod);
  const name = pod.metadata.name ?? '';
  let container = query.get('container') ?? '';
  if (container === '') {
    if (containers.length > 1) throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]`);
    container = containers[0] ?? '';
  } else if (!containers.includes(container)) throw badRequest(`container ${container} is not valid for pod ${name}`);
  const command = query.getAll('command');
  if (command.length === 0) throw badRequest('you must specify at least 1 command');
  return { container, command };
}

/** Answers the upgrade with 101 and runs the command over the WebSocket channel protocol. */
export function serveExec(req: IncomingMessage, socket: Duplex, pod: KubeObject, query: URLSearchParams, run: ExecHandler): void {
  const upgrade = (req.headers.upgrade ?? '').toLowerCase();
  if (upgrade !== 'websocket') throw new ApiError(400, 'BadRequest', `the stand-in speaks only WebSocket streams, not ${req.headers.upgrade ?? 'nothing'}`);
  const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  const protocol = PROTOCOLS.find((p) => offered.includes(p));
  if (protocol === undefined) throw badRequest(`no supported stream protocol among: ${offered.join(', ')}`);
  const { container, command } = execTarget(pod, query);
  const accept = websocketAccept(req.headers['sec-websocket-key'] ?? '');
  socket.write(
    ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${accept}`, `Sec-WebSocket-Protocol: ${protocol}`, '', ''].join('\r\n'),
  );
  const result = run(pod, container, command);
  if (result.stdout !== undefined && result.stdout !== '') socket.write(onStream(1, result.stdout));
  if (result.stderr !== undefined && result.stderr !== '') socket.write(onStream(2, result.stderr));
  const exitCode = result.exitCode ?? 0;
  const status =
    exitCode === 0
      ? { metadata: {}, status: 'Success' }
      : {
          metadata: {},
          status: 'Failure',
          message: `command terminated with non-zero exit code: exit status ${exitCode}`,
          reason: 'NonZeroExitCode',
          details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
        };
  socket.write(onStream(3, JSON.stringify(status)));
  socket.write(frame(0x8, Buffer.from([0x03, 0xe8])));
  socket.on('data', () => undefined);
  socket.on('error', () => undefined);
  setImmediate(() => socket.end());
}
