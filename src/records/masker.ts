/**
 * The masking the records apply to bodies: the masking module's document masker with the
 * configured rules. Records are always masked — a break-glass grant lifts masking for the
 * response a caller receives, never for the record.
 */
import type { KubeRequest } from '../types.ts';
import type { MaskingRules } from '../masking/masking.ts';
import type { DocumentMasker } from './body.ts';

/**
 * Until the masking module exports its document masker, fail closed: any document that is
 * or may carry a Secret is replaced by a note instead of being recorded.
 */
export function recordMasker(_rules: MaskingRules | undefined): DocumentMasker {
  return (document: unknown, request: KubeRequest | undefined) => {
    const text = JSON.stringify(document) ?? '';
    const mayCarrySecret = request?.resource === 'secrets' || /"kind":"Secret(List)?"/.test(text) || text.includes('last-applied-configuration');
    if (!mayCarrySecret) return { document, masked: false };
    return { document: '[not recorded: may carry Secret values]', masked: true };
  };
}
