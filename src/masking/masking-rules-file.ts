/**
 * Reads the `masking:` section of the policy file. The policy loader passes that section
 * through unvalidated; this validates it, so a bad masking rule fails start-up next to any
 * policy problem. YAML that does not parse is left for the policy loader to report.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { parseMaskingRules, SECRETS_ONLY, type MaskingRules } from './masking-rules.ts';

export function loadMaskingRules(policyFile: string): MaskingRules {
  let document: unknown;
  try {
    document = parse(readFileSync(policyFile, 'utf8'));
  } catch {
    return SECRETS_ONLY;
  }
  const section = typeof document === 'object' && document !== null ? (document as Record<string, unknown>)['masking'] : undefined;
  return parseMaskingRules(section, policyFile);
}
