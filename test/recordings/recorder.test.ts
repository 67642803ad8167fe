/**
 * The recorder, pure: asciicast v2 lines byte for byte, the cap and its marker, redaction
 * across frames, the tar index of kubectl cp streams (archives made by the real `tar`).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { StreamSessionInfo } from '../../src/ports/recordings.ts';
import { parseCast } from '../../src/recordings/asciicast.ts';
import { createSessionRecorder } from '../../src/recordings/recorder.ts';
import { compileRedaction, NO_REDACTION, REDACTED } from '../../src/recordings/redactor.ts';
import type { RedactionRules } from '../../src/recordings/redactor.ts';
import { createTarIndex } from '../../src/recordings/tar-index.ts';

const EXEC: StreamSessionInfo = {
  requestId: 'req-1',
  kind: 'exec',
  user: 'alice@example.com',
  namespace: 'payments',
  pod: 'db-0',
  container: 'main',
  command: ['sh'],
  tty: true,
  startedAt: '2025-03-01T12:00:00.000Z',
};

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

function recorder(info: StreamSessionInfo = EXEC, options: { maxBytes?: number; rules?: RedactionRules } = {}) {
  return createSessionRecorder(info, { maxBytes: options.maxBytes ?? 1 << 20, maxFiles: 1000, redaction: compileRedaction(options.rules ?? NO_REDACTION) });
}

describe('asciicast v2 lines', () => {
  test('a TTY exec session is written byte for byte: header, resize, input, output, stderr, end marker', () => {
    const r = recorder();
    r.resize(100, 30, 1.5);
    r.data('stdout', bytes('$ '), 10);
    r.data('stdin', bytes('l'), 250.25);
    r.data('stdout', bytes('l'), 251);
    r.data('stderr', bytes('oops\r\n'), 1000.0004);
    r.data('stdout', bytes('caf\u00e9\r\n'), 2000);
    const { text, session } = r.finish('client closed', 3000);
    const expected = [
      '{"version":2,"width":100,"height":30,"timestamp":1740830400,"title":"alice@example.com exec payments/db-0 -c main -- sh","env":{"SHELL":"sh"},"gatehouse":{"request_id":"req-1","kind":"exec","user":"alice@example.com","namespace":"payments","pod":"db-0","container":"main","command":["sh"],"ports":null,"tty":true,"end_reason":"client closed","truncated":false,"stderr_events":[4]}}',
      '[0.0015,"r","100x30"]',
      '[0.01,"o","$ "]',
      '[0.25025,"i","l"]',
      '[0.251,"o","l"]',
      '[1,"o","oops\\r\\n"]',
      '[2,"o","café\\r\\n"]',
      '[3,"m","gatehouse: session ended: client closed"]',
      '',
    ].join('\n');
    assert.equal(text, expected);
    assert.deepEqual(session, { bytes: { stdin: 1, stdout: 10, stderr: 6 }, truncated: false, reason: 'client closed', durationMs: 3000, files: [], forwarded: [] });
  });

  test('a character split across two frames is written once, whole, with the second frame', () => {
    const r = recorder();
    const euro = bytes('\u20ac');
    r.data('stdout', euro.slice(0, 1), 1);
    r.data('stdout', euro.slice(1), 2);
    const events = parseCast(r.finish('done', 3).text).events;
    assert.deepEqual(events.slice(0, 1), [[0.002, 'o', '\u20ac']]);
  });

  test('the object written at open says the session started and has no end reason', () => {
    const opening = parseCast(recorder().opening());
    assert.equal(opening.header.gatehouse.end_reason, null);
    assert.equal(opening.header.width, 80, 'no size known yet: 80x24');
    assert.deepEqual(opening.events.map((e) => e[1]), ['m']);
    assert.match(opening.events[0]?.[2] ?? '', /session started; if this is the last event, Gatehouse stopped before the session ended/);
  });

  test('a port-forward session counts bytes per port and stores none of them', () => {
    const r = recorder({ ...EXEC, kind: 'portforward', command: undefined, container: undefined, ports: [5432, 8080], tty: false } as StreamSessionInfo);
    r.forwarded(5432, 'in', bytes('SELECT secret FROM t'), 1);
    r.forwarded(5432, 'out', bytes('row1row2'), 2);
    r.forwarded(8080, 'out', bytes('x'), 3);
    const { text, session } = r.finish('client closed', 4000);
    assert.deepEqual(session.forwarded, [{ port: 5432, in: 20, out: 8 }, { port: 8080, in: 0, out: 1 }]);
    assert.doesNotMatch(text, /SELECT|row1/);
    assert.equal(parseCast(text).header.title, 'alice@example.com portforward payments/db-0 5432 8080');
  });
});

describe('the cap per session', () => {
  test('past the cap an explicit marker is written, and the rest is counted, not stored', () => {
    const r = recorder(EXEC, { maxBytes: 60 });
    r.data('stdout', bytes('first line\r\n'), 100);
    r.data('stdout', bytes('second line that passes the cap\r\n'), 200);
    r.data('stdout', bytes('third\r\n'), 300);
    r.resize(120, 40, 350);
    const { text, session } = r.finish('client closed', 400);
    const { header, events } = parseCast(text);
    assert.deepEqual(events, [
      [0.1, 'o', 'first line\r\n'],
      [0.2, 'm', 'gatehouse: recording truncated: the cap of 60 bytes per session was reached; later input and output were counted, not stored'],
      [0.4, 'm', 'gatehouse: session ended: client closed'],
    ]);
    assert.equal(header.gatehouse.truncated, true);
    assert.equal(session.truncated, true);
    assert.deepEqual(session.bytes, { stdin: 0, stdout: 12 + 33 + 7, stderr: 0 });
  });
});

describe('redaction across frames', () => {
  const SECRET = 's3cr3t-Pa55word';
  const cases: { name: string; rules: RedactionRules; frames: string[]; stored: string; leaks: string[] }[] = [
    { name: 'replaces a Secret value that arrives whole', rules: { literals: [SECRET], patterns: [], windowChars: 0 }, frames: [`DB_PASSWORD=${SECRET}\r\n`], stored: `DB_PASSWORD=${REDACTED}\r\n`, leaks: [SECRET] },
    { name: 'replaces a Secret value split across two frames', rules: { literals: [SECRET], patterns: [], windowChars: 0 }, frames: ['DB_PASSWORD=s3cr3', 't-Pa55word\r\n'], stored: `DB_PASSWORD=${REDACTED}\r\n`, leaks: ['s3cr3', 't-Pa55word'] },
    { name: 'replaces a Secret value split over many one-character frames', rules: { literals: [SECRET], patterns: [], windowChars: 0 }, frames: [...`x${SECRET}y`], stored: `x${REDACTED}y`, leaks: ['s3cr3t'] },
    { name: 'keeps text that only looks like the start of a value', rules: { literals: [SECRET], patterns: [], windowChars: 0 }, frames: ['s3cr3', 'X and more'], stored: 's3cr3X and more', leaks: [] },
    { name: 'replaces a regex match split across frames', rules: { literals: [], patterns: [/AKIA[0-9A-Z]{16}/], windowChars: 64 }, frames: ['key: AKIAABCDEF', 'GHIJKLMNOP done'], stored: `key: ${REDACTED} done`, leaks: ['AKIAABCDEF', 'GHIJKLMNOP'] },
    { name: 'a case-insensitive pattern redacts any case', rules: { literals: [], patterns: [/password=\S+/i], windowChars: 64 }, frames: ['PASSWORD=hunter2 ok'], stored: `${REDACTED} ok`, leaks: ['hunter2'] },
    { name: 'ignores values too short to redact safely', rules: { literals: ['1', 'ab'], patterns: [], windowChars: 0 }, frames: ['1 ab 12'], stored: '1 ab 12', leaks: [] },
    { name: 'redacts a value typed on stdin as well as echoed', rules: { literals: [SECRET], patterns: [], windowChars: 0 }, frames: [SECRET], stored: REDACTED, leaks: [SECRET] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = recorder(EXEC, { rules: c.rules });
      c.frames.forEach((frame, i) => r.data('stdout', bytes(frame), i));
      const { text } = r.finish('done', 99);
      const output = parseCast(text).events.filter((e) => e[1] === 'o').map((e) => e[2]).join('');
      assert.equal(output, c.stored);
      for (const leak of c.leaks) assert.ok(!text.includes(leak), `"${leak}" must not be stored`);
    });
  }

  test('the stream redactor releases what it kept back, redacted, at flush', () => {
    const stream = compileRedaction({ literals: ['abcdef'], patterns: [], windowChars: 0 }).stream();
    assert.equal(stream.push('xx abc'), 'xx ');
    assert.equal(stream.flush(), 'abc');
  });
});

describe('the tar index (kubectl cp)', () => {
  function archive(format: string, files: Record<string, string>): Buffer {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-tar-'));
    try {
      for (const [name, content] of Object.entries(files)) {
        mkdirSync(join(dir, name, '..'), { recursive: true });
        writeFileSync(join(dir, name), content);
      }
      return execFileSync('tar', ['--format', format, '-cf', '-', '-C', dir, ...Object.keys(files)], { maxBuffer: 1 << 26 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const longName = `${'deep/'.repeat(30)}file.txt`;
  const cases: { name: string; format: string; files: Record<string, string>; chunk: number }[] = [
    { name: 'lists names and sizes of a ustar archive read whole', format: 'ustar', files: { 'a.txt': 'hello', 'dir/b.bin': 'x'.repeat(1500) }, chunk: 1 << 20 },
    { name: 'lists them when the archive arrives in 7-byte frames', format: 'ustar', files: { 'a.txt': 'hello', 'dir/b.bin': 'x'.repeat(1500), 'empty': '' }, chunk: 7 },
    { name: 'reads a GNU long name', format: 'gnu', files: { [longName]: 'long' }, chunk: 100 },
    { name: 'reads a pax path', format: 'pax', files: { [longName]: 'pax!', 'short': '12345678901' }, chunk: 513 },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const tar = archive(c.format, c.files);
      const index = createTarIndex(100);
      for (let offset = 0; offset < tar.length; offset += c.chunk) index.push(tar.subarray(offset, offset + c.chunk));
      assert.equal(index.isTar, true);
      assert.deepEqual(
        index.files,
        Object.entries(c.files).map(([name, content]) => ({ name, size: content.length })),
      );
    });
  }

  test('a stream that is not a tar lists nothing', () => {
    const index = createTarIndex(100);
    index.push(bytes('total 0\r\n'.repeat(100)));
    assert.equal(index.isTar, false);
    assert.deepEqual(index.files, []);
  });

  test('lists at most maxFiles entries and counts the rest', () => {
    const index = createTarIndex(1);
    index.push(archive('ustar', { a: '1', b: '22', c: '333' }));
    assert.deepEqual(index.files, [{ name: 'a', size: 1 }]);
    assert.equal(index.omitted, 2);
  });

  test('an exec of tar puts the files of stdout and of stdin into the summary', () => {
    const r = recorder({ ...EXEC, command: ['tar', 'cf', '-', '/data'], tty: false });
    const tar = archive('ustar', { 'data/report.csv': 'a,b\n1,2\n' });
    r.data('stdout', tar.subarray(0, 700), 1);
    r.data('stdout', tar.subarray(700), 2);
    const { session } = r.finish('complete', 3);
    assert.deepEqual(session.files, [{ name: 'data/report.csv', size: 8 }]);
  });
});
