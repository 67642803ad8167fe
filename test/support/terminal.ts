/**
 * Runs a program in a pseudo-terminal for `kubectl exec -it` / `attach -it` tests: util-linux
 * `script` (Debian's bsdutils, always installed) gives the child a pty of a set size; what the
 * test writes to script's stdin reaches the program as typed keys, and the terminal's output
 * comes back on script's stdout. No native module needed.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface TerminalRun {
  /** Types bytes into the terminal. */
  type(text: string): void;
  /** Resolves with the output so far once it matches; rejects when the program exits first or time runs out. */
  waitFor(pattern: RegExp | string, timeoutMs?: number): Promise<string>;
  output(): string;
  /** Sends a signal to the program's process group leader (script). */
  kill(signal: NodeJS.Signals): void;
  exited: Promise<{ code: number | null; output: string }>;
  child: ChildProcess;
}

/** Single-quotes a word for sh. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function runInTerminal(argv: string[], options: { env: Record<string, string>; cols: number; rows: number; timeoutMs?: number }): TerminalRun {
  const command = `stty cols ${options.cols} rows ${options.rows}; exec ${argv.map(shellQuote).join(' ')}`;
  const child = spawn('script', ['-qfec', command, '/dev/null'], { env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (output += d));
  let done: { code: number | null; output: string } | undefined;
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  const exited = new Promise<{ code: number | null; output: string }>((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer);
      done = { code, output };
      resolve(done);
    });
  });
  return {
    child,
    exited,
    output: () => output,
    type(text) {
      child.stdin?.write(text);
    },
    kill(signal) {
      child.kill(signal);
    },
    waitFor(pattern, timeoutMs = 20_000) {
      const matches = (): boolean => (typeof pattern === 'string' ? output.includes(pattern) : pattern.test(output));
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (matches()) {
            stop();
            resolve(output);
          } else if (done !== undefined) {
            stop();
            reject(new Error(`${argv.join(' ')} exited (${done.code}) before printing ${String(pattern)}; output: ${JSON.stringify(output)}`));
          }
        };
        const timeout = setTimeout(() => {
          stop();
          reject(new Error(`${argv.join(' ')} did not print ${String(pattern)} within ${timeoutMs} ms; output: ${JSON.stringify(output)}`));
        }, timeoutMs);
        const onClose = (): void => {
          setImmediate(check);
        };
        const stop = (): void => {
          clearTimeout(timeout);
          child.stdout?.off('data', check);
          child.off('close', onClose);
        };
        child.stdout?.on('data', check);
        child.once('close', onClose);
        check();
      });
    },
  };
}
