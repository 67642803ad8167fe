/**
 * Redaction of a recorded stream: literal values (a namespace's Secret values) and regular
 * expressions (the policy's recording patterns) are replaced by REDACTED before text is
 * stored, also when a value arrives split across two frames.
 *
 * A stream keeps back the end of what it saw that could still be the start of a match: for
 * literals, the longest tail that is a prefix of one of them; with patterns, the last
 * `windowChars - 1` characters (a pattern match is only promised when it is at most
 * `windowChars` long). What is kept back is released, redacted, with the stream's next text
 * or at `flush` — the text is never lost, only its time moves to that of the next frame.
 * Pure: strings in, strings out.
 */

export const REDACTED = '[REDACTED]';

export interface RedactionRules {
  /** Exact values to replace (shorter than MIN_LITERAL_CHARS are ignored: they would redact ordinary text). */
  readonly literals: readonly string[];
  readonly patterns: readonly RegExp[];
  /** The longest pattern match that is promised to be found across frames. */
  readonly windowChars: number;
}

/** Values shorter than this are not redacted (a Secret holding `1` would blank every digit 1). */
export const MIN_LITERAL_CHARS = 4;

export const NO_REDACTION: RedactionRules = { literals: [], patterns: [], windowChars: 0 };

export interface StreamRedactor {
  /** Text that is safe to store now (redacted); the rest is kept back. */
  push(text: string): string;
  /** Everything kept back, redacted: at the end of the stream. */
  flush(): string;
}

/** One compiled rule set, shared by the streams of a session. */
export interface Redaction {
  readonly active: boolean;
  stream(): StreamRedactor;
}

export function compileRedaction(rules: RedactionRules): Redaction {
  const literals = [...new Set(rules.literals.filter((value) => value.length >= MIN_LITERAL_CHARS))].sort((a, b) => b.length - a.length);
  const alternatives = [...literals.map(escapeRegExp), ...rules.patterns.map((pattern) => `(?:${pattern.source})`)];
  if (alternatives.length === 0) return { active: false, stream: () => ({ push: (text) => text, flush: () => '' }) };
  const flags = rules.patterns.some((pattern) => pattern.flags.includes('i')) ? 'gi' : 'g';
  const matcher = new RegExp(alternatives.join('|'), flags);
  const longestLiteral = literals[0]?.length ?? 0;
  const holdForPatterns = rules.patterns.length > 0 ? Math.max(0, rules.windowChars - 1) : 0;

  /** How many characters at the end of `text` could begin a match that is not complete yet. */
  function heldTail(text: string): number {
    let hold = Math.min(holdForPatterns, text.length);
    for (let k = Math.min(longestLiteral - 1, text.length); k > hold; k -= 1) {
      const tail = text.slice(text.length - k);
      if (literals.some((literal) => literal.length > k && literal.startsWith(tail))) {
        hold = k;
        break;
      }
    }
    return hold;
  }

  /** Replaces matches that start before `limit`; returns the text up to the cut and where the cut is. */
  function redactUpTo(text: string, limit: number): { out: string; cut: number } {
    let out = '';
    let last = 0;
    matcher.lastIndex = 0;
    for (let match = matcher.exec(text); match !== null; match = matcher.exec(text)) {
      if (match[0].length === 0) {
        matcher.lastIndex += 1;
        continue;
      }
      if (match.index >= limit) break;
      out += text.slice(last, match.index) + REDACTED;
      last = match.index + match[0].length;
    }
    const cut = Math.max(limit, last);
    return { out: out + text.slice(last, cut), cut };
  }

  return {
    active: true,
    stream() {
      let held = '';
      return {
        push(text) {
          const all = held + text;
          const { out, cut } = redactUpTo(all, all.length - heldTail(all));
          held = all.slice(cut);
          return out;
        },
        flush() {
          const { out } = redactUpTo(held, held.length);
          held = '';
          return out;
        },
      };
    },
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
