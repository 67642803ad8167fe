// kubectl --as / --as-group through Gatehouse (real kubectl, the stand-in behind): allowed only
// where the policy grants the caller `impersonate` on that user / group, then decided,
// forwarded and recorded as the impersonated identity with the real caller beside it; refused
// (403, naming what) otherwise — and by default, as before.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicy } from '../../src/policy/policy.ts';
import { parsePolicy } from '../../src/policy/policy-file.ts';
import type { KubeRequest } from '../../src/types.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { DISCOVERY_RULES } from '../support/kubectl-fixtures.ts';

const POLICY = `${DISCOVERY_RULES}  - name: developers-may-act-as-the-support-bot
    effect: allow
    groups: ["developers"]
    verbs: ["impersonate"]
    resources: ["users", "groups"]
    names: ["support-bot@example.com", "viewers"]
  - name: never-as-admins
    effect: deny
    verbs: ["impersonate"]
    resources: ["groups"]
    names: ["system:masters"]
    reason: "nobody acts as cluster admin through Gatehouse"
  - name: viewers-read-pods
    effect: allow
    groups: ["viewers"]
    verbs: ["get", "list"]
    resources: ["pods"]
  - name: bot-deletes-need-approval
    effect: review
    users: ["support-bot@example.com"]
    verbs: ["delete"]
    resources: ["configmaps"]
    review: { approvers: ["you@example.com"], grant: once }
  - name: the-bot-reads-configmaps
    effect: allow
    users: ["support-bot@example.com"]
    verbs: ["get", "list"]
    resources: ["configmaps"]
`;

const ME = 'user "you@example.com" (groups: developers)';

describe('kubectl --as through Gatehouse', () => {
  let h: Harness;
  let defaults: Harness;

  before(async () => {
    h = await startHarness({ policy: POLICY });
    h.api.store.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default' }, spec: { containers: [{ name: 'web', image: 'nginx' }] } });
    h.api.store.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'default' }, data: { a: '1' } });
    defaults = await startHarness();
  });
  after(async () => {
    await h?.close();
    await defaults?.close();
  });


  const allowed = [
    { name: 'acting as a granted user is decided as that user', args: ['get', 'configmap', 'settings', '-o', 'name', '--as', 'support-bot@example.com'], out: 'configmap/settings\n', user: 'support-bot@example.com', groups: [] },
    { name: 'a granted user with a granted group gets that group upstream', args: ['get', 'pod', 'web', '-o', 'name', '--as', 'support-bot@example.com', '--as-group', 'viewers'], out: 'pod/web\n', user: 'support-bot@example.com', groups: ['viewers'] },
  ];
  for (const { name, args, out, user, groups } of allowed) {
    test(name, async () => {
      const from = h.mark();
      const result = await h.kubectl('1.33', args);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, out);
      const upstream = h.receivedSince(from).filter((r) => r.path.startsWith('/api/v1/namespaces/'));
      assert.equal(upstream.length, 1);
      assert.equal(upstream[0]?.user, user, 'the impersonated user travels upstream');
      assert.deepEqual(upstream[0]?.groups, groups, 'only the impersonated groups, never the caller\'s');
    });
  }

  const refused = [
    { name: 'a user the caller may not act as is refused', args: ['get', 'pods', '--as', 'carol@example.com'], message: `${ME} may not impersonate users "carol@example.com": no rule allows it (default deny)` },
    { name: 'a group the caller may not add is refused', args: ['get', 'pods', '--as', 'support-bot@example.com', '--as-group', 'admins'], message: `${ME} may not impersonate groups "admins": no rule allows it (default deny)` },
    {
      name: 'a denied group is refused with its rule',
      args: ['get', 'pods', '--as', 'support-bot@example.com', '--as-group', 'system:masters'],
      message: `${ME} may not impersonate groups "system:masters": denied by rule "never-as-admins" (nobody acts as cluster admin through Gatehouse)`,
    },
    {
      name: 'the impersonated identity gets only its own rights',
      args: ['get', 'pods', '--as', 'support-bot@example.com'],
      message: 'user "support-bot@example.com" (no groups) may not list pods in namespace "default": no rule allows it (default deny)',
    },
  ];
  for (const { name, args, message } of refused) {
    test(name, async () => {
      const from = h.mark();
      const result = await h.kubectl('1.33', args);
      assert.equal(result.code, 1);
      assert.equal(result.stderr.trim(), `Error from server (Forbidden): ${message}`);
      assert.equal(h.receivedSince(from).filter((r) => r.path.startsWith('/api/v1/namespaces/')).length, 0, 'nothing reached the cluster');
    });
  }

  test('the impersonator is never an approver of what it asked for as someone else', async () => {
    const from = h.mark();
    const result = await h.kubectl('1.33', ['delete', 'configmap', 'settings', '--as', 'support-bot@example.com']);
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr.trim(),
      'Error from server (Forbidden): user "support-bot@example.com" may not delete configmaps without approval (rule "bot-deletes-need-approval"), and the rule names no approver other than the requester',
    );
    assert.equal(h.receivedSince(from).filter((r) => r.method === 'DELETE').length, 0);
  });

  test('without an impersonate rule (the default policy) --as is refused as before', async () => {
    const from = defaults.mark();
    const result = await defaults.kubectl('1.33', ['get', '--raw', '/api/v1/namespaces/default/pods', '--as', 'someone@example.com']);
    assert.equal(result.code, 1);
    assert.equal(defaults.receivedSince(from).length, 0, 'nothing reached the cluster');
    assert.match(result.stderr, /^Error from server \(Forbidden\): user "you@example.com" \(groups: developers\) may not impersonate users "someone@example.com": no rule allows it \(default deny\)/);
  });

  test('the record names the impersonated identity and the real caller', async () => {
    const recorded = (await h.records()).filter((r) => r.phase === 'outcome' && r.verb === 'get' && r.resource === 'configmaps' && r.object_name === 'settings');
    assert.equal(recorded.length, 1);
    assert.equal(recorded[0]?.user_name, 'support-bot@example.com');
    assert.deepEqual(recorded[0]?.user_groups, []);
    assert.equal(recorded[0]?.impersonator_user, 'you@example.com');
    assert.deepEqual(recorded[0]?.impersonator_groups, ['developers']);
    assert.equal(recorded[0]?.policy_rule, 'the-bot-reads-configmaps');
  });
});

describe('which rules grant impersonation', () => {
  const asUser = (name: string): KubeRequest => ({
    cluster: 'default', isResourceRequest: true, path: `/api/v1/users/${name}`, verb: 'impersonate', apiPrefix: 'api', apiGroup: '', apiVersion: 'v1',
    namespace: '', resource: 'users', subresource: '', name, parts: ['users', name], fieldSelector: '', labelSelector: '',
  });
  const dev = { user: 'dev@example.com', groups: ['developers'], claims: {} };
  const cases = [
    { name: 'a rule allowing every verb on every resource does not', rules: '- { name: all, effect: allow, groups: [developers], verbs: ["*"], resources: ["*"] }', effect: 'deny', rule: null },
    { name: 'a rule without verbs does not', rules: '- { name: all, effect: allow, groups: [developers], resources: ["*"] }', effect: 'deny', rule: null },
    { name: 'a rule naming impersonate does', rules: '- { name: as-bot, effect: allow, groups: [developers], verbs: [impersonate], resources: [users], names: [bot] }', effect: 'allow', rule: 'as-bot' },
    { name: 'a wildcard deny still refuses it', rules: '- { name: as-bot, effect: allow, verbs: [impersonate], resources: [users] }\n- { name: no-bots, effect: deny, verbs: ["*"], resources: ["*"], names: [bot] }', effect: 'deny', rule: 'no-bots' },
  ];
  for (const { name, rules, effect, rule } of cases) {
    test(name, () => {
      const engine = compilePolicy(parsePolicy(`apiVersion: gatehouse/v1\nrules:\n${rules.split('\n').map((l) => `  ${l}`).join('\n')}\n`, 'test'));
      const decision = engine.decideImpersonation?.(dev, asUser('bot'));
      assert.equal(decision?.effect, effect);
      assert.equal(decision?.rule, rule);
    });
  }
});
