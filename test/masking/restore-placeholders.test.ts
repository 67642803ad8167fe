/**
 * Restoring placeholders, as a table: a body (of each write shape), the live object, and what
 * must come out — the restored body, the restored paths, or the fields refused and why.
 * Every case also checks that no live value appears in what would be said to the caller
 * (paths and reasons) and that the input body is left as it was.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LAST_APPLIED } from '../../src/masking/mask-document.ts';
import { compileMaskingRules, SECRETS_ONLY, type MaskingRules } from '../../src/masking/masking-rules.ts';
import { placeholderBase64, placeholderText } from '../../src/masking/placeholder.ts';
import { restorePlaceholders, type Restoration, type UnrestorableReason, type WriteShape } from '../../src/masking/restore-placeholders.ts';

const b64 = (text: string): string => Buffer.from(text).toString('base64');
const PASSWORD = 'correct-horse-battery-staple'; // 28 bytes: 16-63
const OTHER = 'another-horse-battery-stap!'; // 27 bytes: the same size class
const SHORT = 'short';
const TOKEN = 'tok_0123456789abcdef0123';
const PH = placeholderBase64(PASSWORD.length);
const PH_SHORT = placeholderBase64(SHORT.length);
const ENV_RULES = compileMaskingRules([{ name: 'tokens', envNames: ['*_TOKEN'] }]);

const SECRET = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'prod', resourceVersion: '7' }, type: 'Opaque', data: { password: b64(PASSWORD), user: b64('admin') } };
const APPLIED_REAL = `${JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'prod' }, data: { password: b64(PASSWORD) } })}\n`;
const APPLIED_MASKED = `${JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'prod' }, data: { password: PH } })}\n`;
const SECRET_APPLIED = { ...SECRET, metadata: { ...SECRET.metadata, annotations: { [LAST_APPLIED]: APPLIED_REAL } } };
const DEPLOYMENT = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'api', namespace: 'prod', resourceVersion: '9' },
  spec: {
    template: {
      spec: {
        containers: [
          { name: 'sidecar', image: 'envoy', env: [{ name: 'SIDECAR_TOKEN', value: SHORT }] },
          { name: 'web', image: 'nginx', env: [{ name: 'LOG_LEVEL', value: 'info' }, { name: 'API_TOKEN', value: TOKEN }] },
        ],
      },
    },
  },
};

interface Case {
  name: string;
  shape: WriteShape;
  body: unknown;
  live: unknown;
  rules?: MaskingRules;
  kind?: string;
  restored?: string[];
  /** The restored body, when it is to be checked whole. */
  expect?: unknown;
  unrestorable?: [string, UnrestorableReason][];
}

const cases: Case[] = [
  {
    name: 'restores a Secret data placeholder in a whole object (update) from the same field of the live object',
    shape: 'object',
    body: { ...SECRET, metadata: { name: 'db', namespace: 'prod' }, data: { password: PH, user: b64('root') } },
    live: SECRET,
    restored: ['data.password'],
    expect: { ...SECRET, metadata: { name: 'db', namespace: 'prod' }, data: { password: b64(PASSWORD), user: b64('root') } },
  },
  {
    name: 'restores a merge patch that names no kind (the request says Secret)',
    shape: 'merge-patch',
    body: { metadata: { labels: { team: 'a' } }, data: { password: PH } },
    live: SECRET,
    restored: ['data.password'],
    expect: { metadata: { labels: { team: 'a' } }, data: { password: b64(PASSWORD) } },
  },
  {
    name: 'restores a stringData placeholder from a live stringData value (text placeholder)',
    shape: 'strategic-merge-patch',
    body: { stringData: { note: placeholderText(PASSWORD.length) } },
    live: { ...SECRET, stringData: { note: PASSWORD } },
    restored: ['stringData.note'],
  },
  {
    name: 'restores a key with dots, and says so in the API server’s bracket form',
    shape: 'apply-patch',
    body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db' }, data: { 'tls.crt': PH } },
    live: { ...SECRET, data: { 'tls.crt': b64(PASSWORD) } },
    restored: ['data[tls.crt]'],
  },
  {
    name: 'refuses a placeholder whose size class is not the live value’s (the value changed)',
    shape: 'merge-patch',
    body: { data: { password: PH_SHORT } },
    live: SECRET,
    unrestorable: [['data.password', 'mismatch']],
  },
  {
    name: 'refuses the text placeholder where the live field is bytes (base64 expected)',
    shape: 'merge-patch',
    body: { data: { password: placeholderText(PASSWORD.length) } },
    live: SECRET,
    unrestorable: [['data.password', 'mismatch']],
  },
  {
    name: 'refuses a placeholder moved to another key of the same object',
    shape: 'merge-patch',
    body: { data: { copy: PH } },
    live: SECRET,
    unrestorable: [['data.copy', 'no-live-value']],
  },
  {
    name: 'refuses every placeholder of a create: there is no live object',
    shape: 'object',
    body: { ...SECRET, data: { password: PH, user: PH_SHORT } },
    live: undefined,
    unrestorable: [
      ['data.password', 'no-live-object'],
      ['data.user', 'no-live-object'],
    ],
  },
  {
    name: 'refuses a placeholder inside a longer text, even where the rest matches',
    shape: 'merge-patch',
    body: { data: { password: `${PH}x` } },
    live: SECRET,
    unrestorable: [['data.password', 'inside-text']],
  },
  {
    name: 'refuses a placeholder in a field name',
    shape: 'merge-patch',
    body: { data: { [placeholderText(3)]: b64('x') } },
    live: SECRET,
    unrestorable: [[`data[${placeholderText(3)}]`, 'field-name']],
  },
  {
    name: 'never restores where masking does not hide the value: a label holding the same text as the data',
    shape: 'merge-patch',
    body: { metadata: { labels: { leak: PH } } },
    live: { ...SECRET, metadata: { ...SECRET.metadata, labels: { leak: b64(PASSWORD) } } },
    unrestorable: [['metadata.labels.leak', 'mismatch']],
  },
  {
    name: 'restores a ConfigMap key a masking rule names (text and binary), and only where the rule applies',
    shape: 'merge-patch',
    kind: 'ConfigMap',
    rules: compileMaskingRules([{ name: 'passwords', namespaces: ['prod'], configMapKeys: ['*password*'] }]),
    body: { data: { db_password: placeholderText(PASSWORD.length), mode: placeholderText(4) }, binaryData: { 'password.bin': placeholderBase64(SHORT.length) } },
    live: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'app', namespace: 'prod', resourceVersion: '3' }, data: { db_password: PASSWORD, mode: 'fast' }, binaryData: { 'password.bin': b64(SHORT) } },
    unrestorable: [['data.mode', 'mismatch']],
  },
  {
    name: 'restores the ConfigMap keys a masking rule names, text and binary',
    shape: 'merge-patch',
    kind: 'ConfigMap',
    rules: compileMaskingRules([{ name: 'passwords', configMapKeys: ['*password*'] }]),
    body: { data: { db_password: placeholderText(PASSWORD.length) }, binaryData: { 'password.bin': placeholderBase64(SHORT.length) } },
    live: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'app', namespace: 'prod', resourceVersion: '3' }, data: { db_password: PASSWORD, mode: 'fast' }, binaryData: { 'password.bin': b64(SHORT) } },
    restored: ['data.db_password', 'binaryData[password.bin]'],
    expect: { data: { db_password: PASSWORD }, binaryData: { 'password.bin': b64(SHORT) } },
  },
  {
    name: 'restores env values by container and variable name, whatever their positions in the body',
    shape: 'strategic-merge-patch',
    kind: 'Deployment',
    rules: ENV_RULES,
    body: { spec: { template: { spec: { containers: [{ name: 'web', env: [{ name: 'API_TOKEN', value: placeholderText(TOKEN.length) }] }] } } } },
    live: DEPLOYMENT,
    restored: ['spec.template.spec.containers[0].env[0].value'],
    expect: { spec: { template: { spec: { containers: [{ name: 'web', env: [{ name: 'API_TOKEN', value: TOKEN }] }] } } } },
  },
  {
    name: 'refuses an env placeholder taken from another container',
    shape: 'strategic-merge-patch',
    kind: 'Deployment',
    rules: ENV_RULES,
    body: { spec: { template: { spec: { containers: [{ name: 'sidecar', env: [{ name: 'API_TOKEN', value: placeholderText(TOKEN.length) }] }] } } } },
    live: DEPLOYMENT,
    unrestorable: [['spec.template.spec.containers[0].env[0].value', 'no-live-value']],
  },
  {
    name: 'refuses an env placeholder for a variable no rule masks (it would not be hidden again)',
    shape: 'strategic-merge-patch',
    kind: 'Deployment',
    rules: ENV_RULES,
    body: { spec: { template: { spec: { containers: [{ name: 'web', env: [{ name: 'LOG_LEVEL', value: placeholderText(4) }] }] } } } },
    live: DEPLOYMENT,
    unrestorable: [['spec.template.spec.containers[0].env[0].value', 'mismatch']],
  },
  {
    name: 'restores the last-applied annotation whole when it is the masked live one (kubectl’s SSA migration)',
    shape: 'apply-patch',
    body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'prod', annotations: { [LAST_APPLIED]: APPLIED_MASKED } } },
    live: SECRET_APPLIED,
    restored: [`metadata.annotations[${LAST_APPLIED}]`],
    expect: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'prod', annotations: { [LAST_APPLIED]: APPLIED_REAL } } },
  },
  {
    name: 'restores values inside a new last-applied annotation from the live object (kubectl edit --save-config, apply of what get showed)',
    shape: 'strategic-merge-patch',
    body: { metadata: { annotations: { [LAST_APPLIED]: `${JSON.stringify({ kind: 'Secret', metadata: { name: 'db', labels: { a: '<&>' } }, data: { password: PH, user: placeholderBase64(5) } })}\n` } } },
    live: SECRET,
    restored: [`metadata.annotations[${LAST_APPLIED}].data.password`, `metadata.annotations[${LAST_APPLIED}].data.user`],
    expect: {
      metadata: {
        annotations: {
          [LAST_APPLIED]: `{"kind":"Secret","metadata":{"name":"db","labels":{"a":"\\u003c\\u0026\\u003e"}},"data":{"password":"${b64(PASSWORD)}","user":"${b64('admin')}"}}\n`,
        },
      },
    },
  },
  {
    name: 'restores a value inside the annotation from the live annotation when the object has no such field (stringData)',
    shape: 'merge-patch',
    body: { metadata: { annotations: { [LAST_APPLIED]: JSON.stringify({ kind: 'Secret', stringData: { token: placeholderText(TOKEN.length) }, metadata: { labels: { new: 'x' } } }) } } },
    live: { ...SECRET, metadata: { ...SECRET.metadata, annotations: { [LAST_APPLIED]: JSON.stringify({ kind: 'Secret', stringData: { token: TOKEN } }) } } },
    restored: [`metadata.annotations[${LAST_APPLIED}].stringData.token`],
  },
  {
    name: 'refuses a placeholder inside the annotation that matches nothing live',
    shape: 'merge-patch',
    body: { metadata: { annotations: { [LAST_APPLIED]: JSON.stringify({ kind: 'Secret', data: { other: PH } }) } } },
    live: SECRET_APPLIED,
    unrestorable: [[`metadata.annotations[${LAST_APPLIED}].data.other`, 'no-live-value']],
  },
  {
    name: 'refuses an annotation that claims another kind: the restored value would not be masked inside it',
    shape: 'merge-patch',
    body: { metadata: { annotations: { [LAST_APPLIED]: JSON.stringify({ kind: 'ConfigMap', data: { password: PH } }) } } },
    live: SECRET,
    unrestorable: [[`metadata.annotations[${LAST_APPLIED}].data.password`, 'not-masked-there']],
  },
  {
    name: 'refuses an annotation with a placeholder that does not parse',
    shape: 'merge-patch',
    body: { metadata: { annotations: { [LAST_APPLIED]: `{"data":{"password":"${PH}"` } } },
    live: SECRET_APPLIED,
    unrestorable: [[`metadata.annotations[${LAST_APPLIED}]`, 'annotation-unparsable']],
  },
  {
    name: 'restores a JSON Patch replace from the value at its path',
    shape: 'json-patch',
    body: [{ op: 'replace', path: '/data/password', value: PH }, { op: 'add', path: '/metadata/labels', value: { a: 'b' } }],
    live: SECRET,
    restored: ['data.password'],
    expect: [{ op: 'replace', path: '/data/password', value: b64(PASSWORD) }, { op: 'add', path: '/metadata/labels', value: { a: 'b' } }],
  },
  {
    name: 'restores a JSON Patch whose value is a whole map, field by field',
    shape: 'json-patch',
    body: [{ op: 'add', path: '/data', value: { password: PH, extra: b64('new') } }],
    live: SECRET,
    restored: ['data.password'],
    expect: [{ op: 'add', path: '/data', value: { password: b64(PASSWORD), extra: b64('new') } }],
  },
  {
    name: 'follows earlier JSON Patch operations: after a move, the placeholder names what stands there then',
    shape: 'json-patch',
    body: [
      { op: 'move', from: '/data/password', path: '/data/renamed' },
      { op: 'replace', path: '/data/renamed', value: PH },
    ],
    live: SECRET,
    restored: ['data.renamed'],
  },
  {
    name: 'refuses a JSON Patch placeholder for a value an earlier operation removed',
    shape: 'json-patch',
    body: [
      { op: 'remove', path: '/data/password' },
      { op: 'add', path: '/data/password', value: PH },
    ],
    live: SECRET,
    unrestorable: [['data.password', 'no-live-value']],
  },
  {
    name: 'refuses a JSON Patch placeholder in a new list element',
    shape: 'json-patch',
    kind: 'Deployment',
    rules: ENV_RULES,
    body: [{ op: 'add', path: '/spec/template/spec/containers/1/env/-', value: { name: 'API_TOKEN', value: placeholderText(TOKEN.length) } }],
    live: DEPLOYMENT,
    unrestorable: [['spec.template.spec.containers[1].env[-].value', 'new-element']],
  },
  {
    name: 'refuses JSON Patch placeholders after an operation that does not apply',
    shape: 'json-patch',
    body: [
      { op: 'remove', path: '/data/missing' },
      { op: 'replace', path: '/data/password', value: PH },
    ],
    live: SECRET,
    unrestorable: [['data.password', 'patch-does-not-apply']],
  },
  {
    name: 'refuses a JSON Patch that moves a restored value where masking does not hide it',
    shape: 'json-patch',
    body: [
      { op: 'replace', path: '/data/password', value: PH },
      { op: 'move', from: '/data/password', path: '/metadata/annotations' },
    ],
    live: SECRET,
    unrestorable: [['data.password', 'not-masked-there']],
  },
  {
    name: 'restores a JSON Patch env value by its position',
    shape: 'json-patch',
    kind: 'Deployment',
    rules: ENV_RULES,
    body: [{ op: 'replace', path: '/spec/template/spec/containers/1/env/1/value', value: placeholderText(TOKEN.length) }],
    live: DEPLOYMENT,
    restored: ['spec.template.spec.containers[1].env[1].value'],
  },
];

function run(entry: Case): Restoration {
  const hint = { kind: entry.kind ?? 'Secret', namespace: 'prod' };
  return restorePlaceholders(entry.body, entry.shape, entry.live, entry.rules ?? SECRETS_ONLY, hint);
}

describe('restoring placeholders', () => {
  for (const entry of cases) {
    test(entry.name, () => {
      const sent = structuredClone(entry.body);
      const result = run(entry);
      assert.deepEqual(entry.body, sent, 'the body as sent is left as it was');
      assert.deepEqual(
        result.unrestorable.map((item) => [item.path, item.reason]),
        entry.unrestorable ?? [],
        'unrestorable',
      );
      if (entry.unrestorable === undefined) assert.deepEqual(result.restored, entry.restored ?? [], 'restored');
      if (entry.expect !== undefined) assert.deepEqual(result.body, entry.expect);
      const said = JSON.stringify([result.restored, result.unrestorable]);
      for (const value of [PASSWORD, TOKEN, SHORT, OTHER]) {
        assert.ok(!said.includes(value) && !said.includes(b64(value)), `what the caller is told names no value (${value})`);
      }
    });
  }

  test('a body without placeholders comes back equal, nothing restored, nothing refused', () => {
    const body = { data: { password: b64(OTHER) }, metadata: { labels: { a: 'b' } } };
    const result = restorePlaceholders(body, 'merge-patch', SECRET, SECRETS_ONLY, { kind: 'Secret' });
    assert.deepEqual(result, { body, restored: [], unrestorable: [], maskedReads: [] });
  });
});

describe('JSON Patch operations that read values', () => {
  const reads: { name: string; body: unknown[]; live?: unknown; kind?: string; rules?: MaskingRules; expect: [number, string, string][] }[] = [
    { name: 'refuses a copy of a Secret value (to an annotation, where it would show)', body: [{ op: 'copy', from: '/data/password', path: '/metadata/annotations/leak' }], expect: [[0, 'copy', '/data/password']] },
    { name: 'refuses a move of the whole data map', body: [{ op: 'move', from: '/data', path: '/metadata/labels' }], expect: [[0, 'move', '/data']] },
    { name: 'refuses a test of a Secret value (an oracle for guesses)', body: [{ op: 'test', path: '/data/password', value: b64('guess') }], expect: [[0, 'test', '/data/password']] },
    { name: 'refuses a test of the whole object', body: [{ op: 'test', path: '', value: {} }], expect: [[0, 'test', '']] },
    {
      name: 'refuses a copy of the last-applied annotation (it holds the values)',
      body: [{ op: 'copy', from: `/metadata/annotations/${LAST_APPLIED.replace('/', '~1')}`, path: '/metadata/annotations/x' }],
      live: SECRET_APPLIED,
      expect: [[0, 'copy', `/metadata/annotations/${LAST_APPLIED.replace('/', '~1')}`]],
    },
    {
      name: 'refuses a copy of a masked env value by position',
      body: [{ op: 'copy', from: '/spec/template/spec/containers/1/env/1/value', path: '/metadata/annotations/x' }],
      live: DEPLOYMENT,
      kind: 'Deployment',
      rules: ENV_RULES,
      expect: [[0, 'copy', '/spec/template/spec/containers/1/env/1/value']],
    },
    { name: 'allows the test on resourceVersion kubectl sends when it migrates managed fields', body: [{ op: 'test', path: '/metadata/resourceVersion', value: '7' }, { op: 'replace', path: '/metadata/managedFields', value: [] }], expect: [] },
    { name: 'allows a copy of a label', body: [{ op: 'copy', from: '/metadata/name', path: '/metadata/labels' }], expect: [] },
    {
      name: 'allows a copy of an env value no rule masks',
      body: [{ op: 'copy', from: '/spec/template/spec/containers/1/env/0/value', path: '/metadata/annotations/x' }],
      live: DEPLOYMENT,
      kind: 'Deployment',
      rules: ENV_RULES,
      expect: [],
    },
    {
      name: 'follows earlier operations: a copy of a value the patch itself wrote reads nothing hidden (the caller knows it)',
      body: [{ op: 'replace', path: '/data/password', value: b64('mine') }, { op: 'copy', from: '/data/password', path: '/metadata/annotations/x' }],
      expect: [],
    },
    {
      name: 'follows earlier operations: a copy from where an earlier move put a Secret value is a masked read',
      body: [{ op: 'move', from: '/data/password', path: '/data/moved' }, { op: 'copy', from: '/data/moved', path: '/metadata/annotations/x' }],
      expect: [
        [0, 'move', '/data/password'],
        [1, 'copy', '/data/moved'],
      ],
    },
  ];
  for (const entry of reads) {
    test(entry.name, () => {
      const result = restorePlaceholders(entry.body, 'json-patch', entry.live ?? SECRET, entry.rules ?? SECRETS_ONLY, { kind: entry.kind ?? 'Secret', namespace: 'prod' });
      assert.deepEqual(
        result.maskedReads.map((read) => [read.operation, read.op, read.pointer]),
        entry.expect,
      );
    });
  }

  test('cannot tell what a patch reads without the live object, so every reading operation counts', () => {
    const result = restorePlaceholders([{ op: 'copy', from: '/metadata/name', path: '/metadata/labels' }], 'json-patch', undefined, SECRETS_ONLY, { kind: 'Secret' });
    assert.deepEqual(result.maskedReads, [{ operation: 0, op: 'copy', pointer: '/metadata/name' }]);
  });
});
