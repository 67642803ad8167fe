import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_REMEMBER_MS, MAX_TOKENS, createVerifiedTokens } from '../../src/auth/verified-tokens.ts';
import type { Identity } from '../../src/types.ts';

const alice = (): Identity => ({ user: 'alice@example.com', groups: ['dev'], claims: {} });
const T0 = 1_700_000_000_000;

describe('verified tokens', () => {
  const cases: { name: string; expiresAtMs: number; recallAtMs: number; remembered: boolean }[] = [
    { name: 'recalls a token verified a moment ago', expiresAtMs: T0 + 3_600_000, recallAtMs: T0 + 1000, remembered: true },
    { name: 'forgets a token at its exp even within the remember window', expiresAtMs: T0 + 5000, recallAtMs: T0 + 5000, remembered: false },
    { name: `forgets a token ${MAX_REMEMBER_MS / 1000}s after it was verified even when exp is later`, expiresAtMs: T0 + 3_600_000, recallAtMs: T0 + MAX_REMEMBER_MS, remembered: false },
    { name: 'never remembers a token that expired already', expiresAtMs: T0 - 1, recallAtMs: T0, remembered: false },
  ];
  for (const { name, expiresAtMs, recallAtMs, remembered } of cases) {
    test(name, () => {
      const tokens = createVerifiedTokens();
      tokens.remember('token-a', alice(), expiresAtMs, T0);
      assert.equal(tokens.recall('token-a', recallAtMs)?.user, remembered ? 'alice@example.com' : undefined);
    });
  }

  test('recalls only the very token string that was verified', () => {
    const tokens = createVerifiedTokens();
    tokens.remember('token-a', alice(), T0 + 3_600_000, T0);
    assert.equal(tokens.recall('token-a ', T0), undefined);
    assert.equal(tokens.recall('token-b', T0), undefined);
  });

  test('hands out a frozen identity, since requests share it', () => {
    const identity = createVerifiedTokens().remember('token-a', alice(), T0 + 3_600_000, T0);
    assert.throws(() => identity.groups.push('admins'), TypeError);
    assert.throws(() => {
      (identity as { user: string }).user = 'mallory';
    }, TypeError);
  });

  test(`keeps at most ${MAX_TOKENS} tokens, dropping the oldest`, () => {
    const tokens = createVerifiedTokens();
    for (let i = 0; i <= MAX_TOKENS; i++) tokens.remember(`token-${i}`, alice(), T0 + 3_600_000, T0);
    assert.equal(tokens.recall('token-0', T0), undefined);
    assert.equal(tokens.recall('token-1', T0)?.user, 'alice@example.com');
    assert.equal(tokens.recall(`token-${MAX_TOKENS}`, T0)?.user, 'alice@example.com');
  });
});
