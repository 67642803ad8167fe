/** Stage 6 — mask: Secret values never leave in a response (issue 5 fills this in). */
import type { MiddlewareHandler } from 'hono';
import type { MaskingRules } from '../masking/masking.ts';

export function mask(_rules: MaskingRules | undefined): MiddlewareHandler {
  return async function maskStage(_c, next) {
    await next();
  };
}
