/** Shared pieces of the stream tests: the pod, finding recordings and transcripts, kubectl in a terminal, a request over a forwarded port. */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { SessionRecord } from '../../src/records/schema.ts';
import type { ExecTranscript } from '../stand-in/shell.ts';
import { after, before } from 'node:test';
import { kubectlBinary, startHarness, type Harness } from '../support/harness.ts';
import { channelBytes, type RecordedSession } from '../support/memory-recordings.ts';

export const minor = (version: string): number => Number(version.split('.')[1]);

export function streamPod(name: string): Parameters<Harness['api']['store']['put']>[0] {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { app: name }, creationTimestamp: '2025-06-01T11:55:00Z' },
    spec: { nodeName: 'node-1', containers: [{ name: 'main', image: 'busybox:1.36', stdin: true, tty: true, ports: [{ containerPort: 8080 }, { containerPort: 5432 }] }] },
    status: { phase: 'Running', podIP: '10.0.0.9', containerStatuses: [{ name: 'main', image: 'busybox:1.36', ready: true, restartCount: 0, state: { running: { startedAt: '2025-06-01T11:55:00Z' } } }] },
  };
}

/** The stand-in's transcript of the exec whose command starts with `program` (the latest one). */
export function transcriptOf(h: Harness, from: number, program: string): ExecTranscript {
  const found = h.api.transcripts.slice(from).filter((t) => t.command[0] === program);
  const last = found[found.length - 1];
  assert.ok(last !== undefined, `the stand-in ran ${program}; it ran: ${h.api.transcripts.slice(from).map((t) => t.command.join(' ')).join(' | ')}`);
  return last;
}

/** The recorded session whose command starts with `program` (the latest one), once it closed. */
export async function recordingOf(h: Pick<Harness, 'recordings'>, from: number, program: string): Promise<RecordedSession> {
  const found = h.recordings.sessions.slice(from).filter((s) => (s.info.command?.[0] ?? s.info.kind) === program);
  const last = found[found.length - 1];
  assert.ok(last !== undefined, `a recording of ${program}; recorded: ${h.recordings.sessions.slice(from).map((s) => s.info.command?.join(' ') ?? s.info.kind).join(' | ')}`);
  await last.whenClosed;
  return last;
}

/** The recording holds exactly what the process read and wrote. */
export function assertSameBytes(recording: RecordedSession, transcript: ExecTranscript): void {
  assert.deepEqual(channelBytes(recording, 'stdin'), Buffer.concat(transcript.stdin), 'stdin, byte for byte');
  assert.deepEqual(channelBytes(recording, 'stdout'), Buffer.concat(transcript.stdout), 'stdout, byte for byte');
  assert.deepEqual(channelBytes(recording, 'stderr'), Buffer.concat(transcript.stderr), 'stderr, byte for byte');
}

/** kubectl with this harness's kubeconfig and cache, as argv for a terminal. */
export function kubectlArgv(h: Harness, version: string, args: string[]): string[] {
  return [kubectlBinary(version), '--kubeconfig', h.kubeconfigPath, '--cache-dir', join(h.dir, 'home', 'cache'), ...args];
}

export function terminalEnv(h: Harness): Record<string, string> {
  return { PATH: process.env['PATH'] ?? '', HOME: join(h.dir, 'home'), TERM: 'xterm' };
}

/** One HTTP request over a forwarded local port (then the sending half closes); resolves with exactly the bytes sent and received. */
export function httpOverPort(port: number, path: string): Promise<{ sent: Buffer; received: Buffer }> {
  const sent = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1', () => socket.end(sent));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve({ sent, received: Buffer.concat(chunks) }));
  });
}

export async function waitUntil(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The stand-in (with pod "web") and a Gatehouse under `policy`, started before a file's tests and closed after; `h` once started. */
export function streamHarness(policy: string): { readonly h: Harness } {
  let started: Harness | undefined;
  before(async () => {
    started = await startHarness({ policy });
    started.api.store.put(streamPod('web'));
  });
  after(async () => {
    await started?.close();
  });
  return {
    get h(): Harness {
      if (started === undefined) throw new Error('the stream harness is not started yet');
      return started;
    },
  };
}

/** The outcome record of a call, once written (a stream's is written when the session ended, just after its recording closed). */
export async function recordOf(h: Harness, requestId: string): Promise<SessionRecord | undefined> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const found = (await h.records()).find((r) => r.phase === 'outcome' && r.request_id === requestId);
    if (found !== undefined || Date.now() > deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
