import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatehouseConfigError } from '../../src/config-error.ts';
import { configMapKeyRule, envNameRule, parseMaskingRules, recordingRedaction, SECRETS_ONLY } from '../../src/masking/masking-rules.ts';
import { loadMaskingRules } from '../../src/masking/masking-rules-file.ts';

describe('parseMaskingRules', () => {
  test('takes no section as Secrets only', () => {
    assert.equal(parseMaskingRules(undefined, 'policy.yaml'), SECRETS_ONLY);
    assert.equal(parseMaskingRules(null, 'policy.yaml'), SECRETS_ONLY);
  });

  const rules = parseMaskingRules(
    [
      { name: 'cm', namespaces: ['prod', 'team-*'], configMapKeys: ['*password*', '*.pem'] },
      { name: 'env', envNames: ['*_TOKEN', 'DATABASE_URL'] },
    ],
    'policy.yaml',
  );

  const matches: { name: string; got: string | undefined; want: string | undefined }[] = [
    { name: 'a ConfigMap key matching a glob, in a named namespace', got: configMapKeyRule(rules, 'prod', 'db-password')?.name, want: 'cm' },
    { name: 'a ConfigMap key in a namespace matching a namespace glob', got: configMapKeyRule(rules, 'team-a', 'tls.pem')?.name, want: 'cm' },
    { name: 'case-insensitively (masking too much is the safe mistake)', got: configMapKeyRule(rules, 'prod', 'DB_PASSWORD')?.name, want: 'cm' },
    { name: 'not a ConfigMap key in another namespace', got: configMapKeyRule(rules, 'dev', 'password')?.name, want: undefined },
    { name: 'not a ConfigMap key the globs do not match', got: configMapKeyRule(rules, 'prod', 'mode')?.name, want: undefined },
    { name: 'an env name in any namespace when the rule names none', got: envNameRule(rules, 'anything', 'API_TOKEN')?.name, want: 'env' },
    { name: 'an env name matched exactly', got: envNameRule(rules, 'x', 'database_url')?.name, want: 'env' },
    { name: 'glob characters other than * taken literally', got: configMapKeyRule(rules, 'prod', 'tlsxpem')?.name, want: undefined },
  ];
  for (const m of matches) {
    test(`matches ${m.name}`, () => assert.equal(m.got, m.want));
  }

  test('says which kinds of values the rules mask', () => {
    assert.equal(rules.masksConfigMaps, true);
    assert.equal(rules.masksEnv, true);
  });

  test('reports every problem at once, each with its path', () => {
    assert.throws(
      () =>
        parseMaskingRules(
          [
            { name: 'a', configMapKeys: [] },
            { name: '', envNames: ['X'] },
            { name: 'b' },
            { name: 'c', envNames: ['X'], colour: 'red' },
          ],
          'policy.yaml',
        ),
      (error: unknown) => {
        assert.ok(error instanceof GatehouseConfigError);
        assert.deepEqual(error.problems, [
          'masking[0].configMapKeys: must list at least one pattern',
          'masking[1].name: must not be empty',
          'masking[2]: must name configMapKeys, envNames, recordingPatterns or recordingSecretValues (what to mask)',
          'masking[3]: Unrecognized key: "colour"',
        ]);
        assert.match(error.message, /^invalid configuration in policy\.yaml:/);
        return true;
      },
    );
  });

  test('refuses two rules with one name', () => {
    assert.throws(
      () => parseMaskingRules([{ name: 'a', envNames: ['X'] }, { name: 'a', envNames: ['Y'] }], 'policy.yaml'),
      (error: unknown) => error instanceof GatehouseConfigError && error.problems.join() === 'masking[1].name: "a" is used by an earlier rule',
    );
  });

  test('refuses a section that is not a list', () => {
    assert.throws(
      () => parseMaskingRules({ name: 'a' }, 'policy.yaml'),
      (error: unknown) => error instanceof GatehouseConfigError && /^masking: /.test(error.problems[0] ?? ''),
    );
  });
});

describe('recording redaction rules', () => {
  const rules = parseMaskingRules(
    [
      { name: 'prod-terminals', namespaces: ['prod'], recordingSecretValues: true, recordingPatterns: ['AKIA[0-9A-Z]{16}', '(?i)password=\\S+'] },
      { name: 'everywhere', recordingPatterns: ['ghp_[A-Za-z0-9]{36}'] },
      { name: 'cm', configMapKeys: ['*'] },
      { name: 'sandbox-opts-out', namespaces: ['sandbox', 'prod'], recordingSecretValues: false },
    ],
    'policy.yaml',
  );

  test('a namespace gets the patterns of every rule that applies there, and Secret values when one asks', () => {
    const prod = recordingRedaction(rules, 'prod');
    assert.deepEqual(prod.patterns.map(String), ['/AKIA[0-9A-Z]{16}/', '/password=\\S+/i', '/ghp_[A-Za-z0-9]{36}/']);
    assert.equal(prod.secretValues, true);
  });

  test('another namespace gets only the patterns for every namespace, and its Secret values by default', () => {
    const dev = recordingRedaction(rules, 'dev');
    assert.deepEqual(dev.patterns.map(String), ['/ghp_[A-Za-z0-9]{36}/']);
    assert.equal(dev.secretValues, true);
  });

  test('a rule saying recordingSecretValues: false opts its namespaces out', () => {
    assert.equal(recordingRedaction(rules, 'sandbox').secretValues, false);
  });

  test('a rule asking for Secret values wins over one opting out of them (redacting too much is the safe mistake)', () => {
    assert.equal(recordingRedaction(rules, 'prod').secretValues, true);
  });

  test('with no masking rules at all, Secret values are redacted everywhere', () => {
    assert.deepEqual(recordingRedaction(SECRETS_ONLY, 'anywhere'), { patterns: [], secretValues: true });
  });

  test('refuses a pattern that is not a regular expression, or that matches nothing at all', () => {
    assert.throws(
      () => parseMaskingRules([{ name: 'bad', recordingPatterns: ['(unclosed', 'a*'] }], 'policy.yaml'),
      (error: unknown) => {
        assert.ok(error instanceof GatehouseConfigError);
        assert.equal(error.problems.length, 2);
        assert.match(error.problems[0] ?? '', /^masking\[0\]\.recordingPatterns\[0\]: is not a regular expression: /);
        assert.equal(error.problems[1], 'masking[0].recordingPatterns[1]: /a*/ matches the empty string; it must match at least one character');
        return true;
      },
    );
  });
});

describe('loadMaskingRules', () => {
  test('reads the masking section of a policy file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-masking-'));
    try {
      const file = join(dir, 'policy.yaml');
      writeFileSync(file, 'apiVersion: gatehouse/v1\nrules: []\nmasking:\n  - name: env\n    envNames: ["*_TOKEN"]\n');
      assert.equal(envNameRule(loadMaskingRules(file), 'x', 'A_TOKEN')?.name, 'env');
      writeFileSync(file, 'apiVersion: gatehouse/v1\nrules: []\n');
      assert.equal(loadMaskingRules(file), SECRETS_ONLY);
      writeFileSync(file, 'masking: [ {name: x, envNames: []} ]\n');
      assert.throws(() => loadMaskingRules(file), (error: unknown) => error instanceof GatehouseConfigError && error.problems[0] === 'masking[0].envNames: must list at least one pattern');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('leaves a file that is missing or not YAML to the policy loader to report', () => {
    assert.equal(loadMaskingRules('/nonexistent/policy.yaml'), SECRETS_ONLY);
  });
});
