/** Policy on who vouched for the caller: `issuers` (the token's issuer) and `claims` (an issuer's mapped extra claims). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicy, parsePolicy } from '../../src/policy/policy-file.ts';
import { checkPolicy } from '../../src/policy/policy-schema.ts';
import { classifyRequest } from '../../src/request-info.ts';
import type { Identity } from '../../src/types.ts';

const GITHUB = 'https://token.actions.githubusercontent.com';
const IDP = 'https://idp.example.com';
const RULES = `apiVersion: gatehouse/v1
rules:
  - name: main-deploys-prod
    effect: allow
    issuers: ["${GITHUB}"]
    claims:
      ref: [refs/heads/main]
      repository: [example-org/*]
    verbs: [patch]
    namespaces: [prod]
    resources: [deployments]
  - name: tags-deploy-staging
    effect: allow
    issuers: ["https://token.actions.*"]
    claims:
      ref: ["refs/tags/*"]
    verbs: [patch]
    namespaces: [staging]
    resources: [deployments]
  - name: people-read
    effect: allow
    issuers: ["${IDP}"]
    verbs: [get]
    resources: ["*"]
  - name: no-ci-secrets
    effect: deny
    issuers: ["${GITHUB}"]
    resources: [secrets]
`;
const engine = compilePolicy(parsePolicy(RULES, 'test.yaml'));

const ci = (ref: string, repository = 'example-org/deploy', issuer = GITHUB): Identity => ({
  user: `gh:repo:${repository}:ref:${ref}`,
  groups: [],
  claims: {},
  issuer,
  extra: { ref: [ref], repository: [repository] },
});
const person: Identity = { user: 'alice@example.com', groups: [], claims: {}, issuer: IDP };
const unvouched: Identity = { user: 'alice@example.com', groups: [], claims: {} };

const cases: { name: string; identity: Identity; method: string; path: string; rule: string | null }[] = [
  { name: 'a main-branch job of the org may patch a prod deployment', identity: ci('refs/heads/main'), method: 'PATCH', path: '/apis/apps/v1/namespaces/prod/deployments/web', rule: 'main-deploys-prod' },
  { name: 'a feature-branch job may not (its ref claim does not match)', identity: ci('refs/heads/feature'), method: 'PATCH', path: '/apis/apps/v1/namespaces/prod/deployments/web', rule: null },
  { name: "another org's main branch may not (every listed claim must match)", identity: ci('refs/heads/main', 'other-org/deploy'), method: 'PATCH', path: '/apis/apps/v1/namespaces/prod/deployments/web', rule: null },
  { name: 'the same claims from another issuer do not match', identity: ci('refs/heads/main', 'example-org/deploy', IDP), method: 'PATCH', path: '/apis/apps/v1/namespaces/prod/deployments/web', rule: null },
  { name: 'a claim pattern matches by prefix (tags)', identity: ci('refs/tags/v1.2.3'), method: 'PATCH', path: '/apis/apps/v1/namespaces/staging/deployments/web', rule: 'tags-deploy-staging' },
  { name: 'a person of the IdP may read', identity: person, method: 'GET', path: '/api/v1/namespaces/dev/pods/web', rule: 'people-read' },
  { name: 'an identity no issuer vouched for matches no issuer rule', identity: unvouched, method: 'GET', path: '/api/v1/namespaces/dev/pods/web', rule: null },
  { name: "a deny on the CI issuer beats nothing else and refuses its secrets", identity: ci('refs/heads/main'), method: 'GET', path: '/api/v1/namespaces/prod/secrets/db', rule: 'no-ci-secrets' },
];

describe('policy on issuers and mapped claims', () => {
  for (const c of cases) {
    test(c.name, () => {
      const decision = engine.decide(c.identity, classifyRequest(c.method, c.path, '', { runtime: 'node' }));
      assert.equal(decision.rule, c.rule, decision.reason);
      if (c.rule === null) assert.equal(decision.reason, 'no rule allows it (default deny)');
    });
  }

  test('a claims key that is not a plain name is a problem naming the rule', () => {
    const { problems } = checkPolicy({ apiVersion: 'gatehouse/v1', rules: [{ name: 'x', effect: 'allow', resources: ['*'], claims: { 'a b': ['v'] } }] });
    assert.deepEqual(problems.map((p) => `${p.path.join('.')}: ${p.message}`), ['rules.0.claims: each key must be an extraClaims key: 1-100 letters, digits, "_", ".", ":", "/" or "-"']);
  });
});
