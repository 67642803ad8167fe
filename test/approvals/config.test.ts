import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config.ts';
import { configProblems } from '../support/config-problems.ts';

const base = {
  oidc: { issuer: 'https://idp.example.com', audience: 'gatehouse' },
  upstream: { kind: 'kubeconfig' },
  policy: { file: 'policy.yaml' },
};

function problems(approvals: Record<string, unknown>): string[] {
  return configProblems(() => parseConfig({ ...base, approvals }, 'test'));
}

describe('approvals configuration', () => {
  const cases: [string, Record<string, unknown>, RegExp[]][] = [
    ['no link key is refused', { mailFrom: 'g@example.com' }, [/^approvals.signingSecretId: exactly one of signingSecretId \(Secrets Manager\) or signingKeyFile \(local\)/]],
    ['two link keys are refused', { mailFrom: 'g@example.com', signingSecretId: 's', signingKeyFile: '/k' }, [/^approvals.signingSecretId: exactly one/]],
    ['a sender that is not an address is refused', { mailFrom: 'gatehouse', signingSecretId: 's' }, [/^approvals.mailFrom: /]],
    ['a hold longer than a Function URL call is refused', { mailFrom: 'g@example.com', signingSecretId: 's', holdSeconds: 900 }, [/^approvals.holdSeconds: /]],
  ];
  for (const [name, approvals, expected] of cases) {
    test(name, () => {
      const found = problems(approvals);
      assert.equal(found.length, expected.length, found.join('\n'));
      expected.forEach((pattern, i) => assert.match(found[i] ?? '', pattern));
    });
  }

  test('defaults fill in table, lifetime, hold and body limit', () => {
    const config = parseConfig({ ...base, approvals: { mailFrom: 'g@example.com', signingSecretId: 'gatehouse/link' } }, 'test');
    assert.deepEqual(config.approvals, {
      tableName: 'gatehouse-approvals',
      mailFrom: 'g@example.com',
      ttlSeconds: 3600,
      holdSeconds: 0,
      maxBodyBytes: 1048576,
      signingSecretId: 'gatehouse/link',
    });
  });
});
