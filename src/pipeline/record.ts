/** Stage 7 (outermost) — record: one redacted record per API call (issue 5 fills this in). */
import type { MiddlewareHandler } from 'hono';
import type { RecordSink } from '../ports/records.ts';
import type { Clock } from '../types.ts';

export function record(_sink: RecordSink | undefined, _clock: Clock): MiddlewareHandler {
  return async function recordStage(c, next) {
    const requestId = crypto.randomUUID();
    c.set('requestId', requestId);
    await next();
    c.res.headers.set('audit-id', requestId);
  };
}
