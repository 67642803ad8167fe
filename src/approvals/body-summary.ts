/**
 * What an approver sees of a request body: the JSON pretty-printed (a patch is its own
 * diff), Secret values replaced, cut at a size a page and a DynamoDB item hold comfortably.
 * Protobuf bodies show the text they hold (protobuf-summary.ts); other bodies only their
 * type, size and hash. Pure.
 */
import { summarizeProtobuf } from './protobuf-summary.ts';

export interface BodySummary {
  /** "none", "object" (create/update), "patch" (the change itself), "protobuf" (text it holds) or "binary". */
  kind: 'none' | 'object' | 'patch' | 'protobuf' | 'binary';
  contentType: string;
  bytes: number;
  /** Pretty JSON with Secret values masked; "" for none/binary. */
  text: string;
  truncated: boolean;
}

export const BODY_SUMMARY_MAX_CHARS = 8192;
const MASK = '<masked>';

export function summarizeBody(body: Uint8Array, contentType: string, resource: string): BodySummary {
  const type = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  const base = { contentType: type, bytes: body.byteLength, truncated: false };
  if (body.byteLength === 0) return { ...base, kind: 'none', text: '' };
  const kind = type.includes('patch') ? 'patch' : 'object';
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch {
    const protobuf = summarizeProtobuf(body, resource);
    if (protobuf === undefined) return { ...base, kind: 'binary', text: '' };
    return cut({ ...base, kind: 'protobuf', text: protobuf });
  }
  return cut({ ...base, kind, text: JSON.stringify(redactSecrets(doc, resource === 'secrets'), null, 2) });
}

function cut(summary: BodySummary): BodySummary {
  if (summary.text.length <= BODY_SUMMARY_MAX_CHARS) return summary;
  return { ...summary, text: summary.text.slice(0, BODY_SUMMARY_MAX_CHARS), truncated: true };
}

/**
 * Replaces the values under `data` / `stringData` of Secrets (and every patch `value` when the
 * target is a Secret), keeping the keys so the approver still sees what changes.
 */
function redactSecrets(doc: unknown, targetIsSecret: boolean): unknown {
  if (Array.isArray(doc)) return doc.map((item) => redactSecrets(item, targetIsSecret));
  if (doc === null || typeof doc !== 'object') return doc;
  const object = doc as Record<string, unknown>;
  const isSecret = targetIsSecret || object['kind'] === 'Secret';
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) {
    if (isSecret && (key === 'data' || key === 'stringData') && value !== null && typeof value === 'object') {
      out[key] = Object.fromEntries(Object.keys(value).map((k) => [k, MASK]));
    } else if (targetIsSecret && key === 'value' && typeof object['op'] === 'string') {
      out[key] = MASK;
    } else {
      out[key] = redactSecrets(value, targetIsSecret && key !== 'metadata');
    }
  }
  return out;
}
