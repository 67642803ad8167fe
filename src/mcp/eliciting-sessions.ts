/**
 * What one Gatehouse process remembers of MCP sessions so that a tool call can ask the user,
 * through MCP elicitation, whether to wait for an approval — the only state the otherwise
 * stateless endpoint keeps, and only where it is offered (the Node runtime in one process).
 *
 * Why state at all: every POST is served by a fresh server, so the tools/call POST never saw the
 * client's `initialize` (its capabilities), and the client's answer to `elicitation/create`
 * arrives as another POST that must reach the transport of the tool call still waiting for it.
 *
 * Contract:
 * - `remember(session, who, capabilities)` at initialize: the session may be asked when the
 *   client declared form elicitation (`elicitation: {}` or `{ form: … }`). Bounded: the oldest
 *   sessions are forgotten first, and any after `ttlMs` (a forgotten session gets the plain
 *   pending result, never an error).
 * - `canElicit(session, who)`: only for the identity that initialized the session.
 * - `await(session, who, receiver)` while one elicitation is outstanding: `receiverFor` hands
 *   the answering POST's messages to it. One at a time per session (a second tool call of the
 *   same session waiting at once gets the plain pending result: the SDK numbers each server's
 *   requests from 0, so two answers could not be told apart). The returned function releases it.
 * - `beginWait(who)` for a whole wait (the question, then the polling of the approval): at most
 *   `maxWaitsPerUser` (default 4) at once per identity, across its sessions, so one caller
 *   cannot hold open requests and store reads without bound; undefined when at the cap (the
 *   call gets the pending result, saying why). The returned function ends the wait (once).
 */
import type { Clock, Identity } from '../types.ts';

/** Takes the client's answer POST (JSON-RPC responses only) for the tool call waiting on it. */
export type AnswerReceiver = (request: Request, messages: unknown) => Promise<Response>;

export interface ElicitingSessions {
  remember(session: string, who: Identity, capabilities: unknown): void;
  canElicit(session: string, who: Identity): boolean;
  await(session: string, who: Identity, receiver: AnswerReceiver): (() => void) | undefined;
  receiverFor(session: string, who: Identity): AnswerReceiver | undefined;
  beginWait(who: Identity): (() => void) | undefined;
  readonly maxWaitsPerUser: number;
}

const DEFAULT_MAX_SESSIONS = 10_000;
const DEFAULT_TTL_MS = 12 * 60 * 60 * 1000;
const DEFAULT_MAX_WAITS_PER_USER = 4;

export function createElicitingSessions(clock: Clock, limits: { maxSessions?: number; ttlMs?: number; maxWaitsPerUser?: number } = {}): ElicitingSessions {
  const maxSessions = limits.maxSessions ?? DEFAULT_MAX_SESSIONS;
  const ttlMs = limits.ttlMs ?? DEFAULT_TTL_MS;
  const maxWaitsPerUser = limits.maxWaitsPerUser ?? DEFAULT_MAX_WAITS_PER_USER;
  /** Open waits per identity. */
  const waits = new Map<string, number>();
  /** Sessions whose client declared form elicitation → who initialized them and when (insertion order = age). */
  const sessions = new Map<string, { who: string; at: number }>();
  const waiting = new Map<string, { who: string; receiver: AnswerReceiver }>();

  const known = (session: string, who: Identity): boolean => {
    const entry = sessions.get(session);
    if (entry === undefined) return false;
    if (clock.now() - entry.at > ttlMs) {
      sessions.delete(session);
      return false;
    }
    return entry.who === whoKey(who);
  };

  return {
    maxWaitsPerUser,
    beginWait(who) {
      const key = whoKey(who);
      const open = waits.get(key) ?? 0;
      if (open >= maxWaitsPerUser) return undefined;
      waits.set(key, open + 1);
      let ended = false;
      return () => {
        if (ended) return;
        ended = true;
        const left = (waits.get(key) ?? 1) - 1;
        if (left <= 0) waits.delete(key);
        else waits.set(key, left);
      };
    },
    remember(session, who, capabilities) {
      if (session === '' || !declaresFormElicitation(capabilities)) return;
      sessions.delete(session);
      sessions.set(session, { who: whoKey(who), at: clock.now() });
      while (sessions.size > maxSessions) {
        const oldest = sessions.keys().next().value;
        if (oldest === undefined) break;
        sessions.delete(oldest);
      }
    },
    canElicit: known,
    await(session, who, receiver) {
      if (!known(session, who) || waiting.has(session)) return undefined;
      const entry = { who: whoKey(who), receiver };
      waiting.set(session, entry);
      return () => {
        if (waiting.get(session) === entry) waiting.delete(session);
      };
    },
    receiverFor(session, who) {
      const entry = waiting.get(session);
      return entry !== undefined && entry.who === whoKey(who) ? entry.receiver : undefined;
    },
  };
}

/** The same person from the same issuer: a session is answered only by whoever started it. */
function whoKey(identity: Identity): string {
  return JSON.stringify([identity.issuer ?? '', identity.user]);
}

/** MCP 2025-11-25: `elicitation: {}` means form mode (older clients), `{ form: {} }` says it, `{ url: {} }` alone does not. */
function declaresFormElicitation(capabilities: unknown): boolean {
  if (typeof capabilities !== 'object' || capabilities === null) return false;
  const elicitation = (capabilities as { elicitation?: unknown }).elicitation;
  if (typeof elicitation !== 'object' || elicitation === null) return false;
  const modes = elicitation as Record<string, unknown>;
  return modes['form'] !== undefined || modes['url'] === undefined;
}
