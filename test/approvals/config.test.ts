import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config.ts';
import { configProblems } from '../support/config-problems.ts';

const base = {
  oidc: { issuer: 'https://idp.example.com', audience: 'gatehouse' },
  upstream: { kind: 'kubeconfig' },
  policy: { file: 'policy.yaml' },
};

const PUBLIC_URL = 'https://gatehouse.example.com';

function problems(approvals: Record<string, unknown>, runtime = 'node'): string[] {
  return configProblems(() => parseConfig({ ...base, runtime, approvals }, 'test'));
}

describe('approvals configuration', () => {
  const cases: [string, Record<string, unknown>, RegExp[]][] = [
    [
      'approvals without a public URL are refused on the Node runtime',
      { mailFrom: 'g@example.com', signingKeyFile: '/k' },
      [/^approvals.publicUrl: is required when approvals are on: approval links point only at this configured URL, never at the Host a request names$/],
    ],
    ['a public URL in plain HTTP across a network is refused', { mailFrom: 'g@example.com', signingKeyFile: '/k', publicUrl: 'http://gatehouse.example.com' }, [/^approvals.publicUrl: must be an https:\/\/ URL \(plain http only on loopback\)$/]],
    ['a public URL with a query is refused', { mailFrom: 'g@example.com', signingKeyFile: '/k', publicUrl: 'https://gatehouse.example.com/?next=x' }, [/^approvals.publicUrl: must be a base URL without query, fragment or credentials$/]],
    ['no link key is refused', { mailFrom: 'g@example.com', publicUrl: PUBLIC_URL }, [/^approvals.signingSecretId: exactly one of signingSecretId \(Secrets Manager\) or signingKeyFile \(local\)/]],
    ['two link keys are refused', { mailFrom: 'g@example.com', signingSecretId: 's', signingKeyFile: '/k', publicUrl: PUBLIC_URL }, [/^approvals.signingSecretId: exactly one/]],
    ['a sender that is not an address is refused', { mailFrom: 'gatehouse', signingSecretId: 's', publicUrl: PUBLIC_URL }, [/^approvals.mailFrom: /]],
    ['a hold longer than a Function URL call is refused', { mailFrom: 'g@example.com', signingSecretId: 's', holdSeconds: 900, publicUrl: PUBLIC_URL }, [/^approvals.holdSeconds: /]],
  ];
  for (const [name, approvals, expected] of cases) {
    test(name, () => {
      const found = problems(approvals);
      assert.equal(found.length, expected.length, found.join('\n'));
      expected.forEach((pattern, i) => assert.match(found[i] ?? '', pattern));
    });
  }

  test('on Lambda the public URL may be left out (links use the Function URL domain AWS names)', () => {
    assert.deepEqual(problems({ mailFrom: 'g@example.com', signingSecretId: 's' }, 'lambda'), []);
  });

  test('defaults fill in table, name, lifetime, hold and body limit', () => {
    const config = parseConfig({ ...base, runtime: 'lambda', approvals: { mailFrom: 'g@example.com', signingSecretId: 'gatehouse/link' } }, 'test');
    assert.deepEqual(config.approvals, {
      tableName: 'gatehouse-approvals',
      name: 'Gatehouse',
      mailFrom: 'g@example.com',
      ttlSeconds: 3600,
      holdSeconds: 0,
      maxBodyBytes: 1048576,
      signingSecretId: 'gatehouse/link',
    });
  });
});
