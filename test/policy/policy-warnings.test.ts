// `gatehouse policy validate` warnings, and the default policy's decisions on the dangerous
// paths, written as the requests an adversary would send.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { compilePolicy, parsePolicy, readPolicyFile } from '../../src/policy/policy-file.ts';
import { DANGEROUS_PATHS, policyWarnings } from '../../src/policy/policy-warnings.ts';
import { classifyRequest } from '../../src/request-info.ts';
import { DEFAULT_GROUPS, DEFAULT_USER } from '../../src/runtime/local.ts';

const DEFAULT_POLICY = fileURLToPath(new URL('../../policy/default.yaml', import.meta.url));

function warningsOf(yaml: string): string[] {
  return policyWarnings(parsePolicy(yaml, 'test.yaml'));
}

describe('policy validate warnings', () => {
  test('the default policy has none', () => {
    assert.deepEqual(policyWarnings(readPolicyFile(DEFAULT_POLICY)), []);
  });

  test('an allow rule with no subject is named, however harmless its verbs', () => {
    assert.deepEqual(warningsOf('apiVersion: gatehouse/v1\nrules:\n  - { name: version, effect: allow, verbs: [get], nonResourceURLs: [/version] }\n'), [
      'rule "version" allows without naming who it is for (no users or groups, or only "*"): every signed-in user gets it',
    ]);
  });

  test('a subject of "*" is no subject', () => {
    const warnings = warningsOf('apiVersion: gatehouse/v1\nrules:\n  - { name: all, effect: allow, groups: ["*"], verbs: [get], nonResourceURLs: [/version] }\n');
    assert.match(warnings[0] ?? '', /rule "all" allows without naming who it is for/);
  });

  test('deny and review rules without a subject are not warned about', () => {
    assert.deepEqual(warningsOf('apiVersion: gatehouse/v1\nrules:\n  - { name: d, effect: deny, resources: [secrets] }\n  - { name: r, effect: review, resources: [pods/exec], review: { approvers: [a@example.com] } }\n'), []);
  });

  test('"pods/*" for a named group lets it through to debug containers and pod proxies, and says so', () => {
    const warnings = warningsOf('apiVersion: gatehouse/v1\nrules:\n  - { name: pod-power, effect: allow, groups: [dev], resources: ["pods/*"] }\n');
    assert.ok(warnings.some((w) => w === 'rule "pod-power" lets groups dev through to adding an ephemeral container (kubectl debug) (PATCH /api/v1/namespaces/default/pods/web/ephemeralcontainers) with no review or deny rule in front of it'), warnings.join('\n'));
    assert.ok(warnings.some((w) => w.includes('proxying to a pod (pods/proxy)')));
    assert.ok(!warnings.some((w) => w.includes('allows without naming')));
  });

  test('a user prefix pattern is matched by a caller of that prefix', () => {
    const warnings = warningsOf('apiVersion: gatehouse/v1\nrules:\n  - { name: ops, effect: allow, users: ["ops-*"], resources: ["serviceaccounts/token"], verbs: [create] }\n');
    assert.deepEqual(warnings, ['rule "ops" lets users ops-* through to minting a ServiceAccount token (kubectl create token) (POST /api/v1/namespaces/kube-system/serviceaccounts/default/token) with no review or deny rule in front of it']);
  });

  test('an allow rule behind a deny or review rule for that path is fine', () => {
    const yaml = `apiVersion: gatehouse/v1
rules:
  - { name: no-proxy, effect: deny, resources: ["nodes/proxy", "pods/proxy", "services/proxy"] }
  - { name: reads, effect: allow, groups: [dev], verbs: [get, list, watch], resources: ["*"] }
`;
    assert.deepEqual(warningsOf(yaml), []);
  });

  test('the policy this one replaces (allow rules for everyone) is warned about on every dangerous path it let through', () => {
    const yaml = `apiVersion: gatehouse/v1
rules:
  - { name: read-everything, effect: allow, verbs: [get, list, watch], resources: ["*"] }
  - { name: ordinary-writes, effect: allow, verbs: [create, update, patch, delete, deletecollection], resources: ["*"] }
`;
    const warnings = warningsOf(yaml).join('\n');
    for (const what of ['ephemeral container', 'creating a pod in kube-system', 'nodes/proxy', 'services/proxy', 'pods/proxy', 'ServiceAccount token', 'mutating admission webhook', 'certificate signing request', 'RBAC escalate', 'RBAC bind', 'deletecollection']) {
      assert.ok(warnings.includes(what), `no warning about ${what}:\n${warnings}`);
    }
  });
});

describe('the default policy on the dangerous paths', () => {
  const engine = compilePolicy(readPolicyFile(DEFAULT_POLICY));
  const developer = { user: DEFAULT_USER, groups: [...DEFAULT_GROUPS], claims: {} };
  const cases: [string, string, string, string, string | null][] = [
    ['kubectl debug (an ephemeral container) is reviewed', 'PATCH', '/api/v1/namespaces/default/pods/web/ephemeralcontainers', 'review', 'debug-containers-need-approval'],
    ['a pod created in kube-system is denied', 'POST', '/api/v1/namespaces/kube-system/pods', 'deny', 'no-pods-in-system-namespaces'],
    ['a DaemonSet created in kube-public is denied', 'POST', '/apis/apps/v1/namespaces/kube-public/daemonsets', 'deny', 'no-pods-in-system-namespaces'],
    ['exec through nodes/proxy is denied', 'POST', '/api/v1/nodes/n1/proxy/exec/default/web/app', 'deny', 'no-node-proxy'],
    ['reading the kubelet through nodes/proxy is denied', 'GET', '/api/v1/nodes/n1/proxy/configz', 'deny', 'no-node-proxy'],
    ['the legacy proxy verb is denied', 'GET', '/api/v1/proxy/namespaces/default/pods/web', 'deny', 'no-legacy-proxy'],
    ['services/proxy is reviewed', 'GET', '/api/v1/namespaces/default/services/web/proxy/admin', 'review', 'workload-proxy-needs-approval'],
    ['pods/proxy is reviewed', 'POST', '/api/v1/namespaces/default/pods/web/proxy/shutdown', 'review', 'workload-proxy-needs-approval'],
    ['kubectl create token is reviewed, in any namespace', 'POST', '/api/v1/namespaces/team-a/serviceaccounts/deployer/token', 'review', 'token-requests-need-approval'],
    ['a mutating webhook is reviewed', 'POST', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', 'review', 'webhook-changes-need-approval'],
    ['CSR approval is denied', 'PUT', '/apis/certificates.k8s.io/v1/certificatesigningrequests/csr-1/approval', 'deny', 'no-csr-approval'],
    ['binding cluster-admin is reviewed', 'POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', 'review', 'rbac-changes-need-approval'],
    ['widening a ClusterRole is reviewed', 'PATCH', '/apis/rbac.authorization.k8s.io/v1/clusterroles/edit', 'review', 'rbac-changes-need-approval'],
    ['deleting every pod in prod is reviewed', 'DELETE', '/api/v1/namespaces/prod/pods', 'review', 'bulk-deletes-need-approval'],
    ['a hostPath PersistentVolume is reviewed', 'POST', '/api/v1/persistentvolumes', 'review', 'persistent-volumes-need-approval'],
    ['an ordinary Deployment is allowed', 'POST', '/apis/apps/v1/namespaces/default/deployments', 'allow', 'ordinary-writes'],
    ['reading pods is allowed', 'GET', '/api/v1/namespaces/default/pods', 'allow', 'read-everything'],
    ['a drain eviction in kube-system is allowed', 'POST', '/api/v1/namespaces/kube-system/pods/coredns-1/eviction', 'allow', 'ordinary-writes'],
  ];
  for (const [name, method, path, effect, rule] of cases) {
    test(`for the local developer, ${name}`, () => {
      const decision = engine.decide(developer, classifyRequest(method, path, '', { runtime: 'node' }));
      assert.deepEqual([decision.effect, decision.rule], [effect, rule]);
    });
  }

  test('someone in no named group gets nothing, not even discovery', () => {
    const stranger = { user: 'stranger@example.com', groups: ['contractors'], claims: {} };
    for (const [method, path] of [['GET', '/api/v1/namespaces/default/pods'], ['GET', '/apis'], ['POST', '/apis/apps/v1/namespaces/default/deployments']] as const) {
      assert.deepEqual(engine.decide(stranger, classifyRequest(method, path, '', { runtime: 'node' })).effect, 'deny');
    }
  });

  test('a viewer reads but does not write', () => {
    const viewer = { user: 'v@example.com', groups: ['viewers'], claims: {} };
    assert.equal(engine.decide(viewer, classifyRequest('GET', '/api/v1/namespaces/default/pods', '', { runtime: 'node' })).effect, 'allow');
    assert.equal(engine.decide(viewer, classifyRequest('POST', '/apis/apps/v1/namespaces/default/deployments', '', { runtime: 'node' })).effect, 'deny');
  });

  test('every dangerous path of the catalogue is reviewed or denied for the local developer', () => {
    for (const path of DANGEROUS_PATHS) {
      const decision = engine.decide(developer, classifyRequest(path.method, path.path, '', { runtime: 'node' }));
      assert.notEqual(decision.effect, 'allow', `${path.what}: ${decision.reason}`);
    }
  });
});
