/**
 * The text that replaces a masked value: it says that a value was masked and how large it
 * was, as one of a fixed set of size classes — never the value, never its exact length.
 *
 *   ***masked (16-63 bytes)***
 *
 * Fields Kubernetes declares as bytes (Secret `data`, ConfigMap `binaryData`) must stay valid
 * base64, or typed clients (`kubectl describe secret`, `kubectl create secret`) fail to decode
 * the response; there the placeholder is the base64 of that text, so `base64 -d` shows it.
 * Masking is idempotent: a placeholder is recognised and left as it is.
 */

/** Lower bounds of the size classes, in bytes: empty, 1-15, 16-63, …, 65536+. */
const CLASS_LOWER = [0, 1, 16, 64, 256, 1024, 4096, 16384, 65536] as const;

const PREFIX = '***masked (';
const SUFFIX = ')***';

interface SizeClass {
  name: string;
  text: string;
  base64: string;
  base64Bytes: Buffer;
}

const CLASSES: readonly SizeClass[] = CLASS_LOWER.map((lower, index) => {
  const next = CLASS_LOWER[index + 1];
  const name = lower === 0 ? 'empty' : next === undefined ? `${lower}+ bytes` : `${lower}-${next - 1} bytes`;
  const text = `${PREFIX}${name}${SUFFIX}`;
  const base64 = Buffer.from(text, 'utf8').toString('base64');
  return { name, text, base64, base64Bytes: Buffer.from(base64, 'latin1') };
});

function classOf(bytes: number): SizeClass {
  let index = 0;
  while (index + 1 < CLASS_LOWER.length && bytes >= (CLASS_LOWER[index + 1] as number)) index += 1;
  return CLASSES[index] as SizeClass;
}

/** The size class of a value of `bytes` bytes, e.g. "16-63 bytes". */
export function sizeClass(bytes: number): string {
  return classOf(bytes).name;
}

/** Placeholder text for a value of `bytes` bytes. */
export function placeholderText(bytes: number): string {
  return classOf(bytes).text;
}

/** Placeholder for a base64 (bytes) field holding `bytes` decoded bytes. */
export function placeholderBase64(bytes: number): string {
  return classOf(bytes).base64;
}

const BASE64_PLACEHOLDERS = new Set(CLASSES.map((sizeClass) => sizeClass.base64));
const EXACT_PLACEHOLDERS = new Set(CLASSES.flatMap((sizeClass) => [sizeClass.text, sizeClass.base64]));

/** True for exactly one of the placeholders this module writes, text or base64 (`isPlaceholder` also accepts what decodes to one). */
export function isExactPlaceholder(value: string): boolean {
  return EXACT_PLACEHOLDERS.has(value);
}

/** True for one of the base64 placeholders this module writes. */
export function isBase64Placeholder(value: string): boolean {
  return BASE64_PLACEHOLDERS.has(value);
}

/** base64 of "***masked" (9 bytes, a whole number of base64 groups): every base64 placeholder starts with it. */
const BASE64_PREFIX = Buffer.from('***masked', 'utf8').toString('base64');
const BASE64_PREFIX_BYTES = Buffer.from(BASE64_PREFIX, 'latin1');

/** True for a value this module wrote, in text or base64 form. */
export function isPlaceholder(value: string): boolean {
  if (value.startsWith(PREFIX)) return value.endsWith(SUFFIX);
  if (!value.startsWith(BASE64_PREFIX)) return false;
  const text = Buffer.from(value, 'base64').toString('utf8');
  return text.startsWith(PREFIX) && text.endsWith(SUFFIX);
}

/** Decoded size of base64 text of `length` characters ending in `padding` `=` signs (no decoding). */
function decodedLength(length: number, padding: number): number {
  return Math.max(0, Math.floor((length * 3) / 4) - padding);
}

/** Decoded size of a base64 string, computed from its length (no decoding). */
export function base64DecodedLength(value: string): number {
  return decodedLength(value.length, value.endsWith('==') ? 2 : value.endsWith('=') ? 1 : 0);
}

/** The placeholder for a text value. */
export function maskText(value: string): string {
  return isPlaceholder(value) ? value : placeholderText(Buffer.byteLength(value, 'utf8'));
}

/** The placeholder for a base64 value. */
export function maskBase64(value: string): string {
  return isPlaceholder(value) ? value : placeholderBase64(base64DecodedLength(value));
}

const EQUALS = 0x3d;

/**
 * `maskBase64` for the raw bytes of a JSON string's content, `bytes[start, end)`, without
 * making a string of it: the streaming masker's path for Secret `data` values.
 */
export function maskBase64Bytes(bytes: Buffer, start: number, end: number): Buffer {
  const prefixLength = BASE64_PREFIX_BYTES.length;
  if (end - start >= prefixLength && bytes.compare(BASE64_PREFIX_BYTES, 0, prefixLength, start, start + prefixLength) === 0) {
    return Buffer.from(maskBase64(bytes.toString('latin1', start, end)), 'latin1');
  }
  const padding = end - start >= 1 && bytes[end - 1] === EQUALS ? (end - start >= 2 && bytes[end - 2] === EQUALS ? 2 : 1) : 0;
  return classOf(decodedLength(end - start, padding)).base64Bytes;
}

const PLACEHOLDER_MARKS = [Buffer.from(PREFIX, 'utf8'), BASE64_PREFIX_BYTES];

/** True when `text` holds a placeholder's mark anywhere (as a whole value or inside other text). */
export function holdsPlaceholderMark(text: string): boolean {
  return text.includes(PREFIX) || text.includes(BASE64_PREFIX);
}

/**
 * True when `body` (JSON, YAML or protobuf bytes) carries a placeholder, as text or base64 —
 * a write that would replace real values with what masking showed.
 */
export function carriesPlaceholder(body: Uint8Array): boolean {
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return PLACEHOLDER_MARKS.some((mark) => bytes.includes(mark));
}
