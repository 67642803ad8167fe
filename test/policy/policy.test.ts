import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicy, parsePolicy } from '../../src/policy/policy-file.ts';
import { classifyRequest } from '../../src/request-info.ts';
import type { Decision, Identity, KubeRequest } from '../../src/types.ts';

const alice: Identity = { user: 'alice@example.com', groups: ['dev', 'oncall'], claims: {} };
const bob: Identity = { user: 'bob@example.com', groups: ['ops'], claims: {} };
const nobody: Identity = { user: 'carol@example.com', groups: [], claims: {} };

function request(method: string, target: string): KubeRequest {
  const q = target.indexOf('?');
  return classifyRequest(method, q === -1 ? target : target.slice(0, q), q === -1 ? '' : target.slice(q + 1), { runtime: 'node' });
}

function decide(rulesYaml: string, identity: Identity, method: string, target: string): Decision {
  const engine = compilePolicy(parsePolicy(`apiVersion: gatehouse/v1\nrules:\n${rulesYaml}`, 'test.yaml'));
  return engine.decide(identity, request(method, target));
}

interface Case {
  name: string;
  rules: string;
  identity?: Identity;
  method: string;
  target: string;
  /** Winning rule name, or null for the default deny. */
  rule: string | null;
  effect: Decision['effect'];
}

const allowPods = `
  - { name: allow-pods, effect: allow, resources: [pods] }`;

const cases: Case[] = [
  // default deny and precedence
  { name: 'denies by default when no rule matches', rules: allowPods, method: 'GET', target: '/api/v1/namespaces/dev/services', rule: null, effect: 'deny' },
  { name: 'denies by default with no rules at all', rules: '  []', method: 'GET', target: '/version', rule: null, effect: 'deny' },
  { name: 'allows what an allow rule matches', rules: allowPods, method: 'GET', target: '/api/v1/namespaces/dev/pods', rule: 'allow-pods', effect: 'allow' },
  {
    name: 'lets a deny rule beat an earlier allow rule',
    rules: `${allowPods}
  - { name: no-deletes, effect: deny, verbs: [delete], resources: ["*"] }`,
    method: 'DELETE',
    target: '/api/v1/namespaces/dev/pods/web',
    rule: 'no-deletes',
    effect: 'deny',
  },
  {
    name: 'lets a review rule beat an earlier allow rule',
    rules: `${allowPods}
  - { name: review-deletes, effect: review, verbs: [delete], resources: [pods], review: { approvers: [lead@example.com] } }`,
    method: 'DELETE',
    target: '/api/v1/namespaces/dev/pods/web',
    rule: 'review-deletes',
    effect: 'review',
  },
  {
    name: 'lets a deny rule beat an earlier review rule',
    rules: `
  - { name: review-deletes, effect: review, verbs: [delete], resources: [pods], review: { approvers: [lead@example.com] } }
  - { name: no-deletes, effect: deny, verbs: [delete], resources: ["*"] }`,
    method: 'DELETE',
    target: '/api/v1/namespaces/dev/pods/web',
    rule: 'no-deletes',
    effect: 'deny',
  },
  {
    name: 'names the first matching rule in file order when rules of one effect tie',
    rules: `
  - { name: first, effect: allow, resources: ["p*"] }
  - { name: second, effect: allow, resources: [pods] }
  - { name: third, effect: allow, verbs: [list], resources: [pods] }`,
    method: 'GET',
    target: '/api/v1/pods',
    rule: 'first',
    effect: 'allow',
  },
  {
    name: 'names the first rule in file order across verb and wildcard indexes',
    rules: `
  - { name: specific, effect: allow, verbs: [list], resources: [pods] }
  - { name: general, effect: allow, resources: ["*"] }`,
    method: 'GET',
    target: '/api/v1/pods',
    rule: 'specific',
    effect: 'allow',
  },
  // subjects
  {
    name: 'matches users exactly',
    rules: `
  - { name: bob-only, effect: allow, users: [bob@example.com], resources: ["*"] }`,
    identity: alice,
    method: 'GET',
    target: '/api/v1/pods',
    rule: null,
    effect: 'deny',
  },
  {
    name: 'matches users by prefix',
    rules: `
  - { name: alices, effect: allow, users: ["alice*"], resources: ["*"] }`,
    identity: alice,
    method: 'GET',
    target: '/api/v1/pods',
    rule: 'alices',
    effect: 'allow',
  },
  {
    name: 'matches when any of the caller groups is listed',
    rules: `
  - { name: oncall, effect: allow, groups: [oncall, sre], resources: ["*"] }`,
    identity: alice,
    method: 'GET',
    target: '/api/v1/pods',
    rule: 'oncall',
    effect: 'allow',
  },
  {
    name: 'does not match a caller with no groups against a groups list',
    rules: `
  - { name: oncall, effect: allow, groups: [oncall], resources: ["*"] }`,
    identity: nobody,
    method: 'GET',
    target: '/api/v1/pods',
    rule: null,
    effect: 'deny',
  },
  {
    name: 'requires both users and groups when a rule lists both',
    rules: `
  - { name: alice-in-ops, effect: allow, users: ["alice*"], groups: [ops], resources: ["*"] }`,
    identity: alice,
    method: 'GET',
    target: '/api/v1/pods',
    rule: null,
    effect: 'deny',
  },
  // resources and subresources
  {
    name: 'does not match a subresource with a plain resource',
    rules: allowPods,
    method: 'GET',
    target: '/api/v1/namespaces/dev/pods/web/log',
    rule: null,
    effect: 'deny',
  },
  {
    name: 'matches resource/subresource exactly',
    rules: `
  - { name: logs, effect: allow, resources: [pods/log] }`,
    method: 'GET',
    target: '/api/v1/namespaces/dev/pods/web/log',
    rule: 'logs',
    effect: 'allow',
  },
  {
    name: 'matches any subresource with resource/*',
    rules: `
  - { name: pod-subresources, effect: allow, resources: ["pods/*"] }`,
    method: 'GET',
    target: '/api/v1/namespaces/dev/pods/web/exec',
    rule: 'pod-subresources',
    effect: 'allow',
  },
  {
    name: 'does not match the resource itself with resource/*',
    rules: `
  - { name: pod-subresources, effect: allow, resources: ["pods/*"] }`,
    method: 'GET',
    target: '/api/v1/namespaces/dev/pods/web',
    rule: null,
    effect: 'deny',
  },
  {
    name: 'matches a subresource of any resource with */subresource',
    rules: `
  - { name: statuses, effect: allow, verbs: [get], resources: ["*/status"] }`,
    method: 'GET',
    target: '/apis/apps/v1/namespaces/dev/deployments/web/status',
    rule: 'statuses',
    effect: 'allow',
  },
  {
    name: 'matches subresources too with a lone *',
    rules: `
  - { name: everything, effect: allow, resources: ["*"] }`,
    method: 'GET',
    target: '/api/v1/namespaces/dev/pods/web/log',
    rule: 'everything',
    effect: 'allow',
  },
  {
    name: 'authorizes exec as create whatever the method',
    rules: `
  - { name: read-only, effect: allow, verbs: [get, list, watch], resources: ["*"] }`,
    method: 'GET',
    target: '/api/v1/namespaces/dev/pods/web/exec?command=sh',
    rule: null,
    effect: 'deny',
  },
  {
    name: 'puts exec into production under review',
    rules: `
  - { name: all, effect: allow, resources: ["*"] }
  - { name: prod-exec, effect: review, verbs: [create], resources: [pods/exec], namespaces: ["prod*"], review: { approvers: [lead@example.com] } }`,
    method: 'GET',
    target: '/api/v1/namespaces/prod-eu/pods/web/exec?command=sh',
    rule: 'prod-exec',
    effect: 'review',
  },
  // API groups
  {
    name: 'matches the core group with ""',
    rules: `
  - { name: core, effect: allow, apiGroups: [""], resources: ["*"] }`,
    method: 'GET',
    target: '/apis/apps/v1/deployments',
    rule: null,
    effect: 'deny',
  },
  {
    name: 'matches a named API group',
    rules: `
  - { name: apps, effect: allow, apiGroups: [apps], resources: [deployments] }`,
    method: 'GET',
    target: '/apis/apps/v1/namespaces/dev/deployments',
    rule: 'apps',
    effect: 'allow',
  },
  // namespaces and names
  {
    name: 'matches namespaces by prefix',
    rules: `
  - { name: teams, effect: allow, resources: ["*"], namespaces: ["team-*"] }`,
    method: 'GET',
    target: '/api/v1/namespaces/team-a/pods',
    rule: 'teams',
    effect: 'allow',
  },
  {
    name: 'does not let a namespaced allow rule list across all namespaces',
    rules: `
  - { name: teams, effect: allow, resources: ["*"], namespaces: ["team-*"] }`,
    method: 'GET',
    target: '/api/v1/pods',
    rule: null,
    effect: 'deny',
  },
  {
    name: 'lets a namespaced deny rule refuse a list across all namespaces',
    rules: `
  - { name: all, effect: allow, resources: ["*"] }
  - { name: no-system-secrets, effect: deny, resources: [secrets], namespaces: ["kube-*"] }`,
    method: 'GET',
    target: '/api/v1/secrets',
    rule: 'no-system-secrets',
    effect: 'deny',
  },
  {
    name: 'lets a namespaced deny rule refuse a deletecollection across all namespaces',
    rules: `
  - { name: all, effect: allow, resources: ["*"] }
  - { name: no-system-deletes, effect: deny, verbs: [delete, deletecollection], resources: ["*"], namespaces: [kube-system] }`,
    method: 'DELETE',
    target: '/api/v1/pods',
    rule: 'no-system-deletes',
    effect: 'deny',
  },
  {
    name: 'does not apply a namespaced deny rule to a named cluster-scoped object',
    rules: `
  - { name: all, effect: allow, resources: ["*"] }
  - { name: no-system-deletes, effect: deny, verbs: [delete], resources: ["*"], namespaces: [kube-system] }`,
    method: 'DELETE',
    target: '/api/v1/nodes/node-1',
    rule: 'all',
    effect: 'allow',
  },
  {
    name: 'matches cluster-scoped requests with the namespace ""',
    rules: `
  - { name: cluster-reads, effect: allow, verbs: [get, list], resources: ["*"], namespaces: [""] }`,
    method: 'GET',
    target: '/api/v1/nodes',
    rule: 'cluster-reads',
    effect: 'allow',
  },
  {
    name: 'matches names exactly',
    rules: `
  - { name: one-config, effect: allow, resources: [configmaps], names: [app-config] }`,
    method: 'GET',
    target: '/api/v1/namespaces/dev/configmaps/app-config',
    rule: 'one-config',
    effect: 'allow',
  },
  {
    name: 'matches a name given by a metadata.name field selector',
    rules: `
  - { name: one-config, effect: allow, resources: [configmaps], names: [app-config] }`,
    method: 'GET',
    target: '/api/v1/namespaces/dev/configmaps?fieldSelector=metadata.name%3Dapp-config&watch=true',
    rule: 'one-config',
    effect: 'allow',
  },
  {
    name: 'does not let a named allow rule list the whole collection',
    rules: `
  - { name: one-config, effect: allow, resources: [configmaps], names: [app-config] }`,
    method: 'GET',
    target: '/api/v1/namespaces/dev/configmaps',
    rule: null,
    effect: 'deny',
  },
  {
    name: 'lets a named deny rule refuse a list that would include the object',
    rules: `
  - { name: all, effect: allow, resources: ["*"] }
  - { name: no-db-password, effect: deny, resources: [secrets], names: [db-password] }`,
    method: 'GET',
    target: '/api/v1/namespaces/dev/secrets',
    rule: 'no-db-password',
    effect: 'deny',
  },
  {
    name: 'does not apply a named deny rule to another named object',
    rules: `
  - { name: all, effect: allow, resources: ["*"] }
  - { name: no-db-password, effect: deny, resources: [secrets], names: [db-password] }`,
    method: 'GET',
    target: '/api/v1/namespaces/dev/secrets/tls',
    rule: 'all',
    effect: 'allow',
  },
  {
    name: 'does not apply a named deny rule to a list narrowed to another object',
    rules: `
  - { name: all, effect: allow, resources: ["*"] }
  - { name: no-db-password, effect: deny, resources: [secrets], names: [db-password] }`,
    method: 'GET',
    target: '/api/v1/namespaces/dev/secrets?fieldSelector=metadata.name%3Dtls',
    rule: 'all',
    effect: 'allow',
  },
  // non-resource URLs
  {
    name: 'allows a listed non-resource URL',
    rules: `
  - { name: discovery, effect: allow, verbs: [get], nonResourceURLs: [/api, "/apis/*", /version] }`,
    method: 'GET',
    target: '/apis/apps/v1',
    rule: 'discovery',
    effect: 'allow',
  },
  {
    name: 'does not match /apis with the prefix /apis/*',
    rules: `
  - { name: discovery, effect: allow, verbs: [get], nonResourceURLs: ["/apis/*"] }`,
    method: 'GET',
    target: '/apis',
    rule: null,
    effect: 'deny',
  },
  {
    name: 'keeps head apart from get on non-resource URLs',
    rules: `
  - { name: discovery, effect: allow, verbs: [get], nonResourceURLs: [/healthz] }`,
    method: 'HEAD',
    target: '/healthz',
    rule: null,
    effect: 'deny',
  },
  {
    name: 'matches non-resource URLs on the decoded path, as the API server does',
    rules: `
  - { name: all-urls, effect: allow, nonResourceURLs: ["*"] }
  - { name: no-version, effect: deny, nonResourceURLs: [/version] }`,
    method: 'GET',
    target: '/ver%73ion',
    rule: 'no-version',
    effect: 'deny',
  },
  {
    name: 'does not match resource requests with non-resource rules',
    rules: `
  - { name: all-urls, effect: allow, nonResourceURLs: ["*"] }`,
    method: 'GET',
    target: '/api/v1/pods',
    rule: null,
    effect: 'deny',
  },
  {
    name: 'does not match non-resource requests with resource rules',
    rules: `
  - { name: everything, effect: allow, resources: ["*"] }`,
    method: 'GET',
    target: '/version',
    rule: null,
    effect: 'deny',
  },
];

describe('policy decisions', () => {
  for (const c of cases) {
    test(c.name, () => {
      const decision = decide(c.rules, c.identity ?? alice, c.method, c.target);
      assert.equal(decision.rule, c.rule, decision.reason);
      assert.equal(decision.effect, c.effect);
    });
  }

  test('says "no rule allows it (default deny)" when nothing matches', () => {
    assert.deepEqual(decide(allowPods, alice, 'GET', '/api/v1/secrets'), { effect: 'deny', rule: null, reason: 'no rule allows it (default deny)' });
  });

  test('words the reason with the rule name and its reason', () => {
    const rules = `
  - name: no-prod-deletes
    effect: deny
    verbs: [delete]
    resources: [namespaces]
    namespaces: ["prod*"]
    reason: production namespaces are deleted through change management`;
    assert.deepEqual(decide(rules, alice, 'DELETE', '/api/v1/namespaces/prod'), {
      effect: 'deny',
      rule: 'no-prod-deletes',
      reason: 'denied by rule "no-prod-deletes" (production namespaces are deleted through change management)',
    });
  });

  test('words an allow without a reason', () => {
    assert.deepEqual(decide(allowPods, alice, 'GET', '/api/v1/pods'), { effect: 'allow', rule: 'allow-pods', reason: 'allowed by rule "allow-pods"' });
  });

  test('carries the review settings of a review rule', () => {
    const rules = `
  - name: prod-exec
    effect: review
    resources: [pods/exec]
    reason: a second person watches
    review: { approvers: [lead@example.com, cto@example.com], grant: window, windowSeconds: 900 }`;
    assert.deepEqual(decide(rules, alice, 'POST', '/api/v1/namespaces/prod/pods/web/exec'), {
      effect: 'review',
      rule: 'prod-exec',
      reason: 'requires approval under rule "prod-exec" (a second person watches)',
      review: { approvers: ['lead@example.com', 'cto@example.com'], grant: 'window', windowSeconds: 900, reason: 'a second person watches' },
    });
  });

  test('defaults a review grant to once', () => {
    const rules = `
  - { name: r, effect: review, resources: ["*"], review: { approvers: [lead@example.com] } }`;
    assert.deepEqual(decide(rules, alice, 'DELETE', '/api/v1/namespaces/dev/pods/web').review, { approvers: ['lead@example.com'], grant: 'once', windowSeconds: 0 });
  });

  test('marks a break-glass allow as unmasked', () => {
    const rules = `
  - { name: break-glass, effect: allow, groups: [ops], resources: [secrets], unmasked: true }
  - { name: all, effect: allow, resources: ["*"] }`;
    assert.equal(decide(rules, bob, 'GET', '/api/v1/namespaces/dev/secrets/db').unmasked, true);
    assert.equal(decide(rules, alice, 'GET', '/api/v1/namespaces/dev/secrets/db').unmasked, undefined);
  });

  test('denies a hand-built request whose path cannot be read unambiguously', () => {
    const engine = compilePolicy(parsePolicy('apiVersion: gatehouse/v1\nrules:\n  - { name: all-urls, effect: allow, nonResourceURLs: ["*"] }', 't.yaml'));
    const bad: KubeRequest = { ...request('GET', '/version'), path: '/a/../version' };
    assert.deepEqual(engine.decide(alice, bad), { effect: 'deny', rule: null, reason: 'the path cannot be read unambiguously' });
  });
});
