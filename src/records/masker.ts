/**
 * The masking the records apply to bodies: the masking module's document masker with the
 * configured rules (Secrets only when there are none). Records are always masked — a
 * break-glass grant lifts masking for the response a caller receives, never for the record.
 */
import { decodeKubernetesProtobuf } from '../approvals/protobuf-summary.ts';
import { createDocumentMasker, SECRETS_ONLY, type MaskingRules } from '../masking/index.ts';
import type { DocumentMasker, ProtobufReader } from './body.ts';

/** What the record stage masks bodies with, for the configured rules. */
export function recordBodyMasking(rules: MaskingRules | undefined): { mask: DocumentMasker; readProtobuf: ProtobufReader } {
  const mask = createDocumentMasker(rules ?? SECRETS_ONLY);
  return { mask, readProtobuf: protobufReader(mask) };
}

/**
 * Protobuf request bodies (kubectl ≥ 1.33 creates Secrets and ConfigMaps that way), recorded
 * as the JSON object the API server decodes them to (the approval pages' decoder), masked
 * like any JSON body. Kinds the decoder cannot show, and ambiguous bodies, stay a note.
 */
export function recordProtobufReader(rules: MaskingRules | undefined): ProtobufReader {
  return protobufReader(createDocumentMasker(rules ?? SECRETS_ONLY));
}

function protobufReader(mask: DocumentMasker): ProtobufReader {
  return (body, request) => {
    const decoded = decodeKubernetesProtobuf(body);
    if (!decoded.ok) return undefined;
    const { document, masked } = mask(decoded.object, request);
    return { text: JSON.stringify(document), masked };
  };
}
