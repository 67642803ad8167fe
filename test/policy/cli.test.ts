import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkPolicy, validatePolicy } from '../../src/cli/policy.ts';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-policy-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const policyFile = join(dir, 'policy.yaml');
writeFileSync(
  policyFile,
  `apiVersion: gatehouse/v1
rules:
  - name: no-prod-deletes
    effect: deny
    verbs: [delete]
    resources: [namespaces]
    namespaces: ["prod*"]
    reason: production namespaces are deleted through change management
  - name: prod-exec
    effect: review
    verbs: [create]
    resources: [pods/exec]
    namespaces: ["prod*"]
    review: { approvers: [lead@example.com], grant: window, windowSeconds: 900 }
  - { name: discovery, effect: allow, verbs: [get], nonResourceURLs: [/version] }
  - { name: dev-reads, effect: allow, groups: [dev], verbs: [get, list, watch], resources: ["*"] }
`,
);
const badFile = join(dir, 'bad.yaml');
writeFileSync(badFile, 'apiVersion: gatehouse/v1\nrules:\n  - { name: a, effect: maybe, resources: [pods] }\n  - { name: b, effect: allow, verbs: [fetch], resources: [pods], extra: 1 }\n');

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['bin/gatehouse.mjs', 'policy', ...args], { cwd: repo, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('gatehouse policy check (module)', () => {
  test('explains a denial with the rule, the reason and what kubectl would print, exiting 3', () => {
    const result = checkPolicy({ policy: policyFile, user: 'alice@example.com', groups: ['dev', 'oncall'], method: 'DELETE', target: '/api/v1/namespaces/prod' });
    assert.equal(result.exitCode, 3);
    assert.equal(
      result.stdout,
      [
        'decision: deny',
        'rule:     no-prod-deletes',
        'reason:   denied by rule "no-prod-deletes" (production namespaces are deleted through change management)',
        'caller:   user "alice@example.com" (groups: dev, oncall)',
        'request:  delete namespaces "prod"',
        '          resource request: verb="delete" apiGroup="" apiVersion="v1" namespace="prod" resource="namespaces" subresource="" name="prod" fieldSelector="" labelSelector=""',
        'kubectl would print: Error from server (Forbidden): user "alice@example.com" (groups: dev, oncall) may not delete namespaces "prod": denied by rule "no-prod-deletes" (production namespaces are deleted through change management)',
        '',
      ].join('\n'),
    );
  });

  test('explains a review decision from a spelled-out request, exiting 3', () => {
    const result = checkPolicy({ policy: policyFile, user: 'alice@example.com', groups: [], verb: 'create', resource: 'pods/exec', namespace: 'prod-eu', name: 'web' });
    assert.equal(result.exitCode, 3);
    assert.match(result.stdout, /^decision: review\nrule:     prod-exec\nreason:   requires approval under rule "prod-exec"\nreview:   approvers lead@example.com; grant window for 900s\n/);
  });

  test('exits 0 for an allowed request and prints JSON on request', () => {
    const result = checkPolicy({ policy: policyFile, user: 'bob', groups: ['dev'], method: 'get', target: '/api/v1/namespaces/dev/pods?watch=1', json: true });
    assert.equal(result.exitCode, 0);
    const parsed = JSON.parse(result.stdout) as { decision: unknown; request: { verb: string; namespace: string } };
    assert.deepEqual(parsed.decision, { effect: 'allow', rule: 'dev-reads', reason: 'allowed by rule "dev-reads"' });
    assert.equal(parsed.request.verb, 'watch');
    assert.equal(parsed.request.namespace, 'dev');
  });

  test('checks a spelled-out exec as create, as the API server authorizes it', () => {
    const result = checkPolicy({ policy: policyFile, user: 'bob', groups: ['dev'], verb: 'get', resource: 'pods/exec', namespace: 'prod', name: 'web' });
    assert.equal(result.exitCode, 3);
    assert.match(result.stdout, /^decision: review\nrule:     prod-exec\n[^]*request:  create pods\/exec "web" in namespace "prod"\n/);
  });

  test('checks a non-resource URL given with --verb and --path', () => {
    const result = checkPolicy({ policy: policyFile, user: 'bob', groups: [], verb: 'get', path: '/version' });
    assert.equal(result.exitCode, 0);
    assert.match(result.stdout, /^decision: allow\nrule:     discovery\n/);
  });

  test('refuses a hostile path before policy, exiting 3', () => {
    assert.deepEqual(checkPolicy({ policy: policyFile, user: 'bob', groups: [], method: 'GET', target: '/api/v1/namespaces/dev/%2e%2e/prod/secrets' }), {
      exitCode: 3,
      stdout: '',
      stderr: 'refused before policy (ERR_REQUEST_PATH): request path "/api/v1/namespaces/dev/%2e%2e/prod/secrets" has a ".." segment; refused because the API server could read it differently\n',
    });
  });

  test('prints every problem of an invalid policy, exiting 2', () => {
    assert.deepEqual(checkPolicy({ policy: badFile, user: 'bob', groups: [], method: 'GET', target: '/version' }), {
      exitCode: 2,
      stdout: '',
      stderr: [
        `invalid configuration in ${badFile}:`,
        '  - rules[0].effect (line 3): Invalid option: expected one of "allow"|"deny"|"review"',
        '  - rules[1] (line 4): Unrecognized key: "extra"',
        '  - rules[1].verbs[0] (line 4): "fetch" is not a verb of resource requests; use one of get, list, watch, create, update, patch, delete, deletecollection, proxy, impersonate, or "*"',
        '',
      ].join('\n'),
    });
  });

  test('refuses METHOD PATH mixed with --verb, exiting 2', () => {
    assert.deepEqual(checkPolicy({ policy: policyFile, user: 'bob', groups: [], method: 'GET', target: '/version', verb: 'get' }), {
      exitCode: 2,
      stdout: '',
      stderr: 'gatehouse policy check: give either METHOD PATH or --verb with --resource/--path, not both\n',
    });
  });

  test('validates a good file, counts its rules and warns about a nameless allow rule and reads that reach proxies', () => {
    const result = validatePolicy(policyFile);
    assert.equal(result.exitCode, 0);
    assert.equal(result.stdout, `${policyFile}: valid, 4 rules (1 deny, 1 review, 2 allow), 4 warnings\n`);
    assert.deepEqual(result.stderr.trimEnd().split('\n'), [
      'warning: rule "discovery" allows without naming who it is for (no users or groups, or only "*"): every signed-in user gets it',
      'warning: rule "dev-reads" lets groups dev through to reading the kubelet API (nodes/proxy) (GET /api/v1/nodes/node-1/proxy/configz) with no review or deny rule in front of it',
      'warning: rule "dev-reads" lets groups dev through to proxying to a service (services/proxy) (GET /api/v1/namespaces/default/services/web/proxy/) with no review or deny rule in front of it',
      'warning: rule "dev-reads" lets groups dev through to proxying to a pod (pods/proxy) (GET /api/v1/namespaces/default/pods/web/proxy/) with no review or deny rule in front of it',
    ]);
  });

  test('validates the default policy without a warning', () => {
    const result = validatePolicy(join(repo, 'policy/default.yaml'));
    assert.equal(result.exitCode, 0);
    assert.equal(result.stderr, '');
    assert.match(result.stdout, /valid, \d+ rules/);
  });
});

describe('gatehouse policy (subprocess)', () => {
  test('check exits 3 and names the rule for a denied request', () => {
    const result = run('check', '--policy', policyFile, '--user', 'alice@example.com', '--group', 'dev', '--group', 'oncall', 'DELETE', '/api/v1/namespaces/prod');
    assert.equal(result.status, 3, result.stderr);
    assert.match(result.stdout, /^decision: deny\nrule:     no-prod-deletes\n/);
  });

  test('check exits 0 for an allowed request with the default policy', () => {
    const result = run('check', '--user', 'you@example.com', '--group', 'developers', 'GET', '/api/v1/namespaces/default/pods');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^decision: allow\nrule:     read-everything\n/);
  });

  test('validate exits 2 and prints every problem', () => {
    const result = run('validate', badFile);
    assert.equal(result.status, 2);
    assert.equal(result.stderr.split('\n').filter((line) => line.startsWith('  - ')).length, 3);
  });

  test('check without --user is a usage error (exit 2)', () => {
    const result = run('check', 'GET', '/version');
    assert.equal(result.status, 2);
    assert.match(result.stderr, /required option '--user <name>' not specified/);
  });
});
