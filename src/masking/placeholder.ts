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

/** Upper bounds (exclusive) of the size classes, in bytes; the last class is open-ended. */
const CLASS_BOUNDS = [1, 16, 64, 256, 1024, 4096, 16384, 65536] as const;

/** The size class of a value of `bytes` bytes, e.g. "16-63 bytes". */
export function sizeClass(bytes: number): string {
  if (bytes <= 0) return 'empty';
  let lower: number = CLASS_BOUNDS[0];
  for (const upper of CLASS_BOUNDS.slice(1)) {
    if (bytes < upper) return `${lower}-${upper - 1} bytes`;
    lower = upper;
  }
  return `${lower}+ bytes`;
}

const PREFIX = '***masked (';

/** Placeholder text for a value of `bytes` bytes. */
export function placeholderText(bytes: number): string {
  return `${PREFIX}${sizeClass(bytes)})***`;
}

const base64Cache = new Map<string, string>();

/** Placeholder for a base64 (bytes) field holding `bytes` decoded bytes. */
export function placeholderBase64(bytes: number): string {
  const text = placeholderText(bytes);
  let encoded = base64Cache.get(text);
  if (encoded === undefined) {
    encoded = Buffer.from(text, 'utf8').toString('base64');
    base64Cache.set(text, encoded);
  }
  return encoded;
}

/** base64 of "***masked" (9 bytes, a whole number of base64 groups): every base64 placeholder starts with it. */
const BASE64_PREFIX = Buffer.from('***masked', 'utf8').toString('base64');

/** True for a value this module wrote, in text or base64 form. */
export function isPlaceholder(value: string): boolean {
  if (value.startsWith(PREFIX)) return value.endsWith(')***');
  if (!value.startsWith(BASE64_PREFIX)) return false;
  return isPlaceholderText(Buffer.from(value, 'base64').toString('utf8'));
}

function isPlaceholderText(text: string): boolean {
  return text.startsWith(PREFIX) && text.endsWith(')***');
}

/** Decoded size of a base64 string, computed from its length (no decoding). */
export function base64DecodedLength(value: string): number {
  let padding = 0;
  if (value.endsWith('==')) padding = 2;
  else if (value.endsWith('=')) padding = 1;
  return Math.max(0, Math.floor((value.length * 3) / 4) - padding);
}

/** The placeholder for a text value. */
export function maskText(value: string): string {
  return isPlaceholder(value) ? value : placeholderText(Buffer.byteLength(value, 'utf8'));
}

/** The placeholder for a base64 value. */
export function maskBase64(value: string): string {
  return isPlaceholder(value) ? value : placeholderBase64(base64DecodedLength(value));
}
