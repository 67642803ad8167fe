/**
 * The policy as JSON (what the Lambda function reads): converted from YAML at synth, read back
 * with the same schema, so every shipped policy decides alike in both forms, and a bad JSON
 * policy names every problem as a bad YAML one does (without line numbers).
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPolicyFile, policyFileAsJson, readPolicyFile } from '../../src/policy/policy-file.ts';
import { parsePolicyJson } from '../../src/policy/policy-json.ts';
import { checkPolicy, policyDocumentSchema } from '../../src/policy/policy-schema.ts';
import { GatehouseConfigError } from '../../src/config-error.ts';
import { createDepsFromConfig } from '../../src/compose.ts';
import { loadMaskingRules } from '../../src/masking/masking-rules-file.ts';
import { configSchema } from '../../src/config.ts';
import { classifyRequest } from '../../src/request-info.ts';
import type { KubeRequest } from '../../src/types.ts';
import { configProblems } from '../support/config-problems.ts';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'gatehouse-policy-json-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const shipped = [
  join(repo, 'policy', 'default.yaml'),
  ...readdirSync(join(repo, 'policy', 'examples'))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => join(repo, 'policy', 'examples', f)),
];

function problemsOf(text: string): string[] {
  return configProblems(() => parsePolicyJson(text, 'policy.json'));
}

describe('a policy YAML converted to JSON', () => {
  for (const file of shipped) {
    test(`reads back to the same document: ${file.slice(repo.length)}`, () => {
      const jsonFile = join(scratch, 'policy.json');
      writeFileSync(jsonFile, policyFileAsJson(file));
      assert.deepEqual(readPolicyFile(jsonFile), readPolicyFile(file));
    });
  }

  test('decides every request as the YAML does', () => {
    const yamlFile = join(repo, 'policy', 'default.yaml');
    const jsonFile = join(scratch, 'default.json');
    writeFileSync(jsonFile, policyFileAsJson(yamlFile));
    const fromYaml = loadPolicyFile(yamlFile);
    const fromJson = loadPolicyFile(jsonFile);
    const requests: KubeRequest[] = ['GET', 'DELETE', 'POST'].flatMap((method) =>
      ['pods', 'secrets', 'configmaps'].flatMap((resource) =>
        ['default', 'kube-system'].map((namespace) => classifyRequest(method, `/api/v1/namespaces/${namespace}/${resource}`, '', { runtime: 'node' })),
      ),
    );
    requests.push(classifyRequest('GET', '/api/v1/nodes', '', { runtime: 'node' }), classifyRequest('GET', '/version', '', { runtime: 'node' }));
    for (const groups of [['dev'], ['oncall'], ['platform-admins'], []]) {
      const user = { user: 'alice@example.com', groups, claims: {} };
      for (const request of requests) assert.deepEqual(fromJson.decide(user, request), fromYaml.decide(user, request), JSON.stringify({ groups, request }));
    }
  });

  test('fails the conversion, naming the file and every problem with its line, when the YAML is invalid', () => {
    const file = join(scratch, 'bad.yaml');
    writeFileSync(file, 'apiVersion: gatehouse/v1\nrules:\n  - name: a\n    effect: permit\n    resources: ["*"]\n');
    assert.throws(() => policyFileAsJson(file), (error: unknown) => {
      assert.ok(error instanceof GatehouseConfigError);
      assert.deepEqual(error.problems, ['rules[0].effect (line 4): Invalid option: expected one of "allow"|"deny"|"review"']);
      assert.match(error.message, /bad\.yaml/);
      return true;
    });
  });
});

describe('a policy is validated once', () => {
  const documents: { name: string; raw: unknown }[] = [
    ...shipped.map((file) => ({ name: file.slice(repo.length), raw: JSON.parse(policyFileAsJson(file)) as unknown })),
    {
      name: 'review defaults and a masking section',
      raw: {
        apiVersion: 'gatehouse/v1',
        rules: [{ name: 'r', effect: 'review', resources: ['secrets'], review: { approvers: ['a@example.com'] } }],
        masking: [{ name: 'm', envNames: ['*_TOKEN'] }],
      },
    },
    { name: 'an empty masking section', raw: { apiVersion: 'gatehouse/v1', rules: [], masking: null } },
  ];
  for (const { name, raw } of documents) {
    test(`yielding the document the schema parses: ${name}`, () => {
      assert.deepEqual(checkPolicy(raw), { problems: [], document: policyDocumentSchema.parse(raw) });
    });
  }
});

describe('a policy JSON is validated at load, every problem at once', () => {
  const cases: { name: string; text: string; problems: string[] }[] = [
    {
      name: 'reports text that is not JSON',
      text: 'apiVersion: gatehouse/v1',
      problems: [`the policy is not valid JSON: ${jsonError('apiVersion: gatehouse/v1')}`],
    },
    {
      name: 'reports an empty document',
      text: 'null',
      problems: ['the policy is empty; it needs "apiVersion: gatehouse/v1" and "rules:"'],
    },
    {
      name: 'reports schema and cross-field problems by path, without lines',
      text: JSON.stringify({
        apiVersion: 'gatehouse/v1',
        rules: [
          { name: 'a', effect: 'permit', resources: ['*'] },
          { name: 'a', effect: 'allow', nonResourceURLs: ['version'] },
        ],
      }),
      problems: [
        'rules[0].effect: Invalid option: expected one of "allow"|"deny"|"review"',
        'rules[1].nonResourceURLs[0]: must start with "/" (or be "*")',
        'rules[1].name: "a" is already the name of rules[0]; rule names must be unique',
      ],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(problemsOf(c.text), c.problems);
    });
  }
});

describe('the composition root reads a *.json policy', () => {
  const config = (file: string) =>
    configSchema.parse({
      runtime: 'lambda',
      oidc: { issuer: 'https://idp.example.com', audience: 'gatehouse' },
      upstream: { kind: 'kubeconfig', kubeconfig: join(scratch, 'kubeconfig.yaml') },
      policy: { file },
    });
  writeFileSync(
    join(scratch, 'kubeconfig.yaml'),
    'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
  );

  test('with its masking rules, as from the YAML', async () => {
    const yamlFile = join(scratch, 'masking.yaml');
    writeFileSync(yamlFile, 'apiVersion: gatehouse/v1\nrules:\n  - { name: all, effect: allow, resources: ["*"] }\nmasking:\n  - { name: db, namespaces: [prod], configMapKeys: ["*password*"] }\n');
    const jsonFile = join(scratch, 'masking.json');
    writeFileSync(jsonFile, policyFileAsJson(yamlFile));
    const deps = await createDepsFromConfig(config(jsonFile));
    assert.deepEqual(deps.masking, loadMaskingRules(yamlFile));
    assert.equal(deps.masking?.masksConfigMaps, true);
  });

  test('reporting policy and masking problems together, under the policy file', async () => {
    const jsonFile = join(scratch, 'bad.json');
    writeFileSync(jsonFile, JSON.stringify({ apiVersion: 'gatehouse/v1', rules: [{ name: 'a', effect: 'permit', resources: ['*'] }] }));
    await assert.rejects(createDepsFromConfig(config(jsonFile)), (error: unknown) => {
      assert.ok(error instanceof GatehouseConfigError);
      assert.deepEqual(error.problems, [`policy ${jsonFile}: rules[0].effect: Invalid option: expected one of "allow"|"deny"|"review"`]);
      return true;
    });
  });

  test('reporting a missing file', async () => {
    const jsonFile = join(scratch, 'missing.json');
    await assert.rejects(createDepsFromConfig(config(jsonFile)), (error: unknown) => {
      assert.ok(error instanceof GatehouseConfigError);
      assert.deepEqual(error.problems, [`policy ${jsonFile}: the policy file does not exist`]);
      return true;
    });
  });
});

function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (error) {
    return (error as Error).message;
  }
  return '';
}
