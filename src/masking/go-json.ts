/**
 * JSON text the way Go's `encoding/json` writes it (what kubectl writes into the
 * `last-applied-configuration` annotation): `JSON.stringify`, then `<`, `>`, `&`, U+2028 and
 * U+2029 escaped as `\u003c` …, and `\b`/`\f` as `\u0008`/`\u000c`. A re-serialised annotation
 * then reads, byte for byte, as kubectl would have written it, so kubectl's comparisons hold.
 * Pure.
 */

const ESCAPES = /\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})|[<>&\u2028\u2029]/g;

function goEscape(match: string): string {
  if (match === '\\b') return '\\u0008';
  if (match === '\\f') return '\\u000c';
  if (match.length !== 1) return match;
  return `\\u${match.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(ESCAPES, goEscape);
}
