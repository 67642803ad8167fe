/**
 * The masker for bodies outside the response path (session records, what approvers see): one
 * parsed document, masked as the mask stage would mask it for the same request — the
 * request's resource gives the kind of objects that do not name theirs (patches, SecretList items).
 */
import type { KubeRequest } from '../types.ts';
import { maskDocument, type MaskOutcome } from './mask-document.ts';
import { planMasking } from './masking-plan.ts';
import type { MaskingRules } from './masking-rules.ts';

/** Masks `document` (in place) as the mask stage would for `request`, whatever a break-glass rule lifts. */
export function maskForRequest(document: unknown, request: KubeRequest | undefined, rules: MaskingRules): MaskOutcome {
  const hint = request === undefined ? {} : planMasking(request, rules, false).hint;
  return maskDocument(document, rules, hint);
}

export function createDocumentMasker(rules: MaskingRules): (document: unknown, request: KubeRequest | undefined) => MaskOutcome {
  return function maskRecordedDocument(document, request) {
    return maskForRequest(document, request, rules);
  };
}
