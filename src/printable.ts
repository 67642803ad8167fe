/**
 * Text from a request or a cluster, made safe to show: on a terminal (`gatehouse sessions
 * replay`, every CLI printer), on the approval page and in a mail subject. Pure.
 *
 * Every character that changes how text is displayed rather than what it says is replaced by
 * a visible escape (`\x1b`, `\u202e`): C0 and C1 controls and DEL (`\p{Cc}`: ESC starts the
 * OSC 52 clipboard write, the screen clear and the cursor moves), format characters
 * (`\p{Cf}`: the bidi embeddings, overrides and isolates U+202A–U+202E / U+2066–U+2069, the
 * marks U+200E/U+200F/U+061C, zero-width characters, soft hyphen, BOM, tag characters) and
 * the line and paragraph separators U+2028/U+2029. A backslash stays as it is: the escapes are
 * for a person to read, not to be decoded.
 */

const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;
const UNSAFE_KEEPING_LINES = /(?![\n\t])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

function escape(ch: string): string {
  const code = ch.codePointAt(0) ?? 0;
  if (code <= 0xff) return `\\x${code.toString(16).padStart(2, '0')}`;
  if (code <= 0xffff) return `\\u${code.toString(16).padStart(4, '0')}`;
  return `\\u{${code.toString(16)}}`;
}

/** One line of text: every control (newlines and tabs too) and invisible formatting character escaped. */
export function printable(text: string): string {
  return text.replace(UNSAFE, escape);
}

/** Text of several lines: newlines and tabs kept, every other control and formatting character escaped. */
export function printableLines(text: string): string {
  return text.replace(UNSAFE_KEEPING_LINES, escape);
}

/**
 * JSON text whose controls and formatting characters are all `\u` escapes: still the same
 * JSON to a parser (JSON.stringify leaves C1 controls and bidi characters raw), inert on a terminal.
 */
export function printableJson(value: unknown, indent?: number): string {
  // JSON.stringify escapes newlines and tabs inside strings: raw ones are the indentation.
  return (JSON.stringify(value, null, indent) ?? 'null').replace(UNSAFE_KEEPING_LINES, (ch) =>
    [...Array(ch.length).keys()].map((i) => `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`).join(''),
  );
}
