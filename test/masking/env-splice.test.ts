import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spliceMaskedEnv } from '../../src/masking/env-splice.ts';
import { maskDocument, type MaskHint } from '../../src/masking/mask-document.ts';
import { maskWholeBody } from '../../src/masking/json-stream-masker.ts';
import { compileMaskingRules, type MaskingRules } from '../../src/masking/masking-rules.ts';
import { lastApplied, PASSWORD, pod, secret, TOKEN } from './fixtures/objects.ts';

const rules = compileMaskingRules([{ name: 'env-tokens', envNames: ['*_TOKEN', '*_PASSWORD'] }]);
const scopedRules = compileMaskingRules([{ name: 'prod-env', namespaces: ['prod'], envNames: ['*_TOKEN'] }]);
const configMapRules = compileMaskingRules([{ name: 'env', envNames: ['*_TOKEN'] }, { name: 'cm', configMapKeys: ['password'] }]);
const LA = 'kubectl.kubernetes.io/last-applied-configuration';

/** What a whole parse masks: the reference the splice must agree with. */
function reference(text: string, maskingRules: MaskingRules, hint: MaskHint): { document: unknown; masked: boolean } {
  return maskDocument(JSON.parse(text), maskingRules, hint);
}

const deployment = {
  kind: 'Deployment',
  apiVersion: 'apps/v1',
  metadata: { name: 'web', namespace: 'prod', labels: { env: 'prod' } },
  spec: {
    template: {
      metadata: { labels: { env: 'prod' } },
      spec: {
        initContainers: [{ name: 'init', env: [{ name: 'INIT_TOKEN', value: TOKEN }] }],
        containers: [
          { name: 'a', env: [{ name: 'A_TOKEN', value: TOKEN }, { name: 'PLAIN', value: 'x' }, { name: 'REF_TOKEN', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] },
          { name: 'b', env: [] },
          { name: 'c', env: [{ name: 'DB_PASSWORD', value: 42 }, { name: 'NULL_TOKEN', value: null }, 'not-an-entry'] },
        ],
      },
    },
  },
};

interface SpliceCase {
  name: string;
  text: string;
  rules?: MaskingRules;
  hint?: MaskHint;
}

const spliced: SpliceCase[] = [
  { name: 'a Pod whose env a rule names', text: JSON.stringify(pod('a', 'prod', [{ name: 'A_TOKEN', value: TOKEN }, { name: 'B', value: 'b' }])) },
  { name: 'a Pod whose env no rule names (the very bytes)', text: JSON.stringify(pod('a', 'prod', [{ name: 'B', value: 'b' }])) },
  { name: 'a Deployment: env arrays at several depths, odd entries, labels named env', text: JSON.stringify(deployment) },
  { name: 'a pretty-printed Deployment with a trailing newline', text: `${JSON.stringify(deployment, null, 2)}\n` },
  {
    name: 'strings, numbers and escapes of every kind around the env',
    text: JSON.stringify({ kind: 'Pod', metadata: { name: 'ü😀', annotations: { q: 'a"b\\c\n\t\u0001/', n: 'x' } }, spec: { n: [-0.5e-3, 0, 12, 1E+2, true, false, null], env: [{ name: 'X_TOKEN', value: 'é"\\' }] } }),
  },
  { name: 'a namespace-scoped rule, the Pod in its namespace', text: JSON.stringify(pod('a', 'prod', [{ name: 'A_TOKEN', value: TOKEN }])), rules: scopedRules },
  { name: 'a namespace-scoped rule, the Pod elsewhere', text: JSON.stringify(pod('a', 'dev', [{ name: 'A_TOKEN', value: TOKEN }])), rules: scopedRules },
  {
    name: 'a namespace-scoped rule, no namespace in the object (the request says)',
    text: JSON.stringify({ kind: 'Pod', metadata: { name: 'a' }, spec: { containers: [{ env: [{ name: 'A_TOKEN', value: TOKEN }] }] } }),
    rules: scopedRules,
    hint: { kind: 'Pod', namespace: 'prod' },
  },
  { name: 'an env key written twice (a parser keeps the last)', text: '{"kind":"Pod","spec":{"env":[{"name":"A_TOKEN","value":"one"}],"env":[{"name":"A_TOKEN","value":"two"}]}}' },
  { name: 'a ConfigMap while no rule masks ConfigMaps', text: JSON.stringify({ kind: 'ConfigMap', metadata: { name: 'c' }, data: { password: PASSWORD }, env: [{ name: 'A_TOKEN', value: TOKEN }] }) },
];

/** Documents only a whole parse may mask: the splice must decline them. */
const declined: SpliceCase[] = [
  { name: 'a Secret', text: JSON.stringify(secret('s', { a: PASSWORD }, { env: [{ name: 'A_TOKEN', value: TOKEN }] })) },
  { name: 'a Pod that names a Secret', text: JSON.stringify({ ...pod('a', 'prod', [{ name: 'A_TOKEN', value: TOKEN }]), extra: { kind: 'Secret', data: { a: 'eA==' } } }) },
  { name: 'a Pod with a last-applied annotation', text: JSON.stringify({ ...pod('a', 'prod', [{ name: 'A_TOKEN', value: TOKEN }]), metadata: { name: 'a', annotations: { [LA]: lastApplied(pod('a', 'prod', [])) } } }) },
  { name: 'a Pod naming a ConfigMap while a rule masks ConfigMaps', text: JSON.stringify({ ...pod('a', 'prod', [{ name: 'A_TOKEN', value: TOKEN }]), ref: { kind: 'ConfigMap' } }), rules: configMapRules },
  { name: 'an env key written with an escape', text: '{"kind":"Pod","spec":{"e\\u006ev":[{"name":"A_TOKEN","value":"t"}]}}' },
  { name: 'an escaped env inside a string', text: '{"kind":"Pod","x":"{\\"env\\":[]}","spec":{"env":[{"name":"A_TOKEN","value":"t"}]}}' },
  { name: 'an env array inside another', text: '{"kind":"Pod","spec":{"env":[{"name":"A_TOKEN","value":"t","nested":{"env":[{"name":"B_TOKEN","value":"u"}]}}]}}' },
  { name: 'no kind (an object of unknown kind counts as a Secret)', text: '{"metadata":{"name":"a"},"spec":{"env":[{"name":"A_TOKEN","value":"t"}]}}' },
  { name: 'a kind that is not a string', text: '{"kind":7,"spec":{"env":[{"name":"A_TOKEN","value":"t"}]}}' },
  { name: 'a kind written twice, the last not a string', text: '{"kind":"Pod","kind":null,"spec":{"env":[{"name":"A_TOKEN","value":"t"}]}}' },
  { name: 'a list', text: JSON.stringify({ kind: 'PodList', items: [pod('a', 'prod', [{ name: 'A_TOKEN', value: TOKEN }])] }) },
  {
    name: 'a List nested in a Pod (its kind-less items holding data count as Secrets)',
    text: JSON.stringify({ ...pod('a', 'prod', [{ name: 'A_TOKEN', value: TOKEN }]), extra: { kind: 'List', items: [{ data: { password: PASSWORD } }] } }),
  },
  {
    name: 'a Table nested in a Pod',
    text: JSON.stringify({ ...pod('a', 'prod', [{ name: 'A_TOKEN', value: TOKEN }]), extra: { kind: 'Table', rows: [{ cells: ['a'], object: { data: { password: PASSWORD } } }] } }),
  },
  { name: 'a nested kind written with an escape', text: '{"kind":"Pod","ref":{"kind":"Li\\u0073t","items":[]},"spec":{"env":[{"name":"A_TOKEN","value":"t"}]}}' },
  { name: 'a Table', text: JSON.stringify({ kind: 'Table', rows: [{ cells: ['a'], object: pod('a', 'prod', [{ name: 'A_TOKEN', value: TOKEN }]) }] }) },
  {
    name: 'a namespace-scoped rule and a nested object with its own namespace',
    text: JSON.stringify({ kind: 'Pod', metadata: { name: 'a', namespace: 'dev' }, spec: { template: { metadata: { namespace: 'prod' }, env: [{ name: 'A_TOKEN', value: TOKEN }] } } }),
    rules: scopedRules,
  },
  {
    name: 'a namespace-scoped rule and metadata written twice, the last without a namespace',
    text: '{"kind":"Pod","metadata":{"namespace":"dev"},"metadata":{"name":"a"},"spec":{"env":[{"name":"A_TOKEN","value":"t"}]}}',
    rules: scopedRules,
    hint: { namespace: 'prod' },
  },
];

/** Malformed: a JSON parser refuses each, so the splice must never answer for them. */
const malformed: string[] = [
  '{"kind":"Pod","spec":{"env":[{"name":"A_TOKEN","value":"t"},]}}',
  '{"kind":"Pod","spec":{"env":[{"name":"A_TOKEN","value":"t"}]},}',
  '{"kind":"Pod","n":01,"spec":{"env":[{"name":"A_TOKEN","value":"t"}]}}',
  '{"kind":"Pod","n":1.,"spec":{"env":[{"name":"A_TOKEN","value":"t"}]}}',
  '{"kind":"Pod","n":.5,"spec":{"env":[{"name":"A_TOKEN","value":"t"}]}}',
  '{"kind":"Pod","n":-,"spec":{"env":[{"name":"A_TOKEN","value":"t"}]}}',
  '{"kind":"Pod","n":1e,"spec":{"env":[{"name":"A_TOKEN","value":"t"}]}}',
  '{"kind":"Pod","n":+1,"spec":{"env":[{"name":"A_TOKEN","value":"t"}]}}',
  '{"kind":"Pod","n":NaN,"spec":{"env":[{"name":"A_TOKEN","value":"t"}]}}',
  '{"kind":"Pod","n":tru,"spec":{"env":[{"name":"A_TOKEN","value":"t"}]}}',
  "{'kind':'Pod','spec':{'env':[{'name':'A_TOKEN','value':'t'}]}}",
  '{"kind":"Pod","s":"a\nb","spec":{"env":[{"name":"A_TOKEN","value":"t"}]}}',
  '{"kind":"Pod","s":"\\x41","spec":{"env":[{"name":"A_TOKEN","value":"t"}]}}',
  '{"kind":"Pod","s":"\\u00g1","spec":{"env":[{"name":"A_TOKEN","value":"t"}]}}',
  '{"kind":"Pod","spec":{"env":[{"name":"A_TOKEN","value":"t"}]}}{}',
  '{"kind":"Pod","spec":{"env":[{"name":"A_TOKEN","value":"t"}]}',
  '{"kind":"Pod","spec":{"env":[{"name":"A_TOKEN","value":"t"}}}',
  '{"kind":"Pod","spec":{"env":[{"name":"A_TOKEN","value":"t"]}]}}',
  '{"kind":"Pod","spec":{"env":[{"name":"A_TOKEN" "value":"t"}]}}',
  '{"kind":"Pod","spec":{"env":[{"name":"A_TOKEN","value":"t"}]}} x',
  '{"kind":"Pod",,"spec":{"env":[{"name":"A_TOKEN","value":"t"}]}}',
  '{"kind":"Pod","spec":{"env":[{"name":"A_TOKEN","value":"t}]}}',
  '{"kind":"Pod","spec":{"env":[{name:"A_TOKEN","value":"t"}]}}',
];

describe('spliceMaskedEnv', () => {
  for (const c of spliced) {
    test(`masks ${c.name} as a whole parse does`, () => {
      const maskingRules = c.rules ?? rules;
      const hint = c.hint ?? { kind: 'Pod' };
      const input = Buffer.from(c.text);
      const out = spliceMaskedEnv(input, maskingRules, hint);
      assert.ok(out !== undefined, 'the splice answers');
      const want = reference(c.text, maskingRules, hint);
      assert.deepEqual(JSON.parse(out.bytes.toString('utf8')), want.document);
      assert.equal(out.masked, want.masked);
      if (!out.masked) assert.equal(out.bytes, input, 'nothing masked: the very input');
      if (out.masked) assert.ok(!out.bytes.includes(TOKEN), 'no token leaves');
    });
  }

  for (const c of declined) {
    test(`leaves ${c.name} to a whole parse`, () => {
      assert.equal(spliceMaskedEnv(Buffer.from(c.text), c.rules ?? rules, c.hint ?? { kind: 'Pod' }), undefined);
    });
  }

  test('leaves bytes that are not UTF-8 to a whole parse', () => {
    const input = Buffer.concat([Buffer.from('{"kind":"Pod","s":"'), Buffer.from([0xff]), Buffer.from('","spec":{"env":[{"name":"A_TOKEN","value":"t"}]}}')]);
    assert.equal(spliceMaskedEnv(input, rules, { kind: 'Pod' }), undefined);
  });

  test('leaves a Pod to a whole parse when the request is about Secrets', () => {
    const text = JSON.stringify(pod('a', 'prod', [{ name: 'A_TOKEN', value: TOKEN }]));
    const out = maskWholeBody(Buffer.from(text), { rules, hint: { kind: 'Secret' }, subject: 'secrets' });
    // The whole parse honours the object's own kind (Pod): the env is masked, nothing else changes.
    assert.deepEqual(JSON.parse(Buffer.from(out.bytes).toString('utf8')), reference(text, rules, { kind: 'Secret' }).document);
  });

  test('answers for none of the malformed documents (a parser refuses each)', () => {
    for (const text of malformed) {
      assert.throws(() => JSON.parse(text), SyntaxError, `the reference parser refuses ${text}`);
      assert.equal(spliceMaskedEnv(Buffer.from(text), rules, { kind: 'Pod' }), undefined, text);
    }
  });

  test('agrees with a whole parse on 5,000 generated documents: lists, Tables, Secrets, ConfigMaps, annotations, env arrays, nested anywhere', () => {
    let state = 424242;
    const next = (limit: number): number => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return (state >>> 8) % limit;
    };
    const pick = <T>(values: readonly T[]): T => values[next(values.length)] as T;
    const KINDS = ['Pod', 'Deployment', 'List', 'PodList', 'Table', 'Secret', 'ConfigMap', 'Foo', undefined] as const;
    const KEYS = ['kind', 'metadata', 'data', 'stringData', 'items', 'rows', 'object', 'cells', 'env', 'spec', 'namespace', 'type', 'x'] as const;
    const value = (depth: number): unknown => {
      const roll = next(depth > 3 ? 3 : 9);
      if (roll === 0) return pick(['s', 'A_TOKEN', TOKEN, 'Secret', 'prod', '']);
      if (roll === 1) return pick([1, null, true]);
      if (roll === 2) return pick(KINDS) ?? 'Pod';
      if (roll === 3) return [value(depth + 1), value(depth + 1)];
      if (roll === 4) return Array.from({ length: 1 + next(3) }, () => ({ name: pick(['A_TOKEN', 'B', 'C_TOKEN']), value: pick([TOKEN, 'v', 7, null]) }));
      if (roll === 5) return { namespace: pick(['prod', 'dev']), annotations: next(4) === 0 ? { [LA]: pick(['{"data":{"a":"b"}}', 'not json']) } : { a: 'b' } };
      // What only an object position makes a Secret of: a kind-less object holding data.
      if (roll === 6) return [{ data: { password: PASSWORD } }, { type: 'ADDED', object: { data: { password: PASSWORD } } }];
      return object(depth + 1);
    };
    const object = (depth: number): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      const kind = pick(KINDS);
      if (kind !== undefined) out['kind'] = kind;
      for (let k = next(4); k > 0; k--) out[pick(KEYS)] = value(depth);
      return out;
    };
    let answered = 0;
    for (let round = 0; round < 5_000; round++) {
      const document = { kind: pick(['Pod', 'Deployment', 'Foo']), ...object(0) };
      const text = JSON.stringify(document);
      for (const maskingRules of [rules, scopedRules, configMapRules]) {
        const hint: MaskHint = { kind: 'Pod', namespace: 'prod' };
        const out = spliceMaskedEnv(Buffer.from(text), maskingRules, hint);
        if (out === undefined) continue;
        answered += 1;
        const want = reference(text, maskingRules, hint);
        assert.deepEqual(JSON.parse(out.bytes.toString('utf8')), want.document, text);
        assert.equal(out.masked, want.masked, text);
      }
    }
    assert.ok(answered > 1000, `the splice answered for ${answered} documents`);
  });

  test('agrees with JSON.parse on 20,000 mutated documents: answers only for what parses, and then as a whole parse masks', () => {
    const seeds = [JSON.stringify(deployment), JSON.stringify(deployment, null, 1), JSON.stringify(pod('a', 'prod', [{ name: 'A_TOKEN', value: 'v"\\é' }]))];
    const alphabet = Buffer.from('{}[]:,"\\ \n\t0123456789-+.eEtrufalsn\u0001xu');
    let state = 12345;
    const next = (limit: number): number => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return (state >>> 8) % limit;
    };
    let answered = 0;
    let refused = 0;
    for (let round = 0; round < 20_000; round++) {
      const bytes = Buffer.from(seeds[round % seeds.length] as string);
      const mutated = Buffer.from(bytes);
      const edits = 1 + next(3);
      let text = mutated.toString('latin1');
      for (let e = 0; e < edits; e++) {
        const at = next(text.length);
        const byte = String.fromCharCode(alphabet[next(alphabet.length)] as number);
        const op = next(3);
        text = op === 0 ? text.slice(0, at) + text.slice(at + 1) : op === 1 ? text.slice(0, at) + byte + text.slice(at) : text.slice(0, at) + byte + text.slice(at + 1);
      }
      const input = Buffer.from(text, 'latin1');
      let parsed: { document: unknown; masked: boolean } | undefined;
      try {
        parsed = reference(input.toString('utf8'), rules, { kind: 'Pod' });
      } catch {
        parsed = undefined;
      }
      const out = spliceMaskedEnv(input, rules, { kind: 'Pod' });
      if (out === undefined) {
        refused += 1;
        continue;
      }
      answered += 1;
      assert.ok(parsed !== undefined, `answered for bytes a parser refuses: ${text}`);
      assert.deepEqual(JSON.parse(out.bytes.toString('utf8')), parsed.document, text);
      assert.equal(out.masked, parsed.masked, text);
    }
    // Both ways were taken, or the test proves nothing.
    assert.ok(answered > 1000 && refused > 1000, `answered ${answered}, refused ${refused}`);
  });
});
