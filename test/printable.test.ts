import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { printable, printableJson, printableLines } from '../src/printable.ts';

describe('printable', () => {
  const cases: [string, string, string][] = [
    ['an OSC 52 clipboard write', '\x1b]52;c;ZXZpbA==\x07', '\\x1b]52;c;ZXZpbA==\\x07'],
    ['a screen clear and a cursor move', '\x1b[2J\x1b[1A', '\\x1b[2J\\x1b[1A'],
    ['a carriage return that would overwrite the line', 'ok\rEVIL', 'ok\\x0dEVIL'],
    ['a C1 control sequence introducer', 'a\u009b31mb', 'a\\x9b31mb'],
    ['a right-to-left override', 'invoice\u202etxt.exe', 'invoice\\u202etxt.exe'],
    ['bidi isolates and marks', '\u2066a\u2069\u200f', '\\u2066a\\u2069\\u200f'],
    ['zero-width and BOM characters', 'a\u200bb\ufeff', 'a\\u200bb\\ufeff'],
    ['a tag character (outside the BMP)', 'a\u{e0041}', 'a\\u{e0041}'],
    ['a line separator', 'a\u2028b', 'a\\u2028b'],
    ['a newline (one line stays one line)', 'a\nb', 'a\\x0ab'],
    ['ordinary text, accents and emoji', 'café ☕ 漢字', 'café ☕ 漢字'],
  ];
  for (const [name, input, expected] of cases) {
    test(`escapes ${name}`, () => assert.equal(printable(input), expected));
  }
  test('printableLines keeps newlines and tabs, escapes the rest', () => {
    assert.equal(printableLines('a\n\tb\r\x1b[2J'), 'a\n\tb\\x0d\\x1b[2J');
  });
  test('printableJson is the same JSON to a parser, with nothing raw left', () => {
    const value = { name: 'web\u202etxt', note: '\x1b]52;c;x\x07\u009b', tag: '\u{e0041}' };
    const text = printableJson(value);
    assert.doesNotMatch(text, /[\p{Cc}\p{Cf}]/u);
    assert.deepEqual(JSON.parse(text), value);
  });
});
