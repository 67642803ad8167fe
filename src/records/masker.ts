/**
 * The masking the records apply to bodies: the masking module's document masker with the
 * configured rules (Secrets only when there are none). Records are always masked — a
 * break-glass grant lifts masking for the response a caller receives, never for the record.
 */
import { createDocumentMasker, SECRETS_ONLY, type MaskingRules } from '../masking/index.ts';
import type { DocumentMasker } from './body.ts';

export function recordMasker(rules: MaskingRules | undefined): DocumentMasker {
  return createDocumentMasker(rules ?? SECRETS_ONLY);
}
