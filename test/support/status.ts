/**
 * Reads a Kubernetes Status answer in tests: asserts it is one, returns what assertions check.
 */
import assert from 'node:assert/strict';

export function statusOf(reply: { body: string }): { code: number; reason: string; message: string } {
  const status = JSON.parse(reply.body) as { kind: string; code: number; reason: string; message: string };
  assert.equal(status.kind, 'Status');
  return { code: status.code, reason: status.reason, message: status.message };
}
