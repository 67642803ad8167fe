/**
 * The precondition a restored write carries, per write shape; Go-style JSON for the
 * last-applied annotation; and the JSON Patch operations restore follows.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { goJson } from '../../src/masking/go-json.ts';
import { applyOperation, valueAt } from '../../src/masking/json-pointer.ts';
import type { WriteShape } from '../../src/masking/restore-placeholders.ts';
import { withPrecondition } from '../../src/masking/write-precondition.ts';

describe('the precondition of a restored write', () => {
  const cases: { name: string; shape: WriteShape; body: unknown; expect: unknown; version?: string }[] = [
    {
      name: 'sets metadata.resourceVersion in an update that names none',
      shape: 'object',
      body: { kind: 'Secret', metadata: { name: 'db' } },
      expect: { kind: 'Secret', metadata: { name: 'db', resourceVersion: '42' } },
    },
    {
      name: 'keeps the resourceVersion an update names (the client’s own, stricter precondition)',
      shape: 'object',
      body: { metadata: { name: 'db', resourceVersion: '40' } },
      expect: { metadata: { name: 'db', resourceVersion: '40' } },
      version: '40',
    },
    {
      name: 'replaces an empty resourceVersion',
      shape: 'apply-patch',
      body: { metadata: { resourceVersion: '' } },
      expect: { metadata: { resourceVersion: '42' } },
    },
    {
      name: 'adds metadata to a merge patch without it',
      shape: 'merge-patch',
      body: { data: { a: 'b' } },
      expect: { data: { a: 'b' }, metadata: { resourceVersion: '42' } },
    },
    {
      name: 'adds metadata.resourceVersion to a strategic merge patch beside its other metadata',
      shape: 'strategic-merge-patch',
      body: { metadata: { labels: { a: 'b' } } },
      expect: { metadata: { labels: { a: 'b' }, resourceVersion: '42' } },
    },
    {
      name: 'ends a JSON Patch with add /metadata/resourceVersion (the patched object then carries it: 409 on a change)',
      shape: 'json-patch',
      body: [{ op: 'replace', path: '/data/a', value: 'b' }],
      expect: [
        { op: 'replace', path: '/data/a', value: 'b' },
        { op: 'add', path: '/metadata/resourceVersion', value: '42' },
      ],
    },
    {
      name: 'keeps a JSON Patch that sets the resourceVersion itself',
      shape: 'json-patch',
      body: [{ op: 'replace', path: '/metadata/resourceVersion', value: '41' }],
      expect: [{ op: 'replace', path: '/metadata/resourceVersion', value: '41' }],
      version: '41',
    },
  ];
  for (const entry of cases) {
    test(entry.name, () => {
      const result = withPrecondition(structuredClone(entry.body), entry.shape, '42');
      assert.deepEqual(result, { body: entry.expect, resourceVersion: entry.version ?? '42' });
    });
  }

  const refused: { name: string; shape: WriteShape; body: unknown }[] = [
    { name: 'cannot condition an object body that is a list', shape: 'merge-patch', body: [1] },
    { name: 'cannot condition a body whose metadata is not an object', shape: 'object', body: { metadata: 'x' } },
    { name: 'cannot condition a JSON Patch that is not a list', shape: 'json-patch', body: { op: 'add' } },
  ];
  for (const entry of refused) test(entry.name, () => assert.equal(withPrecondition(entry.body, entry.shape, '42'), undefined));
});

describe('JSON as Go writes it', () => {
  const cases: [string, unknown, string][] = [
    ['escapes <, > and & as Go does', { a: '<b>&' }, '{"a":"\\u003cb\\u003e\\u0026"}'],
    ['escapes U+2028 and U+2029', { a: '\u2028\u2029' }, '{"a":"\\u2028\\u2029"}'],
    ['writes backspace and form feed as \\u escapes', { a: '\b\f\n' }, '{"a":"\\u0008\\u000c\\n"}'],
    ['leaves an escaped backslash before a b alone', { a: '\\b' }, '{"a":"\\\\b"}'],
    ['keeps key order and writes no spaces', { b: 1, a: [true, null] }, '{"b":1,"a":[true,null]}'],
  ];
  for (const [name, value, expected] of cases) {
    test(name, () => {
      assert.equal(goJson(value), expected);
      assert.deepEqual(JSON.parse(goJson(value)), value, 'still the same JSON');
    });
  }
});

describe('following a JSON Patch', () => {
  const live = (): Record<string, unknown> => ({ data: { a: 'x', b: 'y' }, list: [1, 2, 3] });
  const cases: [string, { op: string; path: string; from?: string; value?: unknown }, unknown][] = [
    ['adds a member', { op: 'add', path: '/data/c', value: 'z' }, { data: { a: 'x', b: 'y', c: 'z' }, list: [1, 2, 3] }],
    ['inserts into a list at an index', { op: 'add', path: '/list/1', value: 9 }, { data: { a: 'x', b: 'y' }, list: [1, 9, 2, 3] }],
    ['appends with -', { op: 'add', path: '/list/-', value: 9 }, { data: { a: 'x', b: 'y' }, list: [1, 2, 3, 9] }],
    ['replaces a member', { op: 'replace', path: '/data/a', value: 'q' }, { data: { a: 'q', b: 'y' }, list: [1, 2, 3] }],
    ['removes a list element', { op: 'remove', path: '/list/0' }, { data: { a: 'x', b: 'y' }, list: [2, 3] }],
    ['moves a member', { op: 'move', from: '/data/a', path: '/moved' }, { data: { b: 'y' }, list: [1, 2, 3], moved: 'x' }],
    ['copies a member', { op: 'copy', from: '/data/b', path: '/list/0' }, { data: { a: 'x', b: 'y' }, list: ['y', 1, 2, 3] }],
    ['leaves the document as it is for test', { op: 'test', path: '/data/a', value: 'x' }, live()],
  ];
  for (const [name, operation, expected] of cases) test(name, () => assert.deepEqual(applyOperation(live(), operation)?.document, expected));

  const failing: [string, { op: string; path: string; from?: string }][] = [
    ['does not replace what is not there', { op: 'replace', path: '/data/none' }],
    ['does not remove past the end of a list', { op: 'remove', path: '/list/3' }],
    ['does not take a list index with a leading zero', { op: 'remove', path: '/list/01' }],
    ['does not move from nowhere', { op: 'move', from: '/none', path: '/x' }],
    ['does not know other operations', { op: 'swap', path: '/data/a' }],
  ];
  for (const [name, operation] of failing) test(name, () => assert.equal(applyOperation(live(), operation), undefined));

  test('reads values by pointer, escapes and all', () => {
    assert.equal(valueAt({ 'a/b': { '~c': 1 } }, ['a/b', '~c']), 1);
    assert.equal(valueAt({ list: [1] }, ['list', '-']), undefined);
  });
});
