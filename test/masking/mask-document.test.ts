import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { maskDocument, maskElement, type MaskHint } from '../../src/masking/mask-document.ts';
import { compileMaskingRules, SECRETS_ONLY, type MaskingRules } from '../../src/masking/masking-rules.ts';
import { placeholderBase64, placeholderText } from '../../src/masking/placeholder.ts';
import { b64, configMap, lastApplied, PASSWORD, pod, secret, secretItem, secretList, secretTable, TOKEN } from './fixtures/objects.ts';

const LA = 'kubectl.kubernetes.io/last-applied-configuration';
const P28 = placeholderBase64(28); // PASSWORD is 28 bytes
const P20 = placeholderBase64(20); // TOKEN is 20 bytes

const clone = <T>(value: T): T => structuredClone(value);

/** The same Secret with its data masked. */
function maskedSecret(name: string, data: Record<string, string>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const object = secret(name, data, extra);
  object['data'] = Object.fromEntries(Object.keys(data).map((key) => [key, placeholderBase64(Buffer.byteLength(data[key] as string))]));
  return object;
}

const rules = compileMaskingRules([
  { name: 'cm-passwords', namespaces: ['prod', 'team-*'], configMapKeys: ['*password*', '*.pem'] },
  { name: 'env-tokens', envNames: ['*_TOKEN'] },
]);

interface Case {
  name: string;
  input: unknown;
  expected: unknown;
  masked: boolean;
  hint?: MaskHint;
  rules?: MaskingRules;
}

const annotated = (object: Record<string, unknown>, annotation: string): Record<string, unknown> => ({
  ...object,
  metadata: { ...(object['metadata'] as object), annotations: { [LA]: annotation, team: 'a' } },
});

const cases: Case[] = [
  {
    name: 'masks every data value of a Secret, keeping the keys and telling the size class',
    input: secret('db', { password: PASSWORD, token: TOKEN, empty: '' }),
    expected: maskedSecret('db', { password: PASSWORD, token: TOKEN, empty: '' }),
    masked: true,
  },
  {
    name: 'masks stringData values as text placeholders',
    input: { ...secret('db', {}), stringData: { password: PASSWORD } },
    expected: { ...secret('db', {}), stringData: { password: placeholderText(28) } },
    masked: true,
  },
  {
    name: 'leaves a Secret without data as it is',
    input: secret('empty', {}),
    expected: secret('empty', {}),
    masked: false,
  },
  {
    name: 'replaces Secret data that is not a map (malformed) whole',
    input: { ...secret('bad', {}), data: [b64(PASSWORD)] },
    expected: { ...secret('bad', {}), data: placeholderText(42) },
    masked: true,
  },
  {
    name: 'keeps a null data value (there is no value to hide)',
    input: { ...secret('n', {}), data: { gone: null } },
    expected: { ...secret('n', {}), data: { gone: null } },
    masked: false,
  },
  {
    name: 'masks the items of a SecretList, which carry no kind',
    input: secretList([secretItem('a', { password: PASSWORD }), secretItem('b', { token: TOKEN })]),
    expected: secretList([
      { ...secretItem('a', {}), data: { password: P28 } },
      { ...secretItem('b', {}), data: { token: P20 } },
    ]),
    masked: true,
  },
  {
    name: 'masks only the Secrets of a List of mixed kinds',
    input: { kind: 'List', apiVersion: 'v1', items: [secret('a', { password: PASSWORD }), configMap('c', 'prod', { password: 'plain' })] },
    expected: { kind: 'List', apiVersion: 'v1', items: [maskedSecret('a', { password: PASSWORD }), configMap('c', 'prod', { password: 'plain' })] },
    masked: true,
  },
  {
    name: 'masks the Secret of a watch event',
    input: { type: 'MODIFIED', object: secret('w', { password: PASSWORD }) },
    expected: { type: 'MODIFIED', object: maskedSecret('w', { password: PASSWORD }) },
    masked: true,
  },
  {
    name: 'masks a watch event whose object names no kind, by the request hint',
    input: { type: 'ADDED', object: secretItem('w', { password: PASSWORD }) },
    expected: { type: 'ADDED', object: { ...secretItem('w', {}), data: { password: P28 } } },
    masked: true,
    hint: { kind: 'Secret' },
  },
  {
    name: 'masks Table rows that include the whole object, keeping the printed cells',
    input: secretTable([{ cells: ['db', 'Opaque', 1, '5d'], object: secret('db', { password: PASSWORD }) }]),
    expected: secretTable([{ cells: ['db', 'Opaque', 1, '5d'], object: maskedSecret('db', { password: PASSWORD }) }]),
    masked: true,
    hint: { kind: 'Secret' },
  },
  {
    name: 'masks a Secret table column the API server does not print for Secrets',
    input: secretTable(
      [{ cells: ['db', 'Opaque', 1, '5d', PASSWORD], object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: { name: 'db' } } }],
      [...(secretTable([])['columnDefinitions'] as unknown[]), { name: 'Password', type: 'string' }],
    ),
    expected: secretTable(
      [{ cells: ['db', 'Opaque', 1, '5d', placeholderText(28)], object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: { name: 'db' } } }],
      [...(secretTable([])['columnDefinitions'] as unknown[]), { name: 'Password', type: 'string' }],
    ),
    masked: true,
    hint: { kind: 'Secret' },
  },
  {
    name: 'masks any cell that carries one of the row Secret values, plain or base64',
    input: secretTable([{ cells: [`db-${PASSWORD}`, b64(TOKEN), 2, '5d'], object: secret('db', { password: PASSWORD, token: TOKEN }) }]),
    expected: secretTable([
      {
        cells: [placeholderText(32), placeholderText(28), 2, '5d'],
        object: maskedSecret('db', { password: PASSWORD, token: TOKEN }),
      },
    ]),
    masked: true,
  },
  {
    name: 'masks the last-applied annotation of a Table row that only has metadata',
    input: secretTable([
      {
        cells: ['db', 'Opaque', 1, '5d'],
        object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: { name: 'db', annotations: { [LA]: lastApplied(secret('db', { password: PASSWORD })) } } },
      },
    ]),
    expected: secretTable([
      {
        cells: ['db', 'Opaque', 1, '5d'],
        object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: { name: 'db', annotations: { [LA]: lastApplied(maskedSecret('db', { password: PASSWORD })) } } },
      },
    ]),
    masked: true,
    hint: { kind: 'Secret' },
  },
  {
    name: 'masks a Secret and its last-applied annotation, which keeps its trailing newline',
    input: annotated(secret('db', { password: PASSWORD }), lastApplied({ apiVersion: 'v1', kind: 'Secret', stringData: { password: PASSWORD } })),
    expected: annotated(maskedSecret('db', { password: PASSWORD }), lastApplied({ apiVersion: 'v1', kind: 'Secret', stringData: { password: placeholderText(28) } })),
    masked: true,
  },
  {
    name: 'masks Secrets inside the last-applied annotation of any kind (an applied List)',
    input: annotated({ kind: 'Deployment', apiVersion: 'apps/v1', metadata: { name: 'web' } }, lastApplied({ kind: 'List', items: [secret('x', { password: PASSWORD })] })),
    expected: annotated({ kind: 'Deployment', apiVersion: 'apps/v1', metadata: { name: 'web' } }, lastApplied({ kind: 'List', items: [maskedSecret('x', { password: PASSWORD })] })),
    masked: true,
  },
  {
    name: 'leaves a last-applied annotation without Secrets byte for byte',
    input: annotated({ kind: 'Deployment', apiVersion: 'apps/v1', metadata: { name: 'web' } }, '{"kind":"Deployment",  "spec":{}}\n'),
    expected: annotated({ kind: 'Deployment', apiVersion: 'apps/v1', metadata: { name: 'web' } }, '{"kind":"Deployment",  "spec":{}}\n'),
    masked: false,
  },
  {
    name: 'replaces a last-applied annotation that does not parse (fail closed)',
    input: annotated(secret('db', {}), '{"kind":"Secret","data":{"p":"aHVudGVy'),
    expected: annotated(secret('db', {}), placeholderText(37)),
    masked: true,
  },
  {
    name: 'masks a Secret embedded anywhere in another object',
    input: { kind: 'Widget', apiVersion: 'x.io/v1', metadata: { name: 'w' }, spec: { template: secret('inner', { password: PASSWORD }) } },
    expected: { kind: 'Widget', apiVersion: 'x.io/v1', metadata: { name: 'w' }, spec: { template: maskedSecret('inner', { password: PASSWORD }) } },
    masked: true,
  },
  {
    name: 'treats a root object with data but no kind and no hint as a Secret (fail closed)',
    input: { metadata: { name: 'x' }, data: { password: b64(PASSWORD) } },
    expected: { metadata: { name: 'x' }, data: { password: P28 } },
    masked: true,
  },
  {
    name: 'masks a merge patch to a Secret by the request hint',
    input: { data: { password: b64(PASSWORD) }, metadata: { labels: { a: 'b' } } },
    expected: { data: { password: P28 }, metadata: { labels: { a: 'b' } } },
    masked: true,
    hint: { kind: 'Secret' },
  },
  {
    name: 'masks the values of a JSON Patch to a Secret, wherever they point',
    input: [
      { op: 'replace', path: '/data/password', value: b64(PASSWORD) },
      { op: 'add', path: '/stringData', value: { token: TOKEN } },
      { op: 'add', path: '/metadata/labels/team', value: 'a' },
      { op: 'remove', path: '/data/old' },
    ],
    expected: [
      { op: 'replace', path: '/data/password', value: P28 },
      { op: 'add', path: '/stringData', value: { token: placeholderText(20) } },
      { op: 'add', path: '/metadata/labels/team', value: 'a' },
      { op: 'remove', path: '/data/old' },
    ],
    masked: true,
    hint: { kind: 'Secret' },
  },
  {
    name: 'leaves ConfigMaps alone when no rule names their keys',
    input: configMap('c', 'prod', { password: PASSWORD }),
    expected: configMap('c', 'prod', { password: PASSWORD }),
    masked: false,
  },
  {
    name: 'masks the ConfigMap keys a rule names, in the namespaces it names',
    input: { kind: 'ConfigMapList', apiVersion: 'v1', items: [configMap('c', 'team-a', { DB_PASSWORD: PASSWORD, mode: 'fast' }), configMap('c', 'dev', { password: PASSWORD })] },
    expected: {
      kind: 'ConfigMapList',
      apiVersion: 'v1',
      items: [configMap('c', 'team-a', { DB_PASSWORD: placeholderText(28), mode: 'fast' }), configMap('c', 'dev', { password: PASSWORD })],
    },
    masked: true,
    rules,
  },
  {
    name: 'masks the env values a rule names in Pods and in pod templates',
    input: {
      kind: 'Deployment',
      apiVersion: 'apps/v1',
      metadata: { name: 'web', namespace: 'dev' },
      spec: { template: { spec: pod('p', 'dev', [{ name: 'API_TOKEN', value: TOKEN }, { name: 'MODE', value: 'fast' }, { name: 'X_TOKEN' }])['spec'] } },
    },
    expected: {
      kind: 'Deployment',
      apiVersion: 'apps/v1',
      metadata: { name: 'web', namespace: 'dev' },
      spec: { template: { spec: pod('p', 'dev', [{ name: 'API_TOKEN', value: placeholderText(20) }, { name: 'MODE', value: 'fast' }, { name: 'X_TOKEN' }])['spec'] } },
    },
    masked: true,
    rules,
  },
  {
    name: 'is idempotent: a masked document stays as it is, and still counts as masked',
    input: secretList([{ ...secretItem('a', {}), data: { password: P28 } }]),
    expected: secretList([{ ...secretItem('a', {}), data: { password: P28 } }]),
    masked: true,
  },
  {
    name: 'leaves objects that hold nothing to mask untouched',
    input: { kind: 'PodList', apiVersion: 'v1', items: [pod('p', 'prod', [{ name: 'API_TOKEN', value: TOKEN }])] },
    expected: { kind: 'PodList', apiVersion: 'v1', items: [pod('p', 'prod', [{ name: 'API_TOKEN', value: TOKEN }])] },
    masked: false,
  },
];

describe('maskDocument', () => {
  for (const c of cases) {
    test(c.name, () => {
      const result = maskDocument(clone(c.input), c.rules ?? SECRETS_ONLY, c.hint);
      assert.deepEqual(result.document, c.expected);
      assert.equal(result.masked, c.masked);
      const serialized = JSON.stringify(result.document);
      if (c.masked && (c.rules ?? SECRETS_ONLY) === SECRETS_ONLY) {
        assert.ok(!serialized.includes(PASSWORD) && !serialized.includes(b64(PASSWORD)), 'no password, plain or base64');
      }
    });
  }
});

describe('maskElement', () => {
  test('masks a list item exactly as maskDocument masks it within the whole list', () => {
    const list = secretList([secretItem('a', { password: PASSWORD })]);
    const { items, ...container } = clone(list);
    const element = maskElement((items as unknown[])[0], 'items', container, SECRETS_ONLY);
    const whole = maskDocument(clone(list), SECRETS_ONLY);
    assert.deepEqual(element.document, (whole.document as { items: unknown[] }).items[0]);
    assert.equal(element.masked, true);
  });

  test('masks every cell of a Secret table row when the column definitions are unknown', () => {
    const row = { cells: ['db', 'Opaque'], object: { kind: 'PartialObjectMetadata', metadata: { name: 'db' } } };
    const result = maskElement(row, 'rows', { kind: 'Table' }, SECRETS_ONLY, { kind: 'Secret' });
    assert.deepEqual((result.document as { cells: unknown[] }).cells, [placeholderText(2), placeholderText(6)]);
  });
});
