import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isPlaceholder, maskBase64, maskBase64Bytes, maskText, placeholderBase64, placeholderText, sizeClass } from '../../src/masking/placeholder.ts';

describe('placeholders', () => {
  const classes: [number, string][] = [
    [0, 'empty'],
    [1, '1-15 bytes'],
    [15, '1-15 bytes'],
    [16, '16-63 bytes'],
    [1023, '256-1023 bytes'],
    [1024, '1024-4095 bytes'],
    [65535, '16384-65535 bytes'],
    [1048576, '65536+ bytes'],
  ];
  for (const [bytes, name] of classes) test(`puts ${bytes} bytes in the class "${name}"`, () => assert.equal(sizeClass(bytes), name));

  test('says that a value was masked and its size class, in text', () => {
    assert.equal(maskText('hunter2'), '***masked (1-15 bytes)***');
    assert.equal(maskText('é'.repeat(8)), '***masked (16-63 bytes)***', 'counts UTF-8 bytes, not characters');
  });

  test('writes base64 placeholders that decode to the text one (typed clients keep decoding)', () => {
    const masked = maskBase64(Buffer.from('x'.repeat(100)).toString('base64'));
    assert.equal(Buffer.from(masked, 'base64').toString('utf8'), '***masked (64-255 bytes)***');
    assert.equal(masked, placeholderBase64(100));
  });

  test('is idempotent on its own placeholders, text and base64', () => {
    for (const value of [placeholderText(20), placeholderBase64(20), placeholderBase64(0)]) {
      assert.equal(isPlaceholder(value), true);
      assert.equal(maskText(value), value);
      assert.equal(maskBase64(value), value);
    }
    assert.equal(isPlaceholder('***masked (but not ours'), false);
  });

  test('masks raw base64 bytes exactly as it masks the string', () => {
    for (const text of ['', 'a', 'ab', 'abc', 'x'.repeat(5000)]) {
      const value = Buffer.from(text).toString('base64');
      const bytes = Buffer.from(`"${value}"`);
      assert.equal(maskBase64Bytes(bytes, 1, bytes.length - 1).toString('latin1'), maskBase64(value), `for ${text.length} bytes`);
    }
    const placeholder = Buffer.from(`"${placeholderBase64(30)}"`);
    assert.equal(maskBase64Bytes(placeholder, 1, placeholder.length - 1).toString('latin1'), placeholderBase64(30));
  });

  test('writes placeholders that hold no quote, backslash or kind name (so they trigger nothing)', () => {
    for (const bytes of [0, 1, 16, 64, 256, 1024, 4096, 16384, 65536]) {
      for (const value of [placeholderText(bytes), placeholderBase64(bytes)]) assert.doesNotMatch(value, /["\\]|Secret|ConfigMap|env/);
    }
  });
});
