/**
 * The file names and sizes in a tar stream, read as it passes (`kubectl cp` runs `tar cf -`
 * in the pod and reads its stdout, or `tar xf -` and writes its stdin). Reads the 512-byte
 * headers (ustar with its name prefix, GNU long names, pax `path`/`size`) and skips the
 * contents; never holds more than one header. A stream that is not a tar (the first header's
 * checksum fails) is left alone from then on. Pure: bytes in, entries out.
 */
import type { RecordedFile } from '../ports/recordings.ts';

const BLOCK = 512;
/** A GNU long name or pax header larger than this is skipped, not read. */
const MAX_META_BYTES = 64 * 1024;

export interface TarIndex {
  push(bytes: Uint8Array): void;
  /** Regular files seen so far, in order (at most `maxFiles`). */
  readonly files: readonly RecordedFile[];
  /** Files beyond `maxFiles` (counted, not listed). */
  readonly omitted: number;
  /** False once the stream was found not to be a tar. */
  readonly isTar: boolean;
}

type State =
  | { at: 'header' }
  | { at: 'skip'; left: number }
  | { at: 'meta'; kind: 'longname' | 'pax'; size: number; left: number; chunks: Uint8Array[] }
  | { at: 'done' };

export function createTarIndex(maxFiles: number): TarIndex {
  const files: RecordedFile[] = [];
  let omitted = 0;
  let isTar = true;
  let seenHeader = false;
  let state: State = { at: 'header' };
  const header = new Uint8Array(BLOCK);
  let headerFill = 0;
  /** Name and size from a GNU long-name or pax header, for the entry that follows. */
  let pending: { name?: string; size?: number } = {};

  function addFile(name: string, size: number): void {
    if (files.length < maxFiles) files.push({ name, size });
    else omitted += 1;
  }

  function onHeader(block: Uint8Array): void {
    if (block.every((byte) => byte === 0)) return;
    if (!checksumMatches(block)) {
      // Anything that is not a tar from its first block on is not indexed; a broken one stops here.
      if (!seenHeader) isTar = false;
      state = { at: 'done' };
      return;
    }
    seenHeader = true;
    const type = String.fromCharCode(block[156] ?? 0);
    const size = pending.size ?? readSize(block.subarray(124, 136));
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'L' || type === 'x') {
      state = size <= MAX_META_BYTES ? { at: 'meta', kind: type === 'L' ? 'longname' : 'pax', size, left: padded, chunks: [] } : { at: 'skip', left: padded };
      return;
    }
    if (type === 'g' || type === 'K') {
      state = { at: 'skip', left: padded };
      return;
    }
    const name = pending.name ?? headerName(block);
    pending = {};
    if (type === '0' || type === '\0' || type === '7') addFile(name, size);
    // Links, directories and devices carry no content.
    state = type === '0' || type === '\0' || type === '7' ? { at: 'skip', left: padded } : { at: 'skip', left: 0 };
  }

  function onMeta(kind: 'longname' | 'pax', bytes: Uint8Array): void {
    if (kind === 'longname') {
      pending.name = cString(bytes);
      return;
    }
    for (const [key, value] of paxRecords(bytes)) {
      if (key === 'path') pending.name = value;
      if (key === 'size' && /^\d+$/.test(value)) pending.size = Number(value);
    }
  }

  return {
    get files() {
      return files;
    },
    get omitted() {
      return omitted;
    },
    get isTar() {
      return isTar;
    },
    push(bytes) {
      let offset = 0;
      while (offset < bytes.length) {
        switch (state.at) {
          case 'done':
            return;
          case 'header': {
            const take = Math.min(BLOCK - headerFill, bytes.length - offset);
            header.set(bytes.subarray(offset, offset + take), headerFill);
            headerFill += take;
            offset += take;
            if (headerFill === BLOCK) {
              headerFill = 0;
              onHeader(header);
            }
            break;
          }
          case 'skip': {
            const take = Math.min(state.left, bytes.length - offset);
            state.left -= take;
            offset += take;
            if (state.left === 0) state = { at: 'header' };
            break;
          }
          case 'meta': {
            const take = Math.min(state.left, bytes.length - offset);
            state.chunks.push(bytes.slice(offset, offset + take));
            state.left -= take;
            offset += take;
            if (state.left === 0) {
              const all = Buffer.concat(state.chunks).subarray(0, state.size);
              onMeta(state.kind, all);
              state = { at: 'header' };
            }
            break;
          }
        }
      }
    },
  };
}

function checksumMatches(block: Uint8Array): boolean {
  const stored = readOctal(block.subarray(148, 156));
  if (stored === undefined) return false;
  let sum = 0;
  for (let i = 0; i < BLOCK; i += 1) sum += i >= 148 && i < 156 ? 0x20 : (block[i] as number);
  return sum === stored;
}

function readOctal(field: Uint8Array): number | undefined {
  const text = Buffer.from(field).toString('latin1').replace(/\0.*$/s, '').trim();
  return /^[0-7]+$/.test(text) ? parseInt(text, 8) : undefined;
}

/** Octal, or GNU base-256 (high bit of the first byte set) for sizes over 8 GiB. */
function readSize(field: Uint8Array): number {
  if (((field[0] ?? 0) & 0x80) !== 0) {
    let value = (field[0] ?? 0) & 0x7f;
    for (let i = 1; i < field.length; i += 1) value = value * 256 + (field[i] ?? 0);
    return value;
  }
  return readOctal(field) ?? 0;
}

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return Buffer.from(end === -1 ? bytes : bytes.subarray(0, end)).toString('utf8');
}

function headerName(block: Uint8Array): string {
  const name = cString(block.subarray(0, 100));
  // POSIX ustar ("ustar\0") has a name prefix; GNU tar's "ustar  " uses those bytes otherwise.
  const ustar = Buffer.from(block.subarray(257, 263)).toString('latin1') === 'ustar\0';
  const prefix = ustar ? cString(block.subarray(345, 500)) : '';
  return prefix === '' ? name : `${prefix}/${name}`;
}

/** `"<len> key=value\n"` records of a pax extended header (`len` counts bytes). */
function paxRecords(bytes: Uint8Array): [string, string][] {
  const records: [string, string][] = [];
  const buffer = Buffer.from(bytes);
  let offset = 0;
  while (offset < buffer.length) {
    const space = buffer.indexOf(0x20, offset);
    if (space === -1) break;
    const length = Number(buffer.toString('latin1', offset, space));
    if (!Number.isInteger(length) || length <= space - offset || offset + length > buffer.length) break;
    const record = buffer.toString('utf8', space + 1, offset + length - 1);
    const equals = record.indexOf('=');
    if (equals > 0) records.push([record.slice(0, equals), record.slice(equals + 1)]);
    offset += length;
  }
  return records;
}
