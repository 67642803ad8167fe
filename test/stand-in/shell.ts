/**
 * The "container" behind the stand-in's `kubectl exec`: a tiny built-in shell, not a real
 * process. It knows `echo`, `ls`, `cat`, `env`, `printenv`, `pwd`, `cd`, `hostname`,
 * `whoami`, `id`, `uname`, `date`, `true`, `false`, `help` and `exit`, with `$VAR`
 * expansion and simple quotes. Its file system is made from the pod: `/etc/hostname`, and
 * every ConfigMap or Secret volume the container mounts (read from the store, so a Secret's
 * values are visible here — which is why exec into production is reviewed). Its environment
 * is the container's `env` (Secret and ConfigMap references resolved).
 *
 * Run one command (`kubectl exec pod -- ls /`) with `runCommand`, or a session
 * (`kubectl exec -it pod -- sh`) with `ShellSession`, which reads stdin as it arrives; with
 * a TTY it also does a terminal's line discipline (echo, backspace, Ctrl-C, Ctrl-D).
 */
import type { FakeStore, KubeObject } from './store.ts';

export interface ExecResult {
  stdout?: string;
  stderr?: string;
  exitCode?: number;
}

export interface ShellContext {
  hostname: string;
  env: Record<string, string>;
  /** Absolute path → content. Directories are implied by the paths. */
  files: Map<string, string | Buffer>;
  /** Where files written in the container are kept for its later execs (`kubectl cp` into it). */
  written?: Map<string, Buffer>;
  /** Where the exec notes every byte its process read and wrote (tests compare recordings with it). */
  transcript?: ExecTranscript;
}

/** What one exec's process read on stdin and wrote on stdout and stderr, in order, as it happened. */
export interface ExecTranscript {
  container: string;
  command: string[];
  stdin: Buffer[];
  stdout: Buffer[];
  stderr: Buffer[];
}

interface ContainerSpec {
  name?: string;
  image?: string;
  env?: { name?: string; value?: string; valueFrom?: { secretKeyRef?: { name?: string; key?: string }; configMapKeyRef?: { name?: string; key?: string } } }[];
  volumeMounts?: { name?: string; mountPath?: string }[];
}

interface VolumeSpec {
  name?: string;
  configMap?: { name?: string };
  secret?: { secretName?: string };
}

/** What the shell sees inside one container of a pod, read from the store now. */
export function shellContext(store: FakeStore, pod: KubeObject, container: string): ShellContext {
  const namespace = pod.metadata.namespace ?? 'default';
  const hostname = pod.metadata.name ?? '';
  const spec = (pod.spec ?? {}) as { containers?: ContainerSpec[]; volumes?: VolumeSpec[] };
  const c = spec.containers?.find((entry) => entry.name === container) ?? {};
  const dataOf = (resource: 'configmaps' | 'secrets', name: string | undefined): Record<string, string> => {
    const object = name === undefined ? undefined : store.get(resource, namespace, name);
    const data = (object?.['data'] ?? {}) as Record<string, string>;
    if (resource === 'configmaps') return data;
    return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  };
  const env: Record<string, string> = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOSTNAME: hostname, HOME: '/root' };
  for (const entry of c.env ?? []) {
    if (entry.name === undefined) continue;
    const ref = entry.valueFrom?.secretKeyRef ?? entry.valueFrom?.configMapKeyRef;
    const resource = entry.valueFrom?.secretKeyRef !== undefined ? 'secrets' : 'configmaps';
    env[entry.name] = ref === undefined ? (entry.value ?? '') : (dataOf(resource, ref.name)[ref.key ?? ''] ?? '');
  }
  const files = new Map<string, string | Buffer>([
    ['/etc/hostname', `${hostname}\n`],
    ['/etc/os-release', 'PRETTY_NAME="Gatehouse demo container (a built-in shell, not a real process)"\n'],
  ]);
  for (const mount of c.volumeMounts ?? []) {
    const volume = spec.volumes?.find((v) => v.name === mount.name);
    const base = (mount.mountPath ?? '').replace(/\/+$/, '');
    if (volume === undefined || base === '') continue;
    const data = volume.configMap !== undefined ? dataOf('configmaps', volume.configMap.name) : volume.secret !== undefined ? dataOf('secrets', volume.secret.secretName) : {};
    for (const [key, value] of Object.entries(data)) files.set(`${base}/${key}`, value);
  }
  return { hostname, env, files };
}

/** Splits a command line into words: whitespace, '…', "…" and $VAR / ${VAR}. */
function words(line: string, env: Record<string, string>): string[] {
  const out: string[] = [];
  let current = '';
  let started = false;
  let quote: '' | "'" | '"' = '';
  for (let i = 0; i < line.length; i += 1) {
    const ch = line[i] as string;
    if (quote === "'") {
      if (ch === "'") quote = '';
      else current += ch;
      continue;
    }
    if (ch === '$' && /[A-Za-z_{]/.test(line[i + 1] ?? '')) {
      const match = /^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/.exec(line.slice(i));
      if (match !== null) {
        current += env[match[1] ?? match[2] ?? ''] ?? '';
        started = true;
        i += match[0].length - 1;
        continue;
      }
    }
    if (quote === '"') {
      if (ch === '"') quote = '';
      else current += ch;
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      started = true;
    } else if (/\s/.test(ch)) {
      if (started) out.push(current);
      current = '';
      started = false;
    } else {
      current += ch;
      started = true;
    }
  }
  if (started) out.push(current);
  return out;
}

const HELP = 'built-in commands: echo, ls, cat, env, printenv, pwd, cd, hostname, whoami, id, uname, date, true, false, help, exit\n';

/** Shell state that outlives one command: the working directory. */
interface ShellState {
  cwd: string;
}

function absolute(state: ShellState, path: string): string {
  const joined = path.startsWith('/') ? path : `${state.cwd}/${path}`;
  const parts: string[] = [];
  for (const part of joined.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}

/** Entries directly under a directory, or undefined when nothing is there. */
function listDirectory(ctx: ShellContext, dir: string): string[] | undefined {
  const prefix = dir === '/' ? '/' : `${dir}/`;
  const names = new Set<string>();
  for (const path of ctx.files.keys()) {
    if (path.startsWith(prefix)) names.add(path.slice(prefix.length).split('/')[0] as string);
  }
  return names.size === 0 ? undefined : [...names].sort();
}

function execute(ctx: ShellContext, state: ShellState, argv: string[], stdin: string): ExecResult & { exit?: boolean } {
  const [program = '', ...args] = argv;
  switch (program) {
    case '':
      return {};
    case 'echo':
      return args[0] === '-n' ? { stdout: args.slice(1).join(' ') } : { stdout: `${args.join(' ')}\n` };
    case 'true':
      return {};
    case 'false':
      return { exitCode: 1 };
    case 'hostname':
      return { stdout: `${ctx.hostname}\n` };
    case 'whoami':
      return { stdout: 'root\n' };
    case 'id':
      return { stdout: 'uid=0(root) gid=0(root) groups=0(root)\n' };
    case 'uname':
      return { stdout: args.includes('-a') ? `Linux ${ctx.hostname} 6.1.0-gatehouse-demo #1 SMP x86_64 GNU/Linux\n` : 'Linux\n' };
    case 'date':
      return { stdout: `${new Date().toUTCString()}\n` };
    case 'pwd':
      return { stdout: `${state.cwd}\n` };
    case 'help':
      return { stdout: HELP };
    case 'env':
      return { stdout: Object.entries(ctx.env).map(([k, v]) => `${k}=${v}\n`).join('') };
    case 'printenv': {
      if (args.length === 0) return execute(ctx, state, ['env'], stdin);
      const found = args.filter((name) => ctx.env[name] !== undefined).map((name) => `${ctx.env[name]}\n`);
      return { stdout: found.join(''), exitCode: found.length === args.length ? 0 : 1 };
    }
    case 'cd': {
      const target = absolute(state, args[0] ?? ctx.env['HOME'] ?? '/');
      if (target !== '/' && listDirectory(ctx, target) === undefined) return { stderr: `sh: cd: ${args[0] ?? ''}: No such file or directory\n`, exitCode: 1 };
      state.cwd = target;
      return {};
    }
    case 'ls': {
      const targets = args.filter((a) => !a.startsWith('-'));
      let stdout = '';
      let stderr = '';
      for (const target of targets.length === 0 ? ['.'] : targets) {
        const path = absolute(state, target);
        if (ctx.files.has(path)) {
          stdout += `${target}\n`;
          continue;
        }
        const entries = listDirectory(ctx, path);
        if (entries === undefined && path !== '/') stderr += `ls: cannot access '${target}': No such file or directory\n`;
        else stdout += (targets.length > 1 ? `${target}:\n` : '') + (entries ?? []).map((e) => `${e}\n`).join('');
      }
      return { stdout, stderr, exitCode: stderr === '' ? 0 : 2 };
    }
    case 'cat': {
      if (args.length === 0) return { stdout: stdin };
      let stdout = '';
      let stderr = '';
      for (const target of args) {
        const content = ctx.files.get(absolute(state, target));
        if (content === undefined) stderr += `cat: ${target}: ${listDirectory(ctx, absolute(state, target)) === undefined ? 'No such file or directory' : 'Is a directory'}\n`;
        else stdout += typeof content === 'string' ? content : content.toString('utf8');
      }
      return { stdout, stderr, exitCode: stderr === '' ? 0 : 1 };
    }
    case 'test': {
      // `kubectl cp` asks `test -d DEST` first.
      const [flag = '', target = ''] = args;
      const path = absolute(state, target);
      const isDirectory = path === '/' || listDirectory(ctx, path) !== undefined;
      const holds = flag === '-d' ? isDirectory : flag === '-f' ? ctx.files.has(path) : flag === '-e' ? isDirectory || ctx.files.has(path) : false;
      return { exitCode: holds ? 0 : 1 };
    }
    case 'exit': {
      const code = Number(args[0] ?? '0');
      return { exit: true, exitCode: Number.isInteger(code) ? code : 2 };
    }
    default:
      return { stderr: `sh: ${program}: not found\n`, exitCode: 127 };
  }
}

/** Runs one command (`kubectl exec pod -- cmd args…`); `sh -c "…"` runs its script line by line. */
export function runCommand(ctx: ShellContext, argv: string[], stdin = ''): ExecResult {
  const state: ShellState = { cwd: '/' };
  if (isShell(argv) && argv[1] === '-c') return runScript(ctx, state, argv[2] ?? '');
  if (isShell(argv)) return runScript(ctx, state, stdin);
  return execute(ctx, state, argv, stdin);
}

/** `sh`, `/bin/sh`, `bash`, `/bin/bash`, `ash`: what kubectl users type for a shell. */
export function isShell(argv: string[]): boolean {
  return /^(?:\/(?:usr\/)?bin\/)?(?:sh|bash|ash)$/.test(argv[0] ?? '');
}

function runScript(ctx: ShellContext, state: ShellState, script: string): ExecResult {
  let stdout = '';
  let stderr = '';
  let exitCode = 0;
  for (const line of script.split(/[\n;]/)) {
    const result = execute(ctx, state, words(line, ctx.env), '');
    stdout += result.stdout ?? '';
    stderr += result.stderr ?? '';
    exitCode = result.exitCode ?? 0;
    if (result.exit === true) break;
  }
  return { stdout, stderr, exitCode };
}

/**
 * An interactive shell over a stream (`kubectl exec -i[t] pod -- sh`). Output goes through
 * `write` (1 stdout, 2 stderr; with a TTY everything is stdout and newlines are CRLF), and
 * `done` runs once with the exit code when the shell exits or its input ends.
 */
export class ShellSession {
  private readonly state: ShellState = { cwd: '/' };
  private line = '';
  private finished = false;
  private lastExit = 0;

  constructor(
    private readonly ctx: ShellContext,
    private readonly tty: boolean,
    private readonly write: (stream: 1 | 2, text: string) => void,
    private readonly done: (exitCode: number) => void,
  ) {
    if (tty) this.prompt();
  }

  /** Bytes typed (TTY) or piped (no TTY) into the shell. */
  input(data: Buffer): void {
    for (const ch of data.toString('utf8')) {
      if (this.finished) return;
      if (!this.tty) {
        if (ch === '\n') this.runLine();
        else this.line += ch;
        continue;
      }
      if (ch === '\r' || ch === '\n') {
        this.write(1, '\r\n');
        this.runLine();
        if (!this.finished) this.prompt();
      } else if (ch === '\x7f' || ch === '\b') {
        if (this.line.length > 0) {
          this.line = this.line.slice(0, -1);
          this.write(1, '\b \b');
        }
      } else if (ch === '\x03') {
        this.line = '';
        this.write(1, '^C\r\n');
        this.prompt();
      } else if (ch === '\x04') {
        if (this.line === '') {
          this.write(1, 'exit\r\n');
          this.finish(this.lastExit);
        }
      } else if (ch >= ' ' || ch === '\t') {
        this.line += ch;
        this.write(1, ch);
      }
    }
  }

  /** stdin closed: a shell reading a pipe ends here. */
  endOfInput(): void {
    if (this.line !== '') this.runLine();
    this.finish(this.lastExit);
  }

  private prompt(): void {
    this.write(1, `${this.ctx.hostname}:${this.state.cwd}# `);
  }

  private runLine(): void {
    const result = execute(this.ctx, this.state, words(this.line, this.ctx.env), '');
    this.line = '';
    const out = (text: string | undefined): string => (text === undefined ? '' : this.tty ? text.replace(/\n/g, '\r\n') : text);
    if ((result.stdout ?? '') !== '') this.write(1, out(result.stdout));
    if ((result.stderr ?? '') !== '') this.write(this.tty ? 1 : 2, out(result.stderr));
    this.lastExit = result.exitCode ?? 0;
    if (result.exit === true) this.finish(this.lastExit);
  }

  private finish(exitCode: number): void {
    if (this.finished) return;
    this.finished = true;
    this.done(exitCode);
  }
}
