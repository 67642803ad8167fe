import assert from 'node:assert/strict';
import { GatehouseConfigError } from '../../src/config-error.ts';

/** The problems a configuration parse reports ([] when it accepts); any other failure fails the test. */
export function configProblems(parse: () => unknown): string[] {
  try {
    parse();
  } catch (error) {
    assert.ok(error instanceof GatehouseConfigError, String(error));
    return error.problems;
  }
  return [];
}
