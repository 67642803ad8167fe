/**
 * The masking the records apply to bodies: the masking module's document masker with the
 * configured rules (Secrets only when there are none). Records are always masked — a
 * break-glass grant lifts masking for the response a caller receives, never for the record.
 */
import { summarizeProtobuf } from '../approvals/protobuf-summary.ts';
import { createDocumentMasker, LAST_APPLIED, SECRETS_ONLY, type MaskingRules } from '../masking/index.ts';
import type { DocumentMasker, ProtobufReader } from './body.ts';

/** What the record stage masks bodies with, for the configured rules. */
export function recordBodyMasking(rules: MaskingRules | undefined): { mask: DocumentMasker; readProtobuf: ProtobufReader } {
  return { mask: createDocumentMasker(rules ?? SECRETS_ONLY), readProtobuf: recordProtobufReader(rules) };
}

/**
 * Protobuf request bodies (kubectl ≥ 1.33 creates Secrets and ConfigMaps that way), recorded
 * as the text they hold with Secret values masked — the approval pages' summary. Fail
 * closed: the summary masks only Secret values, so a body is kept only when nothing else
 * could need masking (no ConfigMap/env masking rules, no last-applied annotation).
 */
export function recordProtobufReader(rules: MaskingRules | undefined): ProtobufReader {
  const extraRules = rules !== undefined && (rules.masksConfigMaps || rules.masksEnv);
  return (body, request) => {
    const resource = request?.resource ?? '';
    if (extraRules && resource !== 'secrets') return undefined;
    const text = summarizeProtobuf(body, resource);
    if (text === undefined || text.includes(LAST_APPLIED)) return undefined;
    return { text, masked: resource === 'secrets' && text.includes(': <masked>') };
  };
}
