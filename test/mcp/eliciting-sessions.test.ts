/**
 * The per-process memory of MCP sessions that may be asked whether to wait for an approval:
 * which client capabilities count, who may answer, bounds and expiry (clock injected).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createElicitingSessions } from '../../src/mcp/eliciting-sessions.ts';
import type { Identity } from '../../src/types.ts';

const alice: Identity = { user: 'alice@example.com', groups: [], claims: {}, issuer: 'https://idp.example' };
const aliceElsewhere: Identity = { ...alice, issuer: 'https://ci.example' };
const mallory: Identity = { ...alice, user: 'mallory@example.com' };
const clockAt = (start: number) => {
  const clock = { at: start, now: () => clock.at };
  return clock;
};
const answer = async (): Promise<Response> => new Response(null, { status: 202 });

describe('which clients may be asked', () => {
  const cases: { name: string; capabilities: unknown; asked: boolean }[] = [
    { name: 'an empty elicitation capability means form mode (older clients)', capabilities: { elicitation: {} }, asked: true },
    { name: 'form mode declared', capabilities: { elicitation: { form: {} } }, asked: true },
    { name: 'form and URL modes declared', capabilities: { elicitation: { form: {}, url: {} } }, asked: true },
    { name: 'URL mode alone is not a form', capabilities: { elicitation: { url: {} } }, asked: false },
    { name: 'no elicitation capability', capabilities: { sampling: {} }, asked: false },
    { name: 'capabilities that are not an object', capabilities: 'elicitation', asked: false },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const sessions = createElicitingSessions(clockAt(0));
      sessions.remember('s1', alice, c.capabilities);
      assert.equal(sessions.canElicit('s1', alice), c.asked);
    });
  }
});

describe('who may answer', () => {
  test('only the identity that started the session (same user and issuer) is asked or answers', () => {
    const sessions = createElicitingSessions(clockAt(0));
    sessions.remember('s1', alice, { elicitation: {} });
    assert.equal(sessions.canElicit('s1', mallory), false);
    assert.equal(sessions.canElicit('s1', aliceElsewhere), false);
    const release = sessions.await('s1', alice, answer);
    assert.ok(release !== undefined);
    assert.equal(sessions.receiverFor('s1', mallory), undefined);
    assert.equal(sessions.receiverFor('s1', aliceElsewhere), undefined);
    assert.equal(sessions.receiverFor('s1', alice), answer);
    release();
    assert.equal(sessions.receiverFor('s1', alice), undefined, 'released: no answer is taken');
  });

  test('one open question per session: a second waits for nothing and gets undefined', () => {
    const sessions = createElicitingSessions(clockAt(0));
    sessions.remember('s1', alice, { elicitation: {} });
    const first = sessions.await('s1', alice, answer);
    assert.ok(first !== undefined);
    assert.equal(sessions.await('s1', alice, answer), undefined);
    first();
    assert.ok(sessions.await('s1', alice, answer) !== undefined);
  });

  test('a session never initialized here (or without a session id) is not asked', () => {
    const sessions = createElicitingSessions(clockAt(0));
    sessions.remember('', alice, { elicitation: {} });
    assert.equal(sessions.canElicit('', alice), false);
    assert.equal(sessions.await('s2', alice, answer), undefined);
  });
});

describe('bounds', () => {
  test('the oldest sessions are forgotten beyond the limit', () => {
    const sessions = createElicitingSessions(clockAt(0), { maxSessions: 2 });
    for (const id of ['s1', 's2', 's3']) sessions.remember(id, alice, { elicitation: {} });
    assert.deepEqual(['s1', 's2', 's3'].map((id) => sessions.canElicit(id, alice)), [false, true, true]);
  });

  test('a session is forgotten once its time is up', () => {
    const clock = clockAt(1000);
    const sessions = createElicitingSessions(clock, { ttlMs: 60_000 });
    sessions.remember('s1', alice, { elicitation: {} });
    clock.at += 60_000;
    assert.equal(sessions.canElicit('s1', alice), true);
    clock.at += 1;
    assert.equal(sessions.canElicit('s1', alice), false);
  });
});

describe('how many waits one identity may have open', () => {
  test('at most maxWaitsPerUser at once, across sessions; an ended wait frees its place, once', () => {
    const sessions = createElicitingSessions(clockAt(0), { maxWaitsPerUser: 2 });
    const first = sessions.beginWait(alice);
    const second = sessions.beginWait(alice);
    assert.ok(first !== undefined && second !== undefined);
    assert.equal(sessions.beginWait(alice), undefined, 'a third wait of alice is not begun');
    assert.ok(sessions.beginWait(aliceElsewhere) !== undefined, 'the same name from another issuer is another identity');
    assert.ok(sessions.beginWait(mallory) !== undefined, 'another user has places of their own');
    first();
    first();
    const third = sessions.beginWait(alice);
    assert.ok(third !== undefined, 'the ended wait freed one place');
    assert.equal(sessions.beginWait(alice), undefined, 'ending a wait twice freed only one place');
  });

  test('four by default', () => {
    const sessions = createElicitingSessions(clockAt(0));
    assert.equal(sessions.maxWaitsPerUser, 4);
    const begun = Array.from({ length: 5 }, () => sessions.beginWait(alice));
    assert.deepEqual(begun.map((end) => end !== undefined), [true, true, true, true, false]);
  });
});
