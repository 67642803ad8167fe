/** Masking: what Gatehouse hides in responses and records, and how. Re-exports only. */
export { maskDocument } from './mask-document.ts';
export { SECRETS_ONLY, type MaskingRules } from './masking-rules.ts';
export { createDocumentMasker } from './document-masker.ts';
