/**
 * One local Gatehouse per state folder. The DynamoDB stand-in keeps its database under the
 * state folder and cannot be opened twice, so a second `npm start` must stop before it
 * starts anything, saying which Gatehouse holds the folder.
 *
 * `<stateDir>/gatehouse.pid` holds `{pid, url, startedAt}`; it is created exclusively, and a
 * file left by a process that no longer runs is taken over. It is removed on close and on
 * any process exit (crash and process.exit included).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const INSTANCE_FILE = 'gatehouse.pid';

export interface InstanceLock {
  /** Records the URL once the listener is up, for the next one who tries. */
  setUrl(url: string): void;
  release(): void;
}

/** The folder is in use; the message names the running instance. */
export class InstanceRunningError extends Error {
  constructor(
    readonly stateDir: string,
    readonly pid: number,
    readonly url: string,
  ) {
    super(
      `Gatehouse is already running from the state folder ${stateDir} (PID ${pid}, ${url === '' ? 'still starting' : url}); ` +
        `stop it first (Ctrl-C in its terminal, or kill ${pid}), or start this one with another --state-dir`,
    );
    this.name = 'InstanceRunningError';
  }
}

interface Holder {
  pid: number;
  url: string;
  startedAt: string;
}

/** Paths this process holds: its own pid in the file means "running" only if it holds it. */
const held = new Set<string>();

function isRunning(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(path: string): Holder | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<Holder>;
    if (typeof parsed.pid !== 'number') return undefined;
    return { pid: parsed.pid, url: typeof parsed.url === 'string' ? parsed.url : '', startedAt: String(parsed.startedAt ?? '') };
  } catch {
    return undefined;
  }
}

export function acquireInstanceLock(stateDir: string): InstanceLock {
  const path = join(stateDir, INSTANCE_FILE);
  if (held.has(path)) throw new InstanceRunningError(stateDir, process.pid, readHolder(path)?.url ?? '');
  const holder: Holder = { pid: process.pid, url: '', startedAt: new Date().toISOString() };
  const write = (flag: 'wx' | 'w'): void => writeFileSync(path, `${JSON.stringify(holder)}\n`, { flag, mode: 0o600 });
  try {
    write('wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const other = readHolder(path);
    if (other !== undefined && isRunning(other.pid)) throw new InstanceRunningError(stateDir, other.pid, other.url);
    // Left behind by a Gatehouse that no longer runs (killed, machine restarted).
    rmSync(path, { force: true });
    write('wx');
  }
  held.add(path);
  const remove = (): void => {
    if (!held.delete(path)) return;
    if (readHolder(path)?.pid === process.pid) rmSync(path, { force: true });
  };
  process.once('exit', remove);
  return {
    setUrl(url) {
      holder.url = url;
      if (held.has(path)) write('w');
    },
    release() {
      process.removeListener('exit', remove);
      remove();
    },
  };
}
