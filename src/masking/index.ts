/** Masking: what Gatehouse hides in responses and records, and how. Re-exports only. */
export { maskDocument, maskElement, LAST_APPLIED, type MaskHint, type MaskOutcome } from './mask-document.ts';
export { JsonStreamMasker, type JsonStreamMaskerOptions } from './json-stream-masker.ts';
export { planMasking, jsonOnlyAccept, isJsonMediaType, type MaskingPlan, type MaskingMode } from './masking-plan.ts';
export {
  parseMaskingRules,
  compileMaskingRules,
  SECRETS_ONLY,
  type MaskingRules,
  type MaskingRule,
  type MaskingRuleSpec,
} from './masking-rules.ts';
export { isPlaceholder, placeholderText, placeholderBase64, sizeClass } from './placeholder.ts';
export { createDocumentMasker } from './document-masker.ts';
