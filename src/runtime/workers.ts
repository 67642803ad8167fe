/**
 * Several Node processes serving one Gatehouse (node:cluster), so a self-hosted Gatehouse
 * uses every core: each worker builds the same app from the same configuration and listens
 * on the same ports (the primary shares the listening sockets; port 0 gives all workers the
 * same free port).
 *
 * Contract: `runPrimary(count)` in the primary forks `count` workers, which re-run the same
 * command line; it resolves with the exit code to use — the first failing worker's code when
 * a worker exits before it is serving (its own message is already printed), else 0 after
 * SIGINT/SIGTERM closed every worker. Workers call `workerReady()` once they serve and
 * `onShutdown(stop)` to be told to close. The primary also relays the approval page's questions
 * about live sessions between workers (src/runtime/worker-sessions.ts).
 */
import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import { sessionRelay } from './worker-sessions.ts';

const READY = 'gatehouse:ready';
const SHUTDOWN = 'gatehouse:shutdown';

export function isWorker(): boolean {
  return cluster.isWorker;
}

/** 1 in the primary or a single process; the worker's number (1…N) in a worker. */
export function workerNumber(): number {
  return cluster.worker?.id ?? 1;
}

export function runPrimary(count: number, log: (line: string) => void = console.log): Promise<number> {
  return new Promise((resolve) => {
    const workers = new Set<Worker>();
    const serving = new Set<Worker>();
    let ready = 0;
    let stopping = false;
    let exitCode = 0;
    const relay = sessionRelay(serving);

    /** Serving workers close cleanly; one still starting is simply terminated. */
    const stopAll = (): void => {
      if (stopping) return;
      stopping = true;
      for (const worker of workers) {
        if (serving.has(worker) && worker.isConnected()) worker.send(SHUTDOWN);
        else worker.kill();
      }
    };

    for (let i = 0; i < count; i += 1) {
      const worker = cluster.fork();
      workers.add(worker);
      worker.on('message', (message: unknown) => {
        if (message !== READY) {
          relay.fromWorker(worker, message);
          return;
        }
        serving.add(worker);
        ready += 1;
        if (ready === count) log(`  workers: ${count} processes (pids ${[...workers].map((w) => w.process.pid).join(', ')})`);
      });
      worker.once('exit', (code, signal) => {
        workers.delete(worker);
        serving.delete(worker);
        relay.exited(worker);
        if (!stopping) {
          // A worker that dies takes the whole Gatehouse down: a half-capacity server that
          // looks healthy is worse than a clear failure a supervisor restarts.
          exitCode = code === null || code === 0 ? 1 : code;
          if (ready === count) log(`worker ${worker.process.pid} exited (${signal ?? code}); closing Gatehouse`);
          stopAll();
        }
        if (workers.size === 0) resolve(exitCode);
      });
    }
    process.once('SIGINT', stopAll);
    process.once('SIGTERM', stopAll);
  });
}

/** Tells the primary this worker serves. */
export function workerReady(): void {
  process.send?.(READY);
}

/** Runs `stop` when the primary asks this worker to close. */
export function onShutdown(stop: () => void): void {
  process.on('message', (message: unknown) => {
    if (message === SHUTDOWN) stop();
  });
}
