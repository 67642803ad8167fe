import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonStreamMasker, maskWholeBody } from '../../src/masking/json-stream-masker.ts';
import { maskDocument, type MaskHint } from '../../src/masking/mask-document.ts';
import { compileMaskingRules, SECRETS_ONLY, type MaskingRules } from '../../src/masking/masking-rules.ts';
import { GatehouseError } from '../../src/errors.ts';
import { placeholderBase64 } from '../../src/masking/placeholder.ts';
import { b64, configMap, lastApplied, PASSWORD, pod, secret, secretItem, secretList, secretTable, TOKEN } from './fixtures/objects.ts';

const LA = 'kubectl.kubernetes.io/last-applied-configuration';

/** Runs the masker over `chunks`; returns the output bytes and the pieces as emitted. */
function run(chunks: Uint8Array[], rules: MaskingRules = SECRETS_ONLY, hint: MaskHint = {}): { text: string; pieces: Uint8Array[]; masked: boolean } {
  const pieces: Uint8Array[] = [];
  const masker = new JsonStreamMasker({ rules, hint, subject: 'secrets in namespace "prod"' }, (bytes) => pieces.push(bytes));
  for (const chunk of chunks) masker.push(chunk);
  masker.end();
  return { text: Buffer.concat(pieces).toString('utf8'), pieces, masked: masker.masked };
}

/** Every way to cut `bytes` in two, plus one byte at a time. */
function splits(bytes: Buffer): Uint8Array[][] {
  const out: Uint8Array[][] = [[bytes]];
  for (let k = 1; k < bytes.length; k += 1) out.push([bytes.subarray(0, k), bytes.subarray(k)]);
  out.push([...bytes].map((byte) => Uint8Array.of(byte)));
  return out;
}

/** What masking the documents whole gives, one document per line. */
function expected(text: string, rules: MaskingRules, hint: MaskHint): unknown[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => maskDocument(JSON.parse(line), rules, hint).document);
}

function parsedLines(text: string): unknown[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line));
}

/** Watch events as the API server streams them: one JSON document per line. */
function watchStream(events: unknown[]): string {
  return events.map((event) => `${JSON.stringify(event)}\n`).join('');
}

const envRules = compileMaskingRules([{ name: 'env', envNames: ['*_TOKEN'] }, { name: 'cm', configMapKeys: ['password'] }]);

interface StreamCase {
  name: string;
  /** One document, or one per line (a watch stream). */
  text: string;
  hint?: MaskHint;
  rules?: MaskingRules;
  masked: boolean;
  /** The output must be the input, byte for byte. */
  unchanged?: boolean;
}

const tricky = { 'quote"s': 'a\\"b\\\\', 'items': ['x'], 'ünï': 'é😀', 'back\\': '\\' };

const cases: StreamCase[] = [
  { name: 'a single Secret', text: JSON.stringify(secret('db', { password: PASSWORD, token: TOKEN })), masked: true },
  {
    name: 'a SecretList whose items carry no kind',
    text: JSON.stringify(secretList([secretItem('a', { password: PASSWORD }), secretItem('b', { token: TOKEN })])),
    hint: { kind: 'Secret' },
    masked: true,
  },
  { name: 'an empty SecretList', text: JSON.stringify(secretList([])), hint: { kind: 'Secret' }, masked: false },
  {
    name: 'a List of mixed kinds, with tricky strings around',
    text: JSON.stringify({ kind: 'List', apiVersion: 'v1', metadata: { annotations: tricky }, items: [configMap('c', 'p', tricky as unknown as Record<string, string>), secret('s', { password: PASSWORD })] }),
    masked: true,
  },
  {
    name: 'a list that names its kind after its items, with more members after them',
    text: JSON.stringify({ apiVersion: 'v1', items: [secretItem('a', { password: PASSWORD })], metadata: { continue: '' }, kind: 'SecretList' }),
    hint: { kind: 'Secret' },
    masked: true,
  },
  {
    name: 'a Table of Secrets with whole objects in its rows',
    text: JSON.stringify(secretTable([{ cells: ['db', 'Opaque', 1, '1d'], object: secret('db', { password: PASSWORD }) }, { cells: ['x', 'Opaque', 0, '1d'], object: secret('x', {}) }])),
    hint: { kind: 'Secret' },
    masked: true,
  },
  {
    name: 'a Table of Deployments whose last-applied annotation holds a Secret',
    text: JSON.stringify({
      ...secretTable([{ cells: ['web'], object: { kind: 'PartialObjectMetadata', metadata: { name: 'web', annotations: { [LA]: lastApplied({ kind: 'List', items: [secret('s', { password: PASSWORD })] }) } } } }], [{ name: 'Name' }]),
    }),
    masked: true,
  },
  {
    name: 'a watch stream of Secret events, one per line',
    text: watchStream([
      { type: 'ADDED', object: secret('a', { password: PASSWORD }) },
      { type: 'MODIFIED', object: secret('a', { token: TOKEN }) },
      { type: 'BOOKMARK', object: { kind: 'Secret', apiVersion: 'v1', metadata: { resourceVersion: '9' } } },
    ]),
    hint: { kind: 'Secret' },
    masked: true,
  },
  {
    name: 'a PodList with nothing to mask (passes byte for byte)',
    text: JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: {}, items: [pod('a', 'p', [{ name: 'A_TOKEN', value: TOKEN }]), pod('b', 'p', [])] }),
    masked: false,
    unchanged: true,
  },
  {
    name: 'a watch stream of Pods with nothing to mask (passes byte for byte)',
    text: `${JSON.stringify({ type: 'ADDED', object: pod('a', 'p', []) })}\n${JSON.stringify({ type: 'DELETED', object: pod('a', 'p', []) })}\n`,
    masked: false,
    unchanged: true,
  },
  {
    name: 'a PodList whose env values a rule names',
    text: JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: {}, items: [pod('a', 'p', [{ name: 'A_TOKEN', value: TOKEN }]), pod('b', 'p', [])] }),
    rules: envRules,
    masked: true,
  },
  {
    name: 'a ConfigMapList whose keys a rule names',
    text: JSON.stringify({ kind: 'ConfigMapList', apiVersion: 'v1', metadata: {}, items: [{ metadata: { name: 'c', namespace: 'p' }, data: { password: PASSWORD, other: 'x' } }] }),
    rules: envRules,
    hint: { kind: 'ConfigMap' },
    masked: true,
  },
  {
    name: 'a SecretList whose items the fast path must hand to the parser (null, escaped, numeric, nested, masked, stringData, kind, annotation)',
    text: JSON.stringify(
      secretList([
        { metadata: { name: 'n' }, data: { gone: null, password: b64(PASSWORD) } },
        { metadata: { name: 'e' }, data: { slash: 'aGVsbG8/d29ybGQ=' } },
        { metadata: { name: 'num' }, data: { n: 5 } },
        { metadata: { name: 'nested', data: { not: 'secret' } }, data: { deep: { x: b64(PASSWORD) } } },
        { metadata: { name: 'm' }, data: { password: placeholderBase64(28) } },
        { metadata: { name: 's' }, stringData: { password: PASSWORD } },
        { kind: 'ConfigMap', metadata: { name: 'k' }, data: { plain: 'text' } },
        { metadata: { name: 'a', annotations: { [LA]: lastApplied(secret('a', { password: PASSWORD })) } }, data: {} },
        { metadata: { name: 'arr' }, data: [b64(PASSWORD)] },
      ]),
    ).replace('aGVsbG8/d29ybGQ=', 'aGVsbG8\\/d29ybGQ='),
    hint: { kind: 'Secret' },
    masked: true,
  },
  {
    name: 'a SecretList whose items carry their own kind (the fast path takes them)',
    text: JSON.stringify(secretList([secret('a', { password: PASSWORD }), secret('b', { token: TOKEN }), secret('c', {})])),
    hint: { kind: 'Secret' },
    masked: true,
  },
  {
    name: 'a SecretList whose kind-carrying items hide another Secret, or spell their kind with an escape (the parser must see them)',
    text: JSON.stringify(
      secretList([
        secret('hidden', { password: PASSWORD }, { extra: { kind: 'Secret', data: { password: b64(PASSWORD) } } }),
        secret('owned', {}, { extra: { kind: 'Secret', data: { token: b64(TOKEN) } } }),
        { ...secret('esc', { token: TOKEN }), extra: { kind: 'Secret', data: { password: b64(PASSWORD) } } },
        { ...secret('other', {}), kind: 'ConfigMap', data: { plain: 'text' }, extra: { kind: 'Secret', data: { password: b64(PASSWORD) } } },
      ]),
    ).replace('"kind":"Secret","apiVersion":"v1","metadata":{"name":"esc"', '"kind":"Secr\\u0065t","apiVersion":"v1","metadata":{"name":"esc"'),
    hint: { kind: 'Secret' },
    masked: true,
  },
  {
    name: 'a SecretList whose items spell stringData or the last-applied annotation with an escape (the parser must see them)',
    text: JSON.stringify(
      secretList([
        secret('sd', {}, { stringData: { password: PASSWORD } }),
        { ...secret('la', {}), metadata: { name: 'la', annotations: { [LA]: lastApplied({ apiVersion: 'v1', metadata: { name: 'la' }, data: { password: b64(PASSWORD) } }) } } },
      ]),
    )
      .replace('"stringData"', '"string\\u0044ata"')
      .replace(`"${LA}"`, `"${LA.replace('/', '\\/')}"`),
    hint: { kind: 'Secret' },
    masked: true,
  },
  {
    name: 'a watch stream of Secret events the fast path takes (masked, none, already masked, and a bookmark)',
    text: watchStream([
      { type: 'ADDED', object: secret('a', { password: PASSWORD, token: TOKEN }) },
      { type: 'MODIFIED', object: secret('b', {}) },
      { type: 'MODIFIED', object: { ...secret('c', {}), data: { password: placeholderBase64(28) } } },
      { type: 'BOOKMARK', object: { kind: 'Secret', apiVersion: 'v1', metadata: { resourceVersion: '9' } } },
    ]),
    hint: { kind: 'Secret' },
    masked: true,
  },
  {
    name: 'a watch stream of Secret events the fast path must hand to the parser (null, escaped, numeric, nested, array, stringData, escaped names, annotation, extra member, object twice, escaped kind)',
    text: [
      JSON.stringify({ type: 'ADDED', object: { ...secret('n', {}), data: { gone: null, password: b64(PASSWORD) } } }),
      JSON.stringify({ type: 'ADDED', object: { ...secret('e', {}), data: { slash: 'aGVsbG8/d29ybGQ=', password: b64(PASSWORD) } } }).replace('aGVsbG8/d29ybGQ=', 'aGVsbG8\\/d29ybGQ='),
      JSON.stringify({ type: 'ADDED', object: { ...secret('num', {}), data: { n: 5, password: b64(PASSWORD) } } }),
      JSON.stringify({ type: 'ADDED', object: { ...secret('deep', {}), data: { deep: { x: b64(PASSWORD) } } } }),
      JSON.stringify({ type: 'ADDED', object: { ...secret('arr', {}), data: [b64(PASSWORD)] } }),
      JSON.stringify({ type: 'ADDED', object: secret('sd', {}, { stringData: { password: PASSWORD } }) }),
      JSON.stringify({ type: 'ADDED', object: secret('sde', {}, { stringData: { password: PASSWORD } }) }).replace('"stringData"', '"string\\u0044ata"'),
      JSON.stringify({ type: 'ADDED', object: secret('de', { password: PASSWORD }) }).replace('"data"', '"d\\u0061ta"'),
      JSON.stringify({ type: 'ADDED', object: { ...secret('la', {}), metadata: { name: 'la', annotations: { [LA]: lastApplied({ apiVersion: 'v1', metadata: { name: 'la' }, data: { password: b64(PASSWORD) } }) } } } }).replace(
        `"${LA}"`,
        `"${LA.replace('/', '\\/')}"`,
      ),
      JSON.stringify({ type: 'ADDED', object: secret('nested', {}, { extra: { kind: 'Secret', data: { password: b64(PASSWORD) } } }) }),
      JSON.stringify({ type: 'ADDED', object: secret('x', { password: PASSWORD }), extra: 1 }),
      `{"type":"ADDED","object":{"kind":"Secret","data":{"password":"${b64(PASSWORD)}"}},"object":{"kind":"Secret","data":{"token":"${b64(TOKEN)}"}}}`,
      JSON.stringify({ type: 'ADDED', object: secret('k', { password: PASSWORD }) }).replace('"kind":"Secret"', '"kind":"Secr\\u0065t"'),
      JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'too old resource version' } }),
    ]
      .map((line) => `${line}\n`)
      .join(''),
    hint: { kind: 'Secret' },
    masked: true,
  },
  {
    name: 'a pretty-printed SecretList',
    text: JSON.stringify(secretList([secretItem('a', { password: PASSWORD }), secretItem('b', {})]), null, 2).replace(/\n/g, '\r\n'),
    hint: { kind: 'Secret' },
    masked: true,
  },
];

describe('JsonStreamMasker', () => {
  for (const c of cases) {
    const rules = c.rules ?? SECRETS_ONLY;
    const hint = c.hint ?? {};
    test(`masks ${c.name} the same as whole, whatever the chunk boundaries`, () => {
      const bytes = Buffer.from(c.text, 'utf8');
      // A pretty-printed document spans lines: compare it as one document.
      const oneDocument = c.text.includes('\r\n');
      const want = oneDocument ? [maskDocument(JSON.parse(c.text), rules, hint).document] : expected(c.text, rules, hint);
      for (const chunks of splits(bytes)) {
        const out = run(chunks, rules, hint);
        const got = oneDocument ? [JSON.parse(out.text)] : parsedLines(out.text);
        assert.deepEqual(got, want, `cut into ${chunks.map((chunk) => chunk.length).join('+')} bytes`);
        assert.equal(out.masked, c.masked);
        if (c.unchanged === true) assert.equal(out.text, c.text);
        assert.ok(!out.text.includes(PASSWORD) || !c.masked || rules !== SECRETS_ONLY, 'no password leaves');
        assert.ok(!out.text.includes(b64(PASSWORD)), 'no base64 password leaves');
      }
    });

    test(`masks ${c.name} held whole (maskWholeBody) as the streaming masker does`, () => {
      const bytes = Buffer.from(c.text, 'utf8');
      const whole = maskWholeBody(bytes, { rules, hint, subject: 'secrets in namespace "prod"' });
      const streamed = run([bytes], rules, hint);
      const text = Buffer.from(whole.bytes).toString('utf8');
      const oneDocument = c.text.includes('\r\n');
      assert.deepEqual(oneDocument ? [JSON.parse(text)] : parsedLines(text), oneDocument ? [JSON.parse(streamed.text)] : parsedLines(streamed.text));
      assert.equal(whole.masked, c.masked);
      if (!c.masked) assert.equal(whole.bytes, bytes, 'nothing masked: the very input');
      assert.ok(!text.includes(b64(PASSWORD)), 'no base64 password leaves');
    });
  }

  test('keeps the cells of a Secret Table watch whose later events carry no column definitions', () => {
    const row = (name: string) => ({ cells: [name, 'Opaque', 1, '1d'], object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: { name } } });
    const first = { type: 'ADDED', object: secretTable([row('a')]) };
    const later = { type: 'ADDED', object: { ...secretTable([row('b')]), columnDefinitions: null } };
    const out = run([Buffer.from(`${JSON.stringify(first)}\n${JSON.stringify(later)}\n`)], SECRETS_ONLY, { kind: 'Secret' });
    const events = parsedLines(out.text) as { object: { rows: { cells: unknown[] }[] } }[];
    assert.deepEqual(events.map((event) => event.object.rows[0]?.cells), [
      ['a', 'Opaque', 1, '1d'],
      ['b', 'Opaque', 1, '1d'],
    ]);
  });

  test('passes a document with nothing to mask on as the very input bytes (no copy)', () => {
    const input = Buffer.from(JSON.stringify(pod('a', 'p', [])));
    const out = run([input]);
    assert.equal(out.pieces.length, 1);
    assert.equal((out.pieces[0] as Uint8Array).buffer, input.buffer);
  });

  const failures: { name: string; chunks: string[]; message: string }[] = [
    {
      name: 'refuses a body cut in the middle of a document',
      chunks: ['{"kind":"Secret","data":{"a":"'],
      message: 'the upstream response for secrets in namespace "prod" ended in the middle of a JSON document; Gatehouse cannot mask it and stopped the response',
    },
    {
      name: 'refuses a body that is not a JSON object',
      chunks: ['hello'],
      message: 'the upstream response for secrets in namespace "prod" carries "h" where a JSON object should start; Gatehouse cannot mask it and stopped the response',
    },
    {
      name: 'refuses a Secret list item that is not valid JSON',
      chunks: ['{"kind":"SecretList","items":[{"data":{"a":"b"}}, {"data":tru}]}'],
      message:
        'the upstream response for secrets in namespace "prod" carries an element of its items array that is not valid JSON (13 bytes); Gatehouse cannot mask it and stopped the response',
    },
    {
      name: 'refuses a Secret list item whose data misses a colon (the fast path proves what it sends)',
      chunks: [`{"kind":"SecretList","items":[{"data" {"a":"${b64(PASSWORD)}"}}]}`],
      message: 'the upstream response for secrets in namespace "prod" carries an element of its items array that is not valid JSON (57 bytes); Gatehouse cannot mask it and stopped the response',
    },
  ];
  for (const f of failures) {
    test(f.name, () => {
      assert.throws(
        () => run(f.chunks.map((chunk) => Buffer.from(chunk)), SECRETS_ONLY, { kind: 'Secret' }),
        (error: unknown) => {
          assert.ok(error instanceof GatehouseError);
          assert.equal(error.code, 'ERR_RESPONSE_UNMASKABLE');
          assert.equal(error.message, f.message);
          return true;
        },
      );
    });
  }

  test('sends each item of a SecretList as soon as the next one starts, holding one item at a time', () => {
    const pieces: Uint8Array[] = [];
    const masker = new JsonStreamMasker({ rules: SECRETS_ONLY, hint: { kind: 'Secret' }, subject: 'secrets' }, (bytes) => pieces.push(bytes));
    masker.push(Buffer.from('{"kind":"SecretList","apiVersion":"v1","metadata":{},"items":['));
    assert.equal(Buffer.concat(pieces).toString(), '{"kind":"SecretList","apiVersion":"v1","metadata":{},"items":[');
    masker.push(Buffer.from(JSON.stringify(secretItem('a', { password: PASSWORD }))));
    const before = pieces.length;
    masker.push(Buffer.from(','));
    assert.ok(pieces.length > before, 'the first item left when the second began');
    assert.ok(!Buffer.concat(pieces).toString().includes(b64(PASSWORD)));
  });
});
