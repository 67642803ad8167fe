/**
 * Child processes of the bench (upstream, S3 emulator, Gatehouse, kubectl proxy): started,
 * awaited until they announce themselves, and always stopped — by the bench when it is done,
 * and by an exit/signal hook when it fails or is interrupted.
 *
 * A TypeScript child is built first (esbuild, as scripts/build.mjs builds the CLI) and runs as
 * JavaScript with source maps, so the bench measures the code as it ships, with no loader.
 * It announces itself with one JSON line on stdout (`announce(value)`); an
 * external program (kubectl proxy) with a line matching a pattern.
 */
import { spawn } from 'node:child_process';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { reapOnExit } from '../test/support/child-reaper.ts';

export interface Child<T> {
  name: string;
  pid: number;
  ready: T;
  /** Everything the child announced, the ready value first (a child may report more, e.g. when it stops). */
  announcements: unknown[];
  /** What the child wrote on stderr (last 64 KB), for error messages. */
  stderr(): string;
  stop(): Promise<void>;
}

/** The prefix of the one stdout line a TypeScript child writes when it is ready. */
const READY_PREFIX = 'BENCH-READY ';

/** Called by a child entry point once it serves. */
export function announce(value: unknown): void {
  process.stdout.write(`${READY_PREFIX}${JSON.stringify(value)}\n`);
}

const built = new Map<string, Promise<string>>();

/**
 * Builds `bench/<entry>` into dist/bench/ (once per bench run): packages stay in node_modules,
 * and the output sits two folders deep like src/, so the sources' `new URL('../../…')` paths hold.
 */
function buildChild(entry: string): Promise<string> {
  const source = fileURLToPath(new URL(entry, import.meta.url));
  const outfile = fileURLToPath(new URL(`../dist/bench/${basename(source, '.ts')}.js`, import.meta.url));
  let output = built.get(outfile);
  if (output === undefined) {
    output = build({ entryPoints: [source], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', sourcemap: 'linked', logLevel: 'warning' }).then(() => outfile);
    built.set(outfile, output);
  }
  return output;
}

/** Starts `bench/<entry>`, built, and resolves what it announced. */
export async function startTsChild<T>(
  name: string,
  entry: string,
  args: string[] = [],
  options: { env?: NodeJS.ProcessEnv; nodeOptions?: string[] } = {},
): Promise<Child<T>> {
  const file = await buildChild(entry);
  return startChild(name, process.execPath, [...(options.nodeOptions ?? []), '--enable-source-maps', file, ...args], parseAnnouncement as (line: string) => T | undefined, options);
}

function parseAnnouncement(line: string): unknown {
  return line.startsWith(READY_PREFIX) ? JSON.parse(line.slice(READY_PREFIX.length)) : undefined;
}

/** Starts any program; `parseReady` turns a stdout/stderr line into the ready value (undefined: not yet). */
export function startChild<T>(
  name: string,
  command: string,
  args: string[],
  parseReady: (line: string) => T | undefined,
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<Child<T>> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
  reapOnExit(child);
  let stderr = '';
  let exited = false;
  const announcements: unknown[] = [];
  const exitedPromise = new Promise<void>((resolve) => child.once('exit', () => {
    exited = true;
    resolve();
  }));

  const stop = async (): Promise<void> => {
    if (exited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exitedPromise;
    clearTimeout(timer);
  };

  return new Promise((resolve, reject) => {
    let settled = false;
    const timeout = setTimeout(() => fail(new Error(`${name} did not start within ${(options.timeoutMs ?? 30000) / 1000}s`)), options.timeoutMs ?? 30000);
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timeout);
      void stop().then(() => reject(new Error(`${error.message}\n--- ${name} stderr ---\n${stderr.slice(-4000)}`)));
    };
    const onLine = (line: string): void => {
      if (settled) {
        const later = parseAnnouncement(line);
        if (later !== undefined) announcements.push(later);
        return;
      }
      let ready: T | undefined;
      try {
        ready = parseReady(line);
      } catch (error) {
        fail(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      if (ready === undefined) return;
      settled = true;
      clearTimeout(timeout);
      announcements.push(ready);
      resolve({ name, pid: child.pid ?? -1, ready, announcements, stderr: () => stderr, stop });
    };
    lines(child.stdout, onLine);
    lines(child.stderr, (line) => {
      stderr = (stderr + line + '\n').slice(-65536);
      onLine(line);
    });
    child.once('error', (error) => fail(error));
    child.once('exit', (code, signal) => fail(new Error(`${name} exited (${signal ?? `code ${code}`}) before it was ready`)));
  });
}

function lines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (stream === null) return;
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    pending += chunk;
    let newline = pending.indexOf('\n');
    while (newline !== -1) {
      onLine(pending.slice(0, newline));
      pending = pending.slice(newline + 1);
      newline = pending.indexOf('\n');
    }
  });
}
