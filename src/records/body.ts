/**
 * What a record keeps of a request or response body: masked first, then cut to
 * `maxBodyBytes`, with the original size kept. Pure: the masking of documents is injected
 * (the masking module's function), so this is tested as a table of cases.
 *
 * Fail closed: a body is recorded only in a form known to be masked. JSON (a document or a
 * watch stream of one event per line) and YAML are parsed and masked; plain text (logs) is
 * kept as is; a Kubernetes protobuf body is kept as the masked text it holds when a reader is
 * given that can mask it; anything else (binary, unparseable JSON) becomes a bracketed note.
 * A response cut off mid-document cannot be parsed: its last partial line is kept only
 * when the response already went through the mask stage (`alreadyMasked`), else dropped.
 * A whole JSON response the mask stage masked itself is kept as sent (`recordSentBody`).
 */
import { isYamlUnavailable, KUBERNETES_YAML, parseJsonOrYaml } from '../json-or-yaml.ts';
import { exceedsJsonDepth, exceedsYamlDepth } from '../masking/nesting-depth.ts';
import { mediaTypeOf } from '../media-type.ts';
import type { KubeRequest } from '../types.ts';

export interface RecordedBody {
  text: string | null;
  /** Size of the body as received / sent, before masking and truncation. */
  bytes: number;
  truncated: boolean;
  masked: boolean;
}

/** The start of a body: at most the first `maxBodyBytes` (or a little more) bytes, and the total size. */
export interface CapturedBody {
  head: Uint8Array;
  totalBytes: number;
  /** True when `head` is the whole body. */
  complete: boolean;
}

/** Masks one parsed document as the mask stage would (Secrets, configured fields). */
export type DocumentMasker = (document: unknown, request: KubeRequest | undefined) => { document: unknown; masked: boolean };

/** A readable, masked text of a Kubernetes protobuf body (kubectl ≥ 1.33 creates Secrets that way), or undefined. */
export type ProtobufReader = (body: Uint8Array, request: KubeRequest | undefined) => { text: string; masked: boolean } | undefined;

export interface BodyOptions {
  contentType: string | null;
  maxBodyBytes: number;
  mask: DocumentMasker;
  /** Without it, protobuf bodies are recorded as a note only. */
  readProtobuf?: ProtobufReader;
  request: KubeRequest | undefined;
  /** The bytes already passed the mask stage (a response without a break-glass grant). */
  alreadyMasked: boolean;
}

export const NO_BODY: RecordedBody = { text: null, bytes: 0, truncated: false, masked: false };

/** A request body no stage read because the call was refused first: its declared size, never its bytes. */
export function unreadBody(declaredBytes: number): RecordedBody {
  return declaredBytes === 0 ? NO_BODY : note(`not recorded: the call was refused before its body of ${declaredBytes} bytes was read`, declaredBytes);
}

export function recordBody(captured: CapturedBody, options: BodyOptions): RecordedBody {
  const bytes = captured.totalBytes;
  if (bytes === 0) return NO_BODY;
  const kind = bodyKind(options.contentType);
  if (kind === 'binary') {
    const readable = captured.complete ? options.readProtobuf?.(captured.head, options.request) : undefined;
    if (readable !== undefined) return cut(readable.text, bytes, false, readable.masked, options.maxBodyBytes);
    return note(`not recorded: ${options.contentType ?? 'untyped'} body of ${bytes} bytes cannot be masked`, bytes);
  }
  const text = decodeUtf8(captured.head);
  if (kind === 'text') return cut(text, bytes, !captured.complete, false, options.maxBodyBytes);

  const whole = captured.complete ? parseDocument(text, kind) : undefined;
  if (whole === NO_YAML_PARSER) {
    return note(`not recorded: ${options.contentType} body of ${bytes} bytes cannot be masked here (this runtime reads no YAML)`, bytes);
  }
  if (whole !== undefined) {
    const { document, masked } = options.mask(whole.value, options.request);
    return cut(JSON.stringify(document), bytes, false, masked, options.maxBodyBytes);
  }
  // A stream of documents, one per line (watch), or the cut-off start of one document.
  const lines = text.split('\n');
  const last = lines.pop() ?? '';
  const out: string[] = [];
  let masked = false;
  for (const line of lines) {
    if (line.trim() === '') continue;
    const parsed = parseJson(line);
    if (parsed === undefined) return note(`not recorded: ${bytes} bytes of ${options.contentType} that do not parse, so cannot be masked`, bytes);
    const result = options.mask(parsed.value, options.request);
    masked ||= result.masked;
    out.push(JSON.stringify(result.document));
  }
  let truncated = !captured.complete;
  if (last.trim() !== '') {
    const parsed = captured.complete ? parseJson(last) : undefined;
    if (parsed !== undefined) {
      const result = options.mask(parsed.value, options.request);
      masked ||= result.masked;
      out.push(JSON.stringify(result.document));
    } else if (!captured.complete && options.alreadyMasked) {
      out.push(last);
    } else if (captured.complete) {
      return note(`not recorded: ${bytes} bytes of ${options.contentType} that do not parse, so cannot be masked`, bytes);
    } else {
      truncated = true;
    }
  }
  if (out.length === 0 && truncated) {
    return note(`not recorded: the start of a ${bytes}-byte response that was sent unmasked cannot be masked without the whole document`, bytes);
  }
  return cut(out.join('\n'), bytes, truncated, masked, options.maxBodyBytes);
}

/**
 * A response body held whole as it was sent (the pipeline's `responseBytes`). When the mask
 * stage masked — or scanned and found clean — these very bytes (`passedMaskStage`), a JSON
 * body is kept as the text it is, cut to `maxBodyBytes`, without being parsed and masked a
 * second time. Anything else is recorded exactly as a tee would have captured it: its first
 * `maxBodyBytes`, through `recordBody`.
 */
export function recordSentBody(sent: Uint8Array, options: BodyOptions, passedMaskStage: boolean): RecordedBody {
  const total = sent.byteLength;
  if (total === 0) return NO_BODY;
  if (passedMaskStage && bodyKind(options.contentType) === 'json') {
    const head = utf8Prefix(sent, options.maxBodyBytes);
    return { text: decodeUtf8(head), bytes: total, truncated: head.byteLength < total, masked: false };
  }
  const complete = total <= options.maxBodyBytes;
  return recordBody({ head: complete ? sent : sent.subarray(0, options.maxBodyBytes), totalBytes: total, complete }, options);
}

type BodyKind = 'json' | 'yaml' | 'text' | 'binary';

function bodyKind(contentType: string | null): BodyKind {
  const type = mediaTypeOf(contentType ?? '');
  if (type === 'application/json' || type.endsWith('+json')) return 'json';
  if (type === 'application/yaml' || type.endsWith('+yaml') || type === 'text/yaml') return 'yaml';
  if (type.startsWith('text/')) return 'text';
  return 'binary';
}

/** Returned for a YAML body where no YAML parser is bundled (AWS Lambda). */
const NO_YAML_PARSER = Symbol('no YAML parser');

function parseDocument(text: string, kind: 'json' | 'yaml'): { value: unknown } | undefined | typeof NO_YAML_PARSER {
  if (kind === 'json') return parseJson(text);
  // Deeper than anything Gatehouse walks: not parsed (the masker would overflow the stack).
  if (exceedsYamlDepth(text)) return undefined;
  try {
    return { value: parseJsonOrYaml(text, KUBERNETES_YAML) };
  } catch (error) {
    return isYamlUnavailable(error) ? NO_YAML_PARSER : undefined;
  }
}

function parseJson(text: string): { value: unknown } | undefined {
  if (exceedsJsonDepth(text)) return undefined;
  try {
    return { value: JSON.parse(text) };
  } catch {
    return undefined;
  }
}

function note(message: string, bytes: number): RecordedBody {
  return { text: `[${message}]`, bytes, truncated: false, masked: false };
}

/** Cuts `text` to at most `max` bytes of UTF-8, never inside a character. */
function cut(text: string, bytes: number, alreadyCut: boolean, masked: boolean, max: number): RecordedBody {
  const encoded = Buffer.from(text, 'utf8');
  if (encoded.byteLength <= max) return { text, bytes, truncated: alreadyCut, masked };
  return { text: decodeUtf8(utf8Prefix(encoded, max)), bytes, truncated: true, masked };
}

/** At most the first `max` bytes of UTF-8 `encoded`, never ending inside a character. */
function utf8Prefix(encoded: Uint8Array, max: number): Uint8Array {
  if (encoded.byteLength <= max) return encoded;
  let end = max;
  // Step back over continuation bytes (10xxxxxx) so the cut falls on a character boundary.
  while (end > 0 && ((encoded[end] as number) & 0xc0) === 0x80) end -= 1;
  return encoded.subarray(0, end);
}

/** One decoder for all bodies: `decode` without `stream` keeps no state between calls. */
const UTF8 = new TextDecoder('utf-8', { fatal: false });

function decodeUtf8(bytes: Uint8Array): string {
  return UTF8.decode(bytes);
}
