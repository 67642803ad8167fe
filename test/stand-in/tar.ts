/**
 * `tar` in the stand-in's containers, as `kubectl cp` runs it: `tar cf - <path>` writes a
 * ustar archive of a file or directory to stdout (member names without the leading "/", as
 * GNU tar writes them), and `tar [--no-same-permissions --no-same-owner] -xmf - [-C <dir>]`
 * reads one from stdin into the container's files (kept for the pod's later execs).
 */
import type { ShellContext } from './shell.ts';

export interface TarResult {
  stdout?: Buffer;
  stderr?: string;
  exitCode: number;
}

const BLOCK = 512;

export function isTar(argv: readonly string[]): boolean {
  return argv[0] === 'tar';
}

export function runTar(ctx: ShellContext, argv: readonly string[], stdin: Buffer): TarResult {
  const args = argv.slice(1).filter((a) => a !== '--no-same-permissions' && a !== '--no-same-owner');
  const mode = args[0] ?? '';
  if (/^-?c[a-z]*f$/.test(mode) && args[1] === '-' && args.length === 3) return create(ctx, args[2] as string);
  if (/^-?x[a-z]*f$/.test(mode) && args[1] === '-') {
    const dir = args[2] === '-C' ? (args[3] ?? '/') : '/';
    return extract(ctx, stdin, dir);
  }
  return { stderr: `tar: the stand-in's tar knows only "cf - PATH" and "-xmf - [-C DIR]", not: ${argv.join(' ')}\n`, exitCode: 2 };
}

function create(ctx: ShellContext, path: string): TarResult {
  const root = `/${path.replace(/^\/+/, '').replace(/\/+$/, '')}`;
  const members: Buffer[] = [];
  const file = ctx.files.get(root);
  const names = file !== undefined ? [root] : [...ctx.files.keys()].filter((name) => name.startsWith(`${root}/`)).sort();
  if (names.length === 0) return { stderr: `tar: ${path}: Cannot stat: No such file or directory\n`, exitCode: 2 };
  for (const name of names) {
    const content = ctx.files.get(name) ?? '';
    const bytes = typeof content === 'string' ? Buffer.from(content) : content;
    members.push(header(name.slice(1), bytes.length), bytes, Buffer.alloc((BLOCK - (bytes.length % BLOCK)) % BLOCK));
  }
  members.push(Buffer.alloc(2 * BLOCK));
  return { stdout: Buffer.concat(members), stderr: path.startsWith('/') ? "tar: Removing leading `/' from member names\n" : '', exitCode: 0 };
}

function extract(ctx: ShellContext, archive: Buffer, dir: string): TarResult {
  const base = dir.replace(/\/+$/, '');
  let at = 0;
  while (at + BLOCK <= archive.length) {
    const block = archive.subarray(at, at + BLOCK);
    if (block.every((b) => b === 0)) break;
    const name = field(block, 345, 155) === '' ? field(block, 0, 100) : `${field(block, 345, 155)}/${field(block, 0, 100)}`;
    const size = Number.parseInt(field(block, 124, 12).trim() || '0', 8);
    const type = String.fromCharCode(block[156] ?? 0);
    at += BLOCK;
    if (type === '0' || type === '\0') {
      const target = `${base}/${name.replace(/^\/+/, '')}`;
      const content = Buffer.from(archive.subarray(at, at + size));
      ctx.files.set(target, content);
      ctx.written?.set(target, content);
    }
    at += Math.ceil(size / BLOCK) * BLOCK;
  }
  return { exitCode: 0 };
}

function field(block: Buffer, offset: number, length: number): string {
  const raw = block.subarray(offset, offset + length);
  const end = raw.indexOf(0);
  return raw.toString('utf8', 0, end === -1 ? length : end);
}

function header(name: string, size: number): Buffer {
  const block = Buffer.alloc(BLOCK);
  const put = (offset: number, length: number, value: string): void => void block.write(value, offset, length, 'utf8');
  put(0, 100, name);
  put(100, 8, '0000644\0');
  put(108, 8, '0000000\0');
  put(116, 8, '0000000\0');
  put(124, 12, `${size.toString(8).padStart(11, '0')}\0`);
  put(136, 12, `${Math.floor(Date.parse('2025-06-01T12:00:00Z') / 1000).toString(8).padStart(11, '0')}\0`);
  block.fill(0x20, 148, 156);
  block[156] = 0x30;
  put(257, 6, 'ustar\0');
  put(263, 2, '00');
  let sum = 0;
  for (const byte of block) sum += byte;
  put(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return block;
}
