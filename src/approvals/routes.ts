/** Approval pages (issue 4 fills this in). */
import { Hono } from 'hono';
import type { Approvals } from '../ports/approvals.ts';
import type { Clock } from '../types.ts';

export function approvalRoutes(_approvals: Approvals, _clock: Clock): Hono {
  return new Hono();
}
