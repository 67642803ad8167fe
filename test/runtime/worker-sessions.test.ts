/**
 * The primary's relay of the approval page's questions about live sessions: asked of every
 * serving worker, answers summed and returned to the asker, and only messages of exactly the
 * expected shape acted on. Workers are stood in for at the wire: what the primary sends each
 * one over IPC (`worker.send`) is what is checked. Then the worker side, forked with a real IPC
 * channel to the test as its primary. The real cluster end to end is
 * test/streams/terminate-workers.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import type { Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { sessionRelay } from '../../src/runtime/worker-sessions.ts';

interface FakeWorker {
  worker: Worker;
  sent: unknown[];
}

function fakeWorker(): FakeWorker {
  const sent: unknown[] = [];
  const worker = { isConnected: () => true, send: (message: unknown) => sent.push(message) } as unknown as Worker;
  return { worker, sent };
}

function setup(count = 2): { workers: FakeWorker[]; relay: ReturnType<typeof sessionRelay> } {
  const workers = Array.from({ length: count }, fakeWorker);
  return { workers, relay: sessionRelay(new Set(workers.map((w) => w.worker))) };
}

const QUERY = { gatehouse: 'sessions:query', query: 7, action: 'terminate', approvalId: 'a1b2', by: 'lead@example.com' };

describe('session relay (primary)', () => {
  test('asks every serving worker, sums their answers and returns the total to the asker only', () => {
    const { workers, relay } = setup(3);
    const [asker, second, third] = workers as [FakeWorker, FakeWorker, FakeWorker];
    relay.fromWorker(asker.worker, QUERY);
    for (const w of workers) assert.deepEqual(w.sent, [{ gatehouse: 'sessions:ask', ask: 1, action: 'terminate', approvalId: 'a1b2', by: 'lead@example.com' }]);
    relay.fromWorker(asker.worker, { gatehouse: 'sessions:answer', ask: 1, sessions: 0 });
    relay.fromWorker(second.worker, { gatehouse: 'sessions:answer', ask: 1, sessions: 2 });
    assert.equal(asker.sent.length, 1, 'no total before every worker answered');
    relay.fromWorker(third.worker, { gatehouse: 'sessions:answer', ask: 1, sessions: 1 });
    assert.deepEqual(asker.sent.at(-1), { gatehouse: 'sessions:total', query: 7, sessions: 3 });
    assert.equal(second.sent.length, 1);
    assert.equal(third.sent.length, 1);
  });

  test('a worker that exits while asked is not waited for', () => {
    const { workers, relay } = setup(2);
    const [asker, gone] = workers as [FakeWorker, FakeWorker];
    relay.fromWorker(asker.worker, { ...QUERY, action: 'count' });
    relay.fromWorker(asker.worker, { gatehouse: 'sessions:answer', ask: 1, sessions: 1 });
    relay.exited(gone.worker);
    assert.deepEqual(asker.sent.at(-1), { gatehouse: 'sessions:total', query: 7, sessions: 1 });
  });

  const malformedQueries: { name: string; message: unknown }[] = [
    { name: 'an extra key', message: { ...QUERY, also: 'x' } },
    { name: 'a missing approver', message: { gatehouse: 'sessions:query', query: 7, action: 'terminate', approvalId: 'a1b2' } },
    { name: 'an action that is not count or terminate', message: { ...QUERY, action: 'kill' } },
    { name: 'an empty approval id', message: { ...QUERY, approvalId: '' } },
    { name: 'an approval id longer than 512 characters', message: { ...QUERY, approvalId: 'a'.repeat(513) } },
    { name: 'a negative query number', message: { ...QUERY, query: -1 } },
    { name: 'a fractional query number', message: { ...QUERY, query: 1.5 } },
    { name: 'an approver that is not a string', message: { ...QUERY, by: 42 } },
    { name: 'another tag', message: { ...QUERY, gatehouse: 'sessions:ask' } },
    { name: 'an array', message: [QUERY] },
    { name: 'null', message: null },
    { name: 'a bare string', message: 'sessions:query' },
  ];
  for (const { name, message } of malformedQueries) {
    test(`ignores a query with ${name}: no worker is asked anything`, () => {
      const { workers, relay } = setup(2);
      relay.fromWorker((workers[0] as FakeWorker).worker, message);
      for (const w of workers) assert.deepEqual(w.sent, []);
    });
  }

  const badAnswers: { name: string; answer: (workers: FakeWorker[]) => [FakeWorker, unknown] }[] = [
    { name: 'an answer to a question never asked', answer: (w) => [w[1] as FakeWorker, { gatehouse: 'sessions:answer', ask: 99, sessions: 5 }] },
    { name: 'a second answer from the same worker', answer: (w) => [w[0] as FakeWorker, { gatehouse: 'sessions:answer', ask: 1, sessions: 5 }] },
    { name: 'an answer with a negative count', answer: (w) => [w[1] as FakeWorker, { gatehouse: 'sessions:answer', ask: 1, sessions: -5 }] },
    { name: 'an answer with an extra key', answer: (w) => [w[1] as FakeWorker, { gatehouse: 'sessions:answer', ask: 1, sessions: 5, more: true }] },
    { name: 'an answer with a count as a string', answer: (w) => [w[1] as FakeWorker, { gatehouse: 'sessions:answer', ask: 1, sessions: '5' }] },
  ];
  for (const { name, answer } of badAnswers) {
    test(`does not count ${name}`, () => {
      const { workers, relay } = setup(2);
      const [asker, other] = workers as [FakeWorker, FakeWorker];
      relay.fromWorker(asker.worker, QUERY);
      relay.fromWorker(asker.worker, { gatehouse: 'sessions:answer', ask: 1, sessions: 1 });
      const [from, message] = answer(workers);
      relay.fromWorker(from.worker, message);
      assert.equal(asker.sent.length, 1, 'still waiting for the other worker');
      relay.fromWorker(other.worker, { gatehouse: 'sessions:answer', ask: 1, sessions: 0 });
      assert.deepEqual(asker.sent.at(-1), { gatehouse: 'sessions:total', query: 7, sessions: 1 });
    });
  }
});

/** The worker side over a real IPC channel: the test is the primary. */
describe('session control (worker), over a real IPC channel', () => {
  const FIXTURE = fileURLToPath(new URL('./fixtures/session-worker.ts', import.meta.url));

  async function startWorker(answerTimeoutMs = 10_000): Promise<{ child: ChildProcess; next(): Promise<unknown> }> {
    const child = fork(FIXTURE, { env: { ...process.env, ANSWER_TIMEOUT_MS: String(answerTimeoutMs) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const inbox: unknown[] = [];
    const waiters: ((message: unknown) => void)[] = [];
    child.on('message', (message: unknown) => {
      const waiter = waiters.shift();
      if (waiter === undefined) inbox.push(message);
      else waiter(message);
    });
    const next = (): Promise<unknown> => (inbox.length > 0 ? Promise.resolve(inbox.shift()) : new Promise((resolve) => waiters.push(resolve)));
    assert.equal(await next(), 'up');
    return { child, next };
  }

  async function stopWorker(child: ChildProcess): Promise<void> {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.send('run:exit');
    await exited;
  }

  test('answers a well-formed terminate ask from its own sessions, and ignores asks of any other shape', async () => {
    const { child, next } = await startWorker();
    try {
      const ask = { gatehouse: 'sessions:ask', ask: 4, action: 'terminate', approvalId: 'a1', by: 'lead@example.com' };
      child.send({ ...ask, ask: 1, extra: true });
      child.send({ ...ask, ask: 2, action: 'end' });
      child.send({ ...ask, ask: 3, by: '' });
      child.send([{ ...ask, ask: 5 }]);
      child.send(ask);
      assert.deepEqual(await next(), { gatehouse: 'sessions:answer', ask: 4, sessions: 1 }, 'one answer, to the well-formed ask');
      child.send('run:ended');
      assert.deepEqual(await next(), { ended: ['terminated by lead@example.com'] }, 'the session ended once, saying who ended it');
    } finally {
      await stopWorker(child);
    }
  });

  test('takes only a well-formed total to its own query as the answer', async () => {
    const { child, next } = await startWorker();
    try {
      child.send('run:count');
      const query = (await next()) as { query: number };
      assert.deepEqual(query, { gatehouse: 'sessions:query', query: query.query, action: 'count', approvalId: 'a1', by: '-' });
      child.send({ gatehouse: 'sessions:total', query: query.query, sessions: 9, extra: 1 });
      child.send({ gatehouse: 'sessions:total', query: query.query + 1, sessions: 8 });
      child.send({ gatehouse: 'sessions:total', query: query.query, sessions: 2 });
      assert.deepEqual(await next(), { result: 2 });
    } finally {
      await stopWorker(child);
    }
  });

  test('a question the primary does not answer in time is refused with 503, saying why (fail closed)', async () => {
    const { child, next } = await startWorker(200);
    try {
      child.send('run:terminate');
      assert.equal(((await next()) as { action: string }).action, 'terminate');
      assert.deepEqual(await next(), {
        error: 'ERR_SESSIONS_UNREACHABLE',
        message:
          'not every Gatehouse worker answered about the sessions of approval a1 within 0.2 s; sessions on the workers that answered may have ended: reload the page to see what still runs',
      });
    } finally {
      await stopWorker(child);
    }
  });
});
