/** Masking: what Gatehouse hides in responses and records, and how. Re-exports only. */
export { SECRETS_ONLY, type MaskingRules } from './masking-rules.ts';
export { createDocumentMasker, maskForRequest } from './document-masker.ts';
