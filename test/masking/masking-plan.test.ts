import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyRequest } from '../../src/request-info.ts';
import { isJsonMediaType, jsonOnlyAccept, planMasking, type MaskingMode } from '../../src/masking/masking-plan.ts';
import { compileMaskingRules, SECRETS_ONLY, type MaskingRules } from '../../src/masking/masking-rules.ts';
import { createDocumentMasker } from '../../src/masking/document-masker.ts';
import { placeholderBase64 } from '../../src/masking/placeholder.ts';

const withRules = compileMaskingRules([
  { name: 'cm', configMapKeys: ['password'] },
  { name: 'env', envNames: ['*_TOKEN'] },
]);

const request = (method: string, path: string, query = '') => classifyRequest(method, path, query, { runtime: 'node' });

describe('planMasking', () => {
  const cases: { name: string; method?: string; path: string; query?: string; rules?: MaskingRules; unmasked?: boolean; mode: MaskingMode; kind?: string; subject?: string }[] = [
    { name: 'masks a Secret read', path: '/api/v1/namespaces/prod/secrets/db', mode: 'mask', kind: 'Secret', subject: 'secrets "db" in namespace "prod"' },
    { name: 'masks a Secret list across namespaces', path: '/api/v1/secrets', mode: 'mask', kind: 'Secret', subject: 'secrets' },
    { name: 'masks a Secret watch (legacy /watch/ path)', path: '/api/v1/watch/namespaces/prod/secrets', mode: 'mask', kind: 'Secret' },
    { name: 'masks what a Secret create returns', method: 'POST', path: '/api/v1/namespaces/prod/secrets', mode: 'mask', kind: 'Secret' },
    { name: 'scans ConfigMaps when no rule names their keys', path: '/api/v1/namespaces/prod/configmaps', mode: 'scan', kind: 'ConfigMap' },
    { name: 'masks ConfigMaps when a rule names their keys', path: '/api/v1/namespaces/prod/configmaps', rules: withRules, mode: 'mask', kind: 'ConfigMap' },
    { name: 'masks Deployments when a rule names env variables', path: '/apis/apps/v1/namespaces/prod/deployments/web', rules: withRules, mode: 'mask', kind: 'Deployment' },
    { name: 'masks what a Pod status update returns when a rule names env variables', method: 'PUT', path: '/api/v1/namespaces/prod/pods/p/status', rules: withRules, mode: 'mask', kind: 'Pod' },
    { name: 'scans any other resource for embedded Secrets', path: '/apis/example.com/v1/widgets', mode: 'scan', subject: 'widgets.example.com' },
    { name: 'leaves pod logs alone', path: '/api/v1/namespaces/prod/pods/p/log', rules: withRules, mode: 'off', kind: 'Pod' },
    { name: 'leaves exec alone', method: 'POST', path: '/api/v1/namespaces/prod/pods/p/exec', rules: withRules, mode: 'off', kind: 'Pod' },
    { name: 'leaves service proxies alone', path: '/api/v1/namespaces/prod/services/s/proxy/x', mode: 'off' },
    { name: 'leaves discovery alone', path: '/apis', mode: 'off' },
    { name: 'leaves /version alone', path: '/version', mode: 'off' },
    { name: 'masks a TokenRequest answer (kubectl create token)', method: 'POST', path: '/api/v1/namespaces/prod/serviceaccounts/deployer/token', mode: 'mask', kind: 'TokenRequest' },
    { name: 'masks a TokenReview (the token under review)', method: 'POST', path: '/apis/authentication.k8s.io/v1/tokenreviews', mode: 'mask', kind: 'TokenReview' },
    { name: 'does not take a ServiceAccount read for a TokenRequest', path: '/api/v1/namespaces/prod/serviceaccounts/deployer', mode: 'scan' },
    { name: 'leaves a break-glass Secret read unmasked', path: '/api/v1/namespaces/prod/secrets/db', unmasked: true, mode: 'off', kind: 'Secret' },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const plan = planMasking(request(c.method ?? 'GET', c.path, c.query ?? ''), c.rules ?? SECRETS_ONLY, c.unmasked ?? false);
      assert.equal(plan.mode, c.mode);
      assert.equal(plan.hint.kind, c.kind);
      if (c.subject !== undefined) assert.equal(plan.subject, c.subject);
    });
  }
});

describe('jsonOnlyAccept', () => {
  const cases: { name: string; accept: string | null; want: string }[] = [
    { name: 'keeps kubectl get’s Table ranges and drops protobuf', accept: 'application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1;g=meta.k8s.io,application/json', want: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' },
    { name: 'asks for JSON when the client asked only for protobuf', accept: 'application/vnd.kubernetes.protobuf', want: 'application/json' },
    { name: 'drops YAML, CBOR and wildcards', accept: 'application/yaml, application/cbor, */*', want: 'application/json' },
    { name: 'asks for JSON when the client sent no Accept', accept: null, want: 'application/json' },
  ];
  for (const c of cases) test(c.name, () => assert.equal(jsonOnlyAccept(c.accept), c.want));
});

describe('isJsonMediaType', () => {
  const cases: [string | null, boolean][] = [
    ['application/json', true],
    ['application/json;stream=watch', true],
    ['Application/JSON; charset=utf-8', true],
    ['application/merge-patch+json', true],
    ['application/vnd.kubernetes.protobuf', false],
    ['application/yaml', false],
    ['text/plain', false],
    [null, false],
  ];
  for (const [type, want] of cases) test(`${want ? 'takes' : 'does not take'} ${type} as JSON`, () => assert.equal(isJsonMediaType(type), want));
});

describe('createDocumentMasker (for session records)', () => {
  const mask = createDocumentMasker(SECRETS_ONLY);
  test('masks a patch to a Secret by the request it belongs to', () => {
    const result = mask({ data: { password: Buffer.from('hunter2hunter2hunter2').toString('base64') } }, request('PATCH', '/api/v1/namespaces/prod/secrets/db'));
    assert.deepEqual(result, { document: { data: { password: placeholderBase64(21) } }, masked: true });
  });
  const credentialAnswers: [string, string, string, Record<string, unknown>, (doc: Record<string, unknown>) => unknown][] = [
    [
      'a TokenRequest answer is recorded without its live token',
      'POST',
      '/api/v1/namespaces/prod/serviceaccounts/deployer/token',
      { kind: 'TokenRequest', apiVersion: 'authentication.k8s.io/v1', spec: { audiences: ['x'] }, status: { token: 'eyJhbGciOiJSUzI1NiJ9.live.token', expirationTimestamp: '2030-01-01T00:00:00Z' } },
      (doc) => (doc['status'] as Record<string, unknown>)['token'],
    ],
    [
      'a TokenReview is recorded without the token it reviews',
      'POST',
      '/apis/authentication.k8s.io/v1/tokenreviews',
      { kind: 'TokenReview', apiVersion: 'authentication.k8s.io/v1', spec: { token: 'eyJhbGciOiJSUzI1NiJ9.live.token' } },
      (doc) => (doc['spec'] as Record<string, unknown>)['token'],
    ],
    [
      'a TokenRequest whose kind is not named is masked by the request it answers',
      'POST',
      '/api/v1/namespaces/prod/serviceaccounts/deployer/token',
      { status: { token: 'eyJhbGciOiJSUzI1NiJ9.live.token' } },
      (doc) => (doc['status'] as Record<string, unknown>)['token'],
    ],
  ];
  for (const [name, method, path, document, token] of credentialAnswers) {
    test(name, () => {
      const result = createDocumentMasker(SECRETS_ONLY)(structuredClone(document), request(method, path));
      assert.equal(result.masked, true);
      const shown = token(result.document as Record<string, unknown>);
      assert.equal(typeof shown, 'string');
      assert.ok(!String(shown).includes('live.token'), String(shown));
    });
  }

  test('a kind named "constructor" is no credential kind (no prototype lookups)', () => {
    const result = createDocumentMasker(SECRETS_ONLY)({ kind: 'constructor', status: { token: 'x' } }, request('POST', '/apis/example.com/v1/widgets'));
    assert.equal(result.masked, false);
  });

  test('masks a break-glass response in the record all the same', () => {
    const result = mask({ kind: 'Secret', data: { a: 'YQ==' } }, undefined);
    assert.deepEqual(result, { document: { kind: 'Secret', data: { a: placeholderBase64(1) } }, masked: true });
  });
});
