import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPolicyFile, parsePolicy } from '../../src/policy/policy-file.ts';
import { configProblems } from '../support/config-problems.ts';

const repo = fileURLToPath(new URL('../../', import.meta.url));

function problemsOf(text: string): string[] {
  return configProblems(() => parsePolicy(text, 'policy.yaml'));
}

interface Case {
  name: string;
  text: string;
  problems: string[];
}

const cases: Case[] = [
  {
    name: 'reports every problem of every rule at once, with paths and lines',
    text: `apiVersion: gatehouse/v2
extra: 1
rules:
  - name: ok-rule
    effect: allow
    resources: ["*"]
  - name: bad rule
    effect: permit
    verbs: [get, delet]
    resources: ["po*ds", "a/b/c"]
    colour: blue
  - name: ok-rule
    effect: review
    nonResourceURLs: [version]
    namespaces: [x]
`,
    problems: [
      'apiVersion (line 1): Invalid input: expected "gatehouse/v1"',
      '(root) (line 1): Unrecognized key: "extra"',
      'rules[1].name (line 7): must be 1-100 letters, digits, ".", "_", ":" or "-", starting and ending with a letter or digit',
      'rules[1].effect (line 8): Invalid option: expected one of "allow"|"deny"|"review"',
      'rules[1].resources[0] (line 10): each part must be non-empty; a "*" may only stand alone or end a pattern (as a prefix match)',
      'rules[1].resources[1] (line 10): must be "resource" or "resource/subresource"',
      'rules[1] (line 7): Unrecognized key: "colour"',
      'rules[1].verbs[1] (line 9): "delet" is not a verb of resource requests; use one of get, list, watch, create, update, patch, delete, deletecollection, proxy, impersonate, or "*"',
      'rules[2].nonResourceURLs[0] (line 14): must start with "/" (or be "*")',
      'rules[2].namespaces (line 15): applies only to resource requests; a nonResourceURLs rule cannot have it',
      'rules[2].review (line 12): is required for effect review: name the approvers',
      'rules[2].name (line 12): "ok-rule" is already the name of rules[0]; rule names must be unique',
    ],
  },
  {
    name: 'refuses empty matcher lists, rules with both kinds of matcher, and misplaced options',
    text: `apiVersion: gatehouse/v1
rules:
  - name: u
    effect: deny
    users: []
    resources: [pods]
    nonResourceURLs: ["/x"]
    unmasked: true
  - name: w
    effect: review
    resources: [pods]
    review: { approvers: [lead@example.com], grant: window }
  - name: o
    effect: allow
    resources: [pods]
    review: { approvers: [lead@example.com], grant: once, windowSeconds: 600 }
  - name: neither
    effect: allow
`,
    problems: [
      'rules[0].users (line 5): must not be empty; leave the key out to match anything',
      'rules[0].nonResourceURLs (line 7): a rule has either resources or nonResourceURLs, not both; split it into two rules',
      'rules[0].unmasked (line 8): applies only to effect allow',
      'rules[1].review.windowSeconds (line 12): is required for grant window',
      'rules[2].review (line 16): applies only to effect review',
      'rules[2].review.windowSeconds (line 16): applies only to grant window',
      'rules[3] (line 17): needs resources (for API resources) or nonResourceURLs (for paths like /version); use ["*"] to match all',
    ],
  },
  {
    name: 'checks non-resource verbs against HTTP methods',
    text: `apiVersion: gatehouse/v1
rules:
  - { name: urls, effect: allow, verbs: [list, head], nonResourceURLs: ["/healthz"] }
`,
    problems: ['rules[0].verbs[0] (line 3): "list" is not a verb of non-resource requests; use one of get, head, post, put, patch, delete, options, or "*"'],
  },
  {
    name: 'refuses a "*" inside a pattern',
    text: `apiVersion: gatehouse/v1
rules:
  - { name: p, effect: allow, users: ["a*b"], resources: [pods], namespaces: ["*-prod"] }
`,
    problems: [
      'rules[0].users[0] (line 3): a "*" may only stand alone or end a pattern (as a prefix match)',
      'rules[0].namespaces[0] (line 3): a "*" may only stand alone or end a pattern (as a prefix match)',
    ],
  },
  {
    name: 'reports a rule that is not a mapping',
    text: 'apiVersion: gatehouse/v1\nrules:\n  - just-a-string\n',
    problems: ['rules[0] (line 3): Invalid input: expected object, received string'],
  },
  { name: 'reports duplicate keys with their line', text: 'apiVersion: gatehouse/v1\nrules:\n  - name: a\n    name: b\n', problems: ['line 4: Map keys must be unique'] },
  { name: 'reports YAML syntax errors with their line', text: 'apiVersion: gatehouse/v1\nrules: [\n', problems: ['line 3: Flow sequence in block collection must be sufficiently indented and end with a ]'] },
  { name: 'reports an empty policy', text: '', problems: ['the policy is empty; it needs "apiVersion: gatehouse/v1" and "rules:"'] },
  { name: 'reports missing rules', text: 'apiVersion: gatehouse/v1\n', problems: ['rules (line 1): Invalid input: expected array, received undefined'] },
];

describe('policy files are validated at load, every problem at once', () => {
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(problemsOf(c.text), c.problems);
    });
  }

  test('names the source and lists the problems in the error message', () => {
    assert.throws(() => parsePolicy('apiVersion: gatehouse/v1\n', 'my-policy.yaml'), {
      name: 'GatehouseConfigError',
      message: 'invalid configuration in my-policy.yaml:\n  - rules (line 1): Invalid input: expected array, received undefined',
    });
  });

  test('passes the masking section through unvalidated, for the masking stage', () => {
    const doc = parsePolicy('apiVersion: gatehouse/v1\nrules: []\nmasking:\n  fields: [{ kind: ConfigMap, path: data.password }]\n', 'm.yaml');
    assert.deepEqual(doc.masking, { fields: [{ kind: 'ConfigMap', path: 'data.password' }] });
  });

  test('reads a full rule into the document', () => {
    const doc = parsePolicy(
      `apiVersion: gatehouse/v1
rules:
  - name: no-prod-deletes
    effect: review
    users: ["*"]
    groups: [dev]
    verbs: [delete, deletecollection]
    apiGroups: ["", apps]
    resources: [namespaces, pods/exec, "pods/*"]
    namespaces: [prod, "team-*"]
    names: ["*"]
    reason: production namespaces are deleted through change management
    review: { approvers: [lead@example.com], grant: window, windowSeconds: 900 }
`,
      'full.yaml',
    );
    assert.deepEqual(doc.rules[0], {
      name: 'no-prod-deletes',
      effect: 'review',
      users: ['*'],
      groups: ['dev'],
      verbs: ['delete', 'deletecollection'],
      apiGroups: ['', 'apps'],
      resources: ['namespaces', 'pods/exec', 'pods/*'],
      namespaces: ['prod', 'team-*'],
      names: ['*'],
      reason: 'production namespaces are deleted through change management',
      review: { approvers: ['lead@example.com'], grant: 'window', windowSeconds: 900 },
    });
  });
});

describe('loadPolicyFile', () => {
  test('reports a missing file as a configuration problem', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-policy-'));
    try {
      const path = join(dir, 'missing.yaml');
      assert.throws(() => loadPolicyFile(path), { name: 'GatehouseConfigError', message: `invalid configuration in ${path}:\n  - the policy file does not exist` });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('loads and compiles a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-policy-'));
    try {
      const path = join(dir, 'p.yaml');
      writeFileSync(path, 'apiVersion: gatehouse/v1\nrules:\n  - { name: v, effect: allow, verbs: [get], nonResourceURLs: [/version] }\n');
      const request = { cluster: 'default', isResourceRequest: false, path: '/version', verb: 'get', apiPrefix: '', apiGroup: '', apiVersion: '', namespace: '', resource: '', subresource: '', name: '', parts: [], fieldSelector: '', labelSelector: '' };
      assert.equal(loadPolicyFile(path).decide({ user: 'a', groups: [], claims: {} }, request).rule, 'v');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const file of ['policy/default.yaml', ...readdirSync(join(repo, 'policy/examples')).map((f) => `policy/examples/${f}`)]) {
    test(`loads the shipped policy ${file}`, () => {
      assert.doesNotThrow(() => loadPolicyFile(join(repo, file)));
    });
  }
});
