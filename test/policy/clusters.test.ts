/** Rules that name clusters: scoped to them, fail closed where the cluster is unknown, and checked against the configured clusters. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicy, parsePolicy } from '../../src/policy/policy-file.ts';
import { clusterProblems } from '../../src/policy/policy.ts';
import { classifyRequest } from '../../src/request-info.ts';
import type { Identity } from '../../src/types.ts';

const alice: Identity = { user: 'alice@example.com', groups: ['dev'], claims: {} };

const POLICY = `apiVersion: gatehouse/v1
rules:
  - { name: dev-anything, effect: allow, clusters: [dev], resources: ["*"] }
  - { name: everyone-reads, effect: allow, verbs: [get, list, watch], resources: ["*"] }
  - { name: staging-writes, effect: allow, clusters: ["staging-*"], verbs: [create, delete], resources: [configmaps] }
  - { name: prod-deletes-reviewed, effect: review, clusters: [prod], verbs: [delete], resources: ["*"], review: { approvers: [lead@example.com] } }
  - { name: no-prod-secrets, effect: deny, clusters: [prod], resources: [secrets] }
  - { name: version-on-dev, effect: allow, clusters: [dev], nonResourceURLs: [/version] }
  - { name: impersonate-bot-on-dev, effect: allow, clusters: [dev], verbs: [impersonate], resources: [users], names: [bot@example.com] }
`;
const engine = compilePolicy(parsePolicy(POLICY, 'clusters.yaml'));

function decide(cluster: string, method: string, path: string): { effect: string; rule: string | null } {
  const { effect, rule } = engine.decide(alice, classifyRequest(method, path, '', { runtime: 'node', cluster }));
  return { effect, rule };
}

describe('policy rules that name clusters', () => {
  const cases: { name: string; cluster: string; method: string; path: string; effect: string; rule: string | null }[] = [
    { name: 'an allow rule naming a cluster allows there', cluster: 'dev', method: 'DELETE', path: '/api/v1/namespaces/a/pods/web', effect: 'allow', rule: 'dev-anything' },
    { name: 'an allow rule naming a cluster allows nothing on another', cluster: 'prod-us', method: 'DELETE', path: '/api/v1/namespaces/a/pods/web', effect: 'deny', rule: null },
    { name: 'a rule without clusters applies on every cluster', cluster: 'prod', method: 'GET', path: '/api/v1/namespaces/a/pods', effect: 'allow', rule: 'everyone-reads' },
    { name: 'a prefix pattern matches the clusters it starts', cluster: 'staging-eu', method: 'POST', path: '/api/v1/namespaces/a/configmaps', effect: 'allow', rule: 'staging-writes' },
    { name: 'a prefix pattern does not match the bare prefix word', cluster: 'staging', method: 'POST', path: '/api/v1/namespaces/a/configmaps', effect: 'deny', rule: null },
    { name: 'a review rule naming prod holds a delete on prod', cluster: 'prod', method: 'DELETE', path: '/api/v1/namespaces/a/configmaps/c', effect: 'review', rule: 'prod-deletes-reviewed' },
    { name: 'a deny rule naming prod beats the everyone-reads allow on prod', cluster: 'prod', method: 'GET', path: '/api/v1/namespaces/a/secrets/db', effect: 'deny', rule: 'no-prod-secrets' },
    { name: 'the same read on dev is allowed', cluster: 'dev', method: 'GET', path: '/api/v1/namespaces/a/secrets/db', effect: 'allow', rule: 'dev-anything' },
    { name: 'a non-resource rule naming a cluster applies there only', cluster: 'dev', method: 'GET', path: '/version', effect: 'allow', rule: 'version-on-dev' },
    { name: 'a non-resource rule naming a cluster does not apply elsewhere', cluster: 'prod', method: 'GET', path: '/version', effect: 'deny', rule: null },
    { name: 'with no cluster known, a deny rule naming clusters still denies (fail closed)', cluster: '', method: 'GET', path: '/api/v1/namespaces/a/secrets/db', effect: 'deny', rule: 'no-prod-secrets' },
    { name: 'with no cluster known, a review rule naming clusters still holds', cluster: '', method: 'DELETE', path: '/api/v1/namespaces/a/pods/web', effect: 'review', rule: 'prod-deletes-reviewed' },
    { name: 'with no cluster known, an allow rule naming clusters never allows', cluster: '', method: 'GET', path: '/version', effect: 'deny', rule: null },
  ];
  for (const { name, cluster, method, path, effect, rule } of cases) {
    test(name, () => assert.deepEqual(decide(cluster, method, path), { effect, rule }));
  }

  test('impersonation is decided per cluster too', () => {
    const asBot = (cluster: string) => engine.decideImpersonation?.(alice, { ...classifyRequest('GET', '/api/v1/users/bot@example.com', '', { runtime: 'node', cluster }), verb: 'impersonate' });
    assert.equal(asBot('dev')?.rule, 'impersonate-bot-on-dev');
    assert.equal(asBot('prod')?.effect, 'deny');
  });

  test('every cluster a rule names must be one the deployment fronts; "*" and a matching prefix are fine', () => {
    assert.deepEqual(clusterProblems(engine, ['dev', 'prod', 'staging-eu']), []);
    assert.deepEqual(clusterProblems(engine, ['dev', 'prd']), [
      'rule "staging-writes" names cluster "staging-*", which matches none of the clusters this Gatehouse fronts ("dev", "prd")',
      'rule "prod-deletes-reviewed" names cluster "prod", which matches none of the clusters this Gatehouse fronts ("dev", "prd")',
      'rule "no-prod-secrets" names cluster "prod", which matches none of the clusters this Gatehouse fronts ("dev", "prd")',
    ]);
  });

  test('a clusters list is checked like any other pattern list', () => {
    assert.throws(
      () => parsePolicy('apiVersion: gatehouse/v1\nrules:\n  - { name: x, effect: allow, clusters: [], resources: ["*"] }\n  - { name: y, effect: allow, clusters: ["p*d"], resources: ["*"] }\n', 'bad.yaml'),
      (error: Error) => {
        assert.match(error.message, /\n {2}- rules\[0\]\.clusters \(line 3\): must not be empty; leave the key out to match anything\n/);
        assert.match(error.message, /\n {2}- rules\[1\]\.clusters\[0\] \(line 4\): a "\*" may only stand alone or end a pattern \(as a prefix match\)$/);
        return true;
      },
    );
  });
});
