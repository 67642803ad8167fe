/**
 * Child processes that must not outlive the test or bench process that started them (etcd,
 * kube-apiserver, bench fronts): each is SIGKILLed when this process exits, or when it is
 * stopped by SIGINT, SIGTERM or SIGHUP (then it exits 128 + the signal's number).
 */
import type { ChildProcess } from 'node:child_process';

const running = new Set<ChildProcess>();
let hooked = false;

/** Kills `child` with this process unless it has exited (or failed to start) first. */
export function reapOnExit(child: ChildProcess): void {
  hookExit();
  running.add(child);
  const forget = (): void => void running.delete(child);
  child.once('exit', forget);
  child.once('error', forget);
}

/** Whether `child` (passed to reapOnExit) has neither exited nor failed to start. */
export function stillRunning(child: ChildProcess): boolean {
  return running.has(child);
}

const SIGNAL_NUMBERS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  const killAll = (): void => {
    for (const child of running) child.kill('SIGKILL');
  };
  process.once('exit', killAll);
  for (const signal of Object.keys(SIGNAL_NUMBERS) as (keyof typeof SIGNAL_NUMBERS)[]) {
    process.once(signal, () => {
      killAll();
      process.exit(128 + SIGNAL_NUMBERS[signal]);
    });
  }
}
