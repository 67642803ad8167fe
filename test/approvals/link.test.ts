import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, UnsecuredJWT } from 'jose';
import { formTokenFor, formTokenMatches, linkUrl, signLink, verifyLink } from '../../src/approvals/link.ts';
import { T0 } from './support.ts';
import { rejection } from '../support/rejection.ts';

const key = new Uint8Array(32).fill(7);
const otherKey = new Uint8Array(32).fill(8);
const claims = { approvalId: 'a1', approver: 'bob@example.com', linkId: 'L1', expiresAt: T0 + 3600_000 };

/** Alters a character inside the signature (the last one also holds padding bits, which decode to the same bytes). */
function alterSignature(token: string): string {
  const at = token.length - 10;
  return `${token.slice(0, at)}${token[at] === 'A' ? 'B' : 'A'}${token.slice(at + 1)}`;
}

describe('approval links', () => {
  test('a link signed for an approval verifies for that approval', async () => {
    const token = await signLink(key, claims, T0);
    assert.deepEqual(await verifyLink(key, token, 'a1', T0 + 1000), { ...claims });
  });

  test('the URL carries the id and the token', () => {
    assert.equal(linkUrl('https://gh.example.com/', 'a1', 'tok'), 'https://gh.example.com/_gatehouse/approvals/a1?t=tok');
  });

  const hostile: [string, () => Promise<string>, string, number, RegExp][] = [
    ['a link signed with another key (forged) is refused', () => signLink(otherKey, claims, T0), 'a1', T0, /its signature does not match \(forged or altered\)$/],
    ['an altered signature is refused', async () => alterSignature(await signLink(key, claims, T0)), 'a1', T0, /forged or altered/],
    [
      'an altered payload (another approval id) is refused',
      async () => {
        const [h, , s] = (await signLink(key, claims, T0)).split('.');
        const payload = Buffer.from(JSON.stringify({ aid: 'a2', sub: 'bob@example.com', jti: 'L1', exp: T0 / 1000 + 3600, iss: 'gatehouse', aud: 'gatehouse:approval-link' })).toString('base64url');
        return `${h}.${payload}.${s}`;
      },
      'a2',
      T0,
      /its signature does not match \(forged or altered\)$/,
    ],
    ['an expired link is refused', () => signLink(key, claims, T0), 'a1', T0 + 3600_000, /^this approval link is not valid: it expired at 2025-06-01T11:00:00.000Z$/],
    ['a link for another approval is refused', () => signLink(key, { ...claims, approvalId: 'a2' }, T0), 'a1', T0, /it was issued for another approval, not a1$/],
    ['an unsigned ("alg": "none") link is refused', async () => new UnsecuredJWT({ aid: 'a1', sub: 'bob@example.com', jti: 'L1' }).setIssuer('gatehouse').setAudience('gatehouse:approval-link').setExpirationTime(T0 / 1000 + 60).encode(), 'a1', T0, /not valid/],
    [
      'a token of another purpose (wrong audience) is refused',
      () => new SignJWT({ aid: 'a1' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('gatehouse').setAudience('something-else').setSubject('bob@example.com').setJti('L1').setExpirationTime(T0 / 1000 + 60).sign(key),
      'a1',
      T0,
      /its "aud" claim is wrong$/,
    ],
    ['garbage is refused', async () => 'not-a-jwt', 'a1', T0, /it is malformed \(forged or altered\)$/],
    ['a missing token is refused', async () => '', 'a1', T0, /it carries no token/],
  ];
  for (const [name, make, id, now, message] of hostile) {
    test(name, async () => {
      const error = await rejection(verifyLink(key, await make(), id, now), 'the link to be refused');
      assert.equal(error.code, 'ERR_APPROVAL_LINK_INVALID');
      assert.equal(error.httpStatus, 403);
      assert.match(error.message, /^this approval link is not valid: /);
      assert.match(error.message, message);
    });
  }
});

describe('form tokens', () => {
  test('the token of a link matches itself', () => {
    assert.ok(formTokenMatches(formTokenFor(key, 'L1'), formTokenFor(key, 'L1')));
  });
  test("another link's token does not match", () => {
    assert.ok(!formTokenMatches(formTokenFor(key, 'L1'), formTokenFor(key, 'L2')));
  });
  test('an empty token does not match', () => {
    assert.ok(!formTokenMatches(formTokenFor(key, 'L1'), ''));
  });
});
