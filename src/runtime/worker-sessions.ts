/**
 * The live sessions of every worker of `gatehouse serve --workers N`, for the approval page: a
 * session lives in the worker whose socket carries it, while the page (and its Terminate POST)
 * may be served by any worker. Over the cluster IPC channel the asking worker sends its query
 * to the primary, the primary asks every serving worker (the asker included), each answers how
 * many sessions of that approval it runs (and, for a terminate, has ended), and the primary
 * returns the total to the asker.
 *
 * Contract: `workerSessionControl(local)` in a worker answers the primary's questions from
 * `local` and returns the `SessionControl` the approval routes use; `sessionRelay(serving)` in
 * the primary relays. Only messages of exactly the expected shape are acted on. A question not
 * answered by every serving worker within `ANSWER_TIMEOUT_MS` fails closed: the page is refused
 * with a reason (ERR_SESSIONS_UNREACHABLE), never shown a partial count as the whole.
 */
import type { Worker } from 'node:cluster';
import { GatehouseError } from '../errors.ts';
import type { LiveSessions, SessionControl } from '../streams/live-sessions.ts';

const ANSWER_TIMEOUT_MS = 10_000;
const MAX_FIELD_LENGTH = 512;

type Action = 'count' | 'terminate';

/** worker → primary: what the approval page asks. */
interface Query {
  gatehouse: 'sessions:query';
  query: number;
  action: Action;
  approvalId: string;
  by: string;
}
/** primary → every serving worker. */
interface Ask {
  gatehouse: 'sessions:ask';
  ask: number;
  action: Action;
  approvalId: string;
  by: string;
}
/** a worker → primary: its sessions of the approval (ended ones, for a terminate). */
interface Answer {
  gatehouse: 'sessions:answer';
  ask: number;
  sessions: number;
}
/** primary → the asking worker: the sum over every serving worker. */
interface Total {
  gatehouse: 'sessions:total';
  query: number;
  sessions: number;
}

type Check = (value: unknown) => boolean;
const count: Check = (value) => Number.isSafeInteger(value) && (value as number) >= 0;
const text: Check = (value) => typeof value === 'string' && value.length > 0 && value.length <= MAX_FIELD_LENGTH;
const action: Check = (value) => value === 'count' || value === 'terminate';
const tag =
  (name: string): Check =>
  (value) =>
    value === name;

/** True when `message` is a plain object with exactly these keys, each passing its check. */
function exactly<T>(message: unknown, shape: Record<keyof T & string, Check>): message is T {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return false;
  const keys = Object.keys(message);
  const expected = Object.keys(shape);
  if (keys.length !== expected.length) return false;
  const record = message as Record<string, unknown>;
  return expected.every((key) => Object.hasOwn(record, key) && (shape as Record<string, Check>)[key]?.(record[key]) === true);
}

const isQuery = (m: unknown): m is Query => exactly<Query>(m, { gatehouse: tag('sessions:query'), query: count, action, approvalId: text, by: text });
const isAsk = (m: unknown): m is Ask => exactly<Ask>(m, { gatehouse: tag('sessions:ask'), ask: count, action, approvalId: text, by: text });
const isAnswer = (m: unknown): m is Answer => exactly<Answer>(m, { gatehouse: tag('sessions:answer'), ask: count, sessions: count });
const isTotal = (m: unknown): m is Total => exactly<Total>(m, { gatehouse: tag('sessions:total'), query: count, sessions: count });

export interface SessionRelay {
  /** Every message a worker sends the primary passes here; only a well-formed query or answer is acted on. */
  fromWorker(worker: Worker, message: unknown): void;
  /** A worker that exited answers no more: what waited only for it completes without it. */
  exited(worker: Worker): void;
}

/** The primary's relay; `serving` is the set of workers that are serving (and so answer). */
export function sessionRelay(serving: ReadonlySet<Worker>): SessionRelay {
  interface Pending {
    origin: Worker;
    query: number;
    waiting: Set<Worker>;
    sessions: number;
    timer: NodeJS.Timeout;
  }
  const pending = new Map<number, Pending>();
  let nextAsk = 0;

  const finishIfAnswered = (ask: number, entry: Pending): void => {
    if (entry.waiting.size > 0) return;
    clearTimeout(entry.timer);
    pending.delete(ask);
    if (entry.origin.isConnected()) entry.origin.send({ gatehouse: 'sessions:total', query: entry.query, sessions: entry.sessions } satisfies Total);
  };

  return {
    fromWorker(worker, message) {
      if (isQuery(message)) {
        nextAsk += 1;
        const ask = nextAsk;
        const waiting = new Set([...serving].filter((w) => w.isConnected()));
        // Not answered in time: dropped here; the asking worker refuses on its own timeout.
        const timer = setTimeout(() => pending.delete(ask), ANSWER_TIMEOUT_MS);
        timer.unref();
        const entry: Pending = { origin: worker, query: message.query, waiting, sessions: 0, timer };
        pending.set(ask, entry);
        for (const target of waiting) {
          target.send({ gatehouse: 'sessions:ask', ask, action: message.action, approvalId: message.approvalId, by: message.by } satisfies Ask);
        }
        finishIfAnswered(ask, entry);
        return;
      }
      if (isAnswer(message)) {
        const entry = pending.get(message.ask);
        if (entry === undefined || !entry.waiting.delete(worker)) return;
        entry.sessions += message.sessions;
        finishIfAnswered(message.ask, entry);
      }
    },
    exited(worker) {
      for (const [ask, entry] of pending) {
        if (entry.waiting.delete(worker)) finishIfAnswered(ask, entry);
      }
    },
  };
}

/**
 * In a worker: answers the primary's questions from this worker's `local` sessions, and returns
 * the control the approval page uses, which asks every worker through the primary.
 */
export function workerSessionControl(local: LiveSessions, options: { answerTimeoutMs?: number } = {}): SessionControl {
  const answerTimeoutMs = options.answerTimeoutMs ?? ANSWER_TIMEOUT_MS;
  const waiting = new Map<number, (sessions: number) => void>();
  let nextQuery = 0;

  process.on('message', (message: unknown) => {
    if (isAsk(message)) {
      const sessions = message.action === 'terminate' ? local.terminateApproval(message.approvalId, message.by) : local.forApproval(message.approvalId).length;
      process.send?.({ gatehouse: 'sessions:answer', ask: message.ask, sessions } satisfies Answer);
      return;
    }
    if (isTotal(message)) {
      waiting.get(message.query)?.(message.sessions);
      waiting.delete(message.query);
    }
  });

  const ask = (what: Action, approvalId: string, by: string): Promise<number> =>
    new Promise((resolve, reject) => {
      if (!text(approvalId) || !text(by)) {
        reject(new GatehouseError('ERR_REQUEST_INVALID', `approval id and approver must be 1 to ${MAX_FIELD_LENGTH} characters`));
        return;
      }
      nextQuery += 1;
      const query = nextQuery;
      const timer = setTimeout(() => {
        waiting.delete(query);
        const done = what === 'terminate' ? '; sessions on the workers that answered may have ended: reload the page to see what still runs' : '';
        reject(new GatehouseError('ERR_SESSIONS_UNREACHABLE', `not every Gatehouse worker answered about the sessions of approval ${approvalId} within ${answerTimeoutMs / 1000} s${done}`));
      }, answerTimeoutMs);
      waiting.set(query, (sessions) => {
        clearTimeout(timer);
        resolve(sessions);
      });
      process.send?.({ gatehouse: 'sessions:query', query, action: what, approvalId, by } satisfies Query);
    });

  return {
    running: (approvalId) => ask('count', approvalId, '-'),
    terminate: (approvalId, by) => ask('terminate', approvalId, by),
  };
}
