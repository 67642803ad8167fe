/**
 * What the Lambda handler does when an invocation's answer is out, and when the execution
 * environment shuts down — one definition for functions/handler.ts and the tests that count
 * what it writes.
 *
 * - After each invocation: the records that are due (all of them unless
 *   `records.carryOverSeconds` lets read records wait; src/records/sink.ts), and the stream
 *   cap's lease releases, settle before the handler returns — Lambda may freeze the
 *   environment the moment it does.
 * - At shutdown (SIGTERM): every record still buffered is written. Lambda sends the runtime
 *   SIGTERM, and gives it about 300 ms, only when an external extension is registered: the
 *   stack adds one that does nothing else (infra/shutdown-extension/).
 */
import type { GatehouseDeps } from '../src/app.ts';

export interface InvocationEnd {
  afterInvocation(): Promise<void>;
  atShutdown(): Promise<void>;
}

export function invocationEnd(deps: Pick<GatehouseDeps, 'records' | 'streams'>): InvocationEnd {
  return {
    async afterInvocation() {
      await Promise.all([deps.records?.flushIfDue(), deps.streams?.settle()]);
    },
    async atShutdown() {
      deps.streams?.stop();
      await deps.records?.flush();
    },
  };
}
