/**
 * The GatehouseError a promise rejects with, for tests that then check its code and message;
 * fails the test when it resolves or rejects with anything else.
 */
import assert from 'node:assert/strict';
import { GatehouseError } from '../../src/errors.ts';

export async function rejection(promise: Promise<unknown>, expected = 'a refusal'): Promise<GatehouseError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof GatehouseError, String(error));
    return error;
  }
  assert.fail(`expected ${expected}`);
}
