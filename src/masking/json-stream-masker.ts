/**
 * Masks a JSON byte stream as it passes, without holding the whole response: a single
 * document, a list of any size, or a watch stream (one event after another). Pure: bytes in,
 * bytes out through `emit`; no HTTP, no clock.
 *
 * How: a small structural scanner (strings, escapes, depth — nothing else) cuts the stream
 * into units and masks each with `mask-document`:
 * - every top-level value (a document, or one watch event) is a unit;
 * - but a top-level object's `items` or `rows` array is streamed: the members before it are
 *   masked and sent when the array opens, then each element is a unit of its own, and the
 *   members after it are masked and sent at the end. A 50 MB SecretList is never held whole.
 * A unit is parsed only when it can hold something to mask: its kind (from the list, e.g.
 * SecretList, or the request's hint) is masked, or its bytes contain a trigger (`Secret"`,
 * `Secret\"` — the kind, plain or inside a last-applied annotation — and likewise for the
 * kinds and `env` the masking rules name). Other units leave as the very bytes that came in
 * (subarrays of the input chunks, no copy); masked ones leave re-serialised.
 *
 * Fast path for the common big case, the items of a SecretList: the scanner also notes where
 * each item's `data` values lie and replaces just those bytes — no parsing. Any item it does
 * not fully understand (a `kind` other than its own plain `"Secret"`, a `stringData` member, a
 * non-string or escaped value, a last-applied annotation, a trigger besides that own kind)
 * takes the parsing path instead. The same holds for a watch event whose object is a Secret
 * (`{"type":…,"object":{…}}`, a watch of Secrets): its data values are located in the
 * event's bytes and replaced, with the same checks. Either way the masked bytes are parsed
 * once more (small now) and must show nothing but placeholders in `data`, no `stringData`
 * and no last-applied annotation, or the parser takes the unit.
 *
 * Anything that is not well-formed JSON throws ERR_RESPONSE_UNMASKABLE: the caller ends the
 * stream, never passing the rest unmasked.
 */
import { GatehouseError } from '../errors.ts';
import { exceedsJsonDepth, MAX_JSON_DEPTH, tooDeep } from './nesting-depth.ts';
import { spliceMaskedEnv } from './env-splice.ts';
import { CREDENTIAL_FIELDS, elementRole, LAST_APPLIED, listItemKind, maskDocument, maskElement, watchTableColumns, type MaskHint } from './mask-document.ts';
import type { MaskingRules } from './masking-rules.ts';
import { isBase64Placeholder, maskBase64Bytes } from './placeholder.ts';
import { isJsonObject } from '../json-object.ts';

export interface JsonStreamMaskerOptions {
  rules: MaskingRules;
  hint: MaskHint;
  /** What the failure messages name, e.g. `secrets in namespace "prod"`. */
  subject: string;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const encoder = new TextEncoder();
const LAST_APPLIED_BYTES = Buffer.from(LAST_APPLIED, 'latin1');

const triggersByRules = new WeakMap<MaskingRules, readonly Buffer[]>();

/** The byte patterns that make a unit worth parsing even when its kind is not known to be masked (built once per rules). */
export function triggerPatterns(rules: MaskingRules): readonly Buffer[] {
  let triggers = triggersByRules.get(rules);
  if (triggers === undefined) {
    const words = ['Secret"', 'Secret\\"'];
    if (rules.masksConfigMaps) words.push('ConfigMap"', 'ConfigMap\\"');
    if (rules.masksEnv) words.push('"env"', '\\"env\\"');
    triggers = words.map((word) => Buffer.from(word, 'latin1'));
    triggersByRules.set(rules, triggers);
  }
  return triggers;
}

/** Whether a unit must be parsed: its kind is masked, or its bytes hold a trigger. */
function needsParse(bytes: Buffer, kindMasked: boolean, triggers: readonly Buffer[]): boolean {
  return kindMasked || triggers.some((pattern) => bytes.includes(pattern));
}

/** Whether objects of `kind` are masked whatever their bytes say. */
export function isMaskedKind(kind: string | undefined, rules: MaskingRules): boolean {
  return kind === 'Secret' || (kind !== undefined && CREDENTIAL_FIELDS.has(kind)) || (kind === 'ConfigMap' && rules.masksConfigMaps);
}

/** A body held whole and at most this long is masked as one document, without the scanner. */
export const WHOLE_DOCUMENT_MAX_BYTES = 256 * 1024;

/**
 * Masks a body held whole (forward read it, it has a Content-Length): the same result as
 * the streaming masker, cheaper for the common case of one object. A single JSON object of
 * at most WHOLE_DOCUMENT_MAX_BYTES is decided by the same test the masker applies to a
 * top-level value (masked kind, or a trigger in its bytes) and, when it can hold something
 * to mask, parsed and masked as one document (`maskDocument` on a whole list is what the
 * masker gives item by item) — or, when env values are all it can hold, masked by rewriting
 * just its env arrays (`spliceMaskedEnv`). Anything else — a longer body, several documents, something
 * that does not parse — goes through the streaming masker, which also words the failures.
 * Returns the input itself when nothing was rewritten.
 */
export function maskWholeBody(input: Buffer, options: JsonStreamMaskerOptions): { bytes: Uint8Array; masked: boolean } {
  if (input.byteLength <= WHOLE_DOCUMENT_MAX_BYTES && input[0] === 0x7b) {
    const kindMasked = isMaskedKind(options.hint.kind, options.rules);
    if (!needsParse(input, kindMasked, triggerPatterns(options.rules))) {
      return { bytes: input, masked: false };
    }
    // Only env values to mask (the common masked read: a Pod): rewrite just the env arrays.
    const spliced = kindMasked ? undefined : spliceMaskedEnv(input, options.rules, options.hint);
    if (spliced !== undefined) return spliced;
    // Walked recursively below: nothing deeper than any Kubernetes object is.
    if (exceedsJsonDepth(input)) throw tooDeep(`the upstream response for ${options.subject}`);
    let document: unknown;
    try {
      document = JSON.parse(input.toString('utf8'));
    } catch {
      document = undefined;
    }
    if (document !== null && typeof document === 'object' && !Array.isArray(document)) {
      const result = maskDocument(document, options.rules, options.hint);
      if (!result.masked) return { bytes: input, masked: false };
      let end = input.byteLength;
      while (end > 0 && isWhitespace(input[end - 1] as number)) end -= 1;
      const text = JSON.stringify(result.document);
      return { bytes: end === input.byteLength ? Buffer.from(text) : Buffer.concat([Buffer.from(text), input.subarray(end)]), masked: true };
    }
  }
  const pieces: Uint8Array[] = [];
  const masker = new JsonStreamMasker(options, (bytes) => pieces.push(bytes));
  masker.push(input);
  masker.end();
  const bytes = pieces.length === 1 ? (pieces[0] as Uint8Array) : Buffer.concat(pieces);
  return { bytes, masked: masker.masked };
}

type Phase = 'top' | 'elements' | 'suffix';

export class JsonStreamMasker {
  private readonly triggers: readonly Buffer[];
  /** Byte patterns that send a Secret item to the parsing path. */
  private readonly fastPathBlockers: Buffer[];
  private readonly topKindMasked: boolean;
  /** The `Secret"` trigger: a Secret item's own kind holds it once. */
  private readonly secretQuote: Buffer;

  // lexer
  private depth = 0;
  private inString = false;
  private escapeNext = false;

  // the current top-level value
  private phase: Phase = 'top';
  private topIsObject = false;
  /** At depth 1 of a top-level object: the next string is a key ("key") or a value ("value"). */
  private memberState: 'key' | 'value' = 'key';
  private keyText = '';
  private keyStartInChunk = -1;
  /** Depth of the key being read: 1 (a member of the top-level object) or 3 (of a streamed item). */
  private keyDepth = 1;
  private keyOffsetInUnit = 0;
  private lastKey = '';

  // the bytes of the current unit (top-level value, array element, or members after the array)
  private pieces: Buffer[] = [];
  private piecesLength = 0;
  private segmentStart = -1;

  // streaming an items/rows array
  private container: Record<string, unknown> = {};
  private arrayKey: 'items' | 'rows' = 'items';
  private elementsMasked = false;
  private elementCount = 0;

  // the fast path: where the current Secret item's data values lie
  private secretItems = false;
  private itemIsObject = false;
  private itemState: 'key' | 'value' = 'key';
  private itemKey = '';
  private inData = false;
  private dataState: 'key' | 'value' = 'key';
  /** Set when the item holds something the fast path does not handle. */
  private itemSlow = false;
  private valueStart = -1;
  /** Offset in the item's bytes where its own `kind` string value starts, while it is read. */
  private kindStart = -1;
  /** [start, end) of the item's own `kind` string value, when it has one. */
  private kindValue: [number, number] | undefined;
  /** [start, end) offsets, in the item's bytes, of each data value's content. */
  private readonly dataValues: number[] = [];

  private maskedAny = false;
  /** The request's hint, plus the column definitions a Table watch sent with its first event. */
  private hint: MaskHint;

  constructor(
    private readonly options: JsonStreamMaskerOptions,
    private readonly emit: (bytes: Uint8Array) => void,
  ) {
    this.triggers = triggerPatterns(options.rules);
    this.fastPathBlockers = [...this.triggers, LAST_APPLIED_BYTES];
    this.secretQuote = this.triggers[0] as Buffer;
    this.hint = options.hint;
    this.topKindMasked = isMaskedKind(options.hint.kind, options.rules);
  }

  /** True once any value has been masked (or found masked) in the output so far. */
  get masked(): boolean {
    return this.maskedAny;
  }

  push(input: Uint8Array): void {
    const chunk = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    const out = new Output(this.emit);
    const n = chunk.length;
    if (this.segmentStart !== -1) this.segmentStart = 0;
    if (this.keyStartInChunk !== -1) this.keyStartInChunk = 0;
    let i = 0;
    while (i < n) {
      if (this.inString) {
        i = this.scanString(chunk, i);
        continue;
      }
      const byte = chunk[i] as number;
      if (this.depth === 0) {
        i = this.between(chunk, i, out);
        continue;
      }
      const tracking = this.secretItems && this.phase === 'elements';
      switch (byte) {
        case QUOTE:
          this.inString = true;
          if (this.depth === 1) {
            if (this.topIsObject && this.memberState === 'key') this.startKey(i, 1);
          } else if (tracking) {
            if (this.depth === 3 && this.itemState === 'key') this.startKey(i, 3);
            else if (this.depth === 4 && this.inData && this.dataState === 'value') this.valueStart = this.offset(i) + 1;
            else if (this.depth === 3 && this.itemKey === 'kind') this.kindStart = this.offset(i) + 1;
          }
          break;
        case 0x7b: // {
          this.depth += 1;
          if (this.depth > MAX_JSON_DEPTH) throw tooDeep(`the upstream response for ${this.options.subject}`);
          if (tracking) this.itemOpens(true);
          break;
        case 0x5b: // [
          this.depth += 1;
          if (this.depth > MAX_JSON_DEPTH) throw tooDeep(`the upstream response for ${this.options.subject}`);
          if (this.depth === 2 && this.phase === 'top' && this.topIsObject && this.memberState === 'value' && isStreamedKey(this.lastKey)) {
            this.openArray(chunk, i, out);
          } else if (tracking) {
            this.itemOpens(false);
          }
          break;
        case 0x7d: // }
        case 0x5d: // ]
          this.depth -= 1;
          if (this.depth === 1 && this.phase === 'elements') this.closeArray(chunk, i, out);
          else if (this.depth === 0) this.closeTop(chunk, i, out);
          else if (this.depth === 3) this.inData = false;
          break;
        case 0x3a: // :
          if (this.depth === 1) this.memberState = 'value';
          else if (this.depth === 3) this.itemState = 'value';
          else if (this.depth === 4) this.dataState = 'value';
          break;
        case 0x2c: // ,
          if (this.depth === 1) this.memberState = 'key';
          else if (this.depth === 2 && this.phase === 'elements') this.nextElement(chunk, i, out);
          else if (this.depth === 3) this.itemState = 'key';
          else if (this.depth === 4) this.dataState = 'key';
          break;
        default:
          // A data value that is not a string (null, a number): leave it to the parser.
          if (this.inData && this.depth === 4 && this.dataState === 'value' && !isWhitespace(byte)) this.itemSlow = true;
          break;
      }
      i += 1;
    }
    if (this.segmentStart !== -1) this.keep(chunk.subarray(this.segmentStart));
    if (this.inString && this.keyStartInChunk !== -1) this.keyText += chunk.toString('latin1', this.keyStartInChunk, n);
    out.flush();
  }

  /** The input ended: anything unfinished is a malformed (or cut) document. */
  end(): void {
    if (this.depth !== 0 || this.inString) {
      throw this.failure('ended in the middle of a JSON document');
    }
  }

  // ── lexer ──────────────────────────────────────────────────────────────────

  /** Offset of `chunk[i]` within the current unit. */
  private offset(i: number): number {
    return this.piecesLength + (i - this.segmentStart);
  }

  private startKey(i: number, depth: number): void {
    this.keyStartInChunk = i + 1;
    this.keyText = '';
    this.keyDepth = depth;
    if (depth === 1) this.keyOffsetInUnit = this.offset(i);
  }

  /** A `{` (object) or `[` opened inside a streamed Secret item (the depth is already the new one). */
  private itemOpens(object: boolean): void {
    if (this.depth === 3) {
      this.itemIsObject = object;
      this.itemState = 'key';
    } else if (this.depth === 4 && this.itemState === 'value' && this.itemKey === 'data') {
      this.inData = object;
      this.dataState = 'key';
      if (!object) this.itemSlow = true;
    } else if (this.depth === 5 && this.inData) {
      this.itemSlow = true;
    }
  }

  /** Inside a string at `i`: returns the index after its closing quote, or the chunk's end. */
  private scanString(chunk: Buffer, start: number): number {
    let i = start;
    const n = chunk.length;
    if (this.escapeNext) {
      this.escapeNext = false;
      i += 1;
    }
    for (;;) {
      if (i >= n) return n;
      const quote = chunk.indexOf(QUOTE, i);
      if (quote === -1) {
        this.escapeNext = backslashesBefore(chunk, n, i) % 2 === 1;
        return n;
      }
      if (backslashesBefore(chunk, quote, i) % 2 === 1) {
        i = quote + 1;
        continue;
      }
      this.inString = false;
      if (this.keyStartInChunk !== -1) {
        const key = this.keyText + chunk.toString('latin1', this.keyStartInChunk, quote);
        this.keyStartInChunk = -1;
        if (this.keyDepth === 1) {
          this.lastKey = key;
        } else {
          this.itemKey = key;
          if (key === 'stringData') this.itemSlow = true;
        }
      } else if (this.valueStart !== -1) {
        this.dataValues.push(this.valueStart, this.offset(quote));
        this.valueStart = -1;
      } else if (this.kindStart !== -1) {
        this.kindValue = [this.kindStart, this.offset(quote)];
        this.kindStart = -1;
      }
      return quote + 1;
    }
  }

  /** Depth 0: whitespace passes; `{` or `[` opens the next top-level value. */
  private between(chunk: Buffer, i: number, out: Output): number {
    const byte = chunk[i] as number;
    if (isWhitespace(byte)) {
      out.slice(chunk, i, i + 1);
      return i + 1;
    }
    if (byte !== 0x7b && byte !== 0x5b) {
      throw this.failure(`carries ${JSON.stringify(String.fromCharCode(byte))} where a JSON object should start`);
    }
    this.depth = 1;
    this.phase = 'top';
    this.topIsObject = byte === 0x7b;
    this.memberState = 'key';
    this.lastKey = '';
    this.segmentStart = i;
    return i + 1;
  }

  // ── units ──────────────────────────────────────────────────────────────────

  private keep(piece: Buffer): void {
    this.pieces.push(piece);
    this.piecesLength += piece.length;
  }

  /** Takes the current unit: the kept pieces plus `chunk[segmentStart, end)`. */
  private take(chunk: Buffer, end: number): Buffer[] {
    const segments = this.pieces;
    if (this.segmentStart !== -1 && end > this.segmentStart) segments.push(chunk.subarray(this.segmentStart, end));
    this.pieces = [];
    this.piecesLength = 0;
    this.segmentStart = -1;
    return segments;
  }


  private parse(bytes: Buffer, what: string): unknown {
    try {
      return JSON.parse(bytes.toString('utf8'));
    } catch {
      // Not the parser's message: it quotes the input, which may be a Secret value.
      throw this.failure(`carries ${what} that is not valid JSON (${bytes.length} bytes)`);
    }
  }

  private closeTop(chunk: Buffer, i: number, out: Output): void {
    const segments = this.take(chunk, i + 1);
    if (this.phase === 'suffix') {
      this.finishSuffix(joined(segments), out);
      this.phase = 'top';
      return;
    }
    const bytes = joined(segments);
    if (!needsParse(bytes, this.topKindMasked, this.triggers)) {
      out.pieces(segments);
      return;
    }
    if (this.topIsObject && this.maskSecretEvent(bytes, segments, out)) return;
    const document = this.parse(bytes, 'a document');
    const columns = watchTableColumns(document);
    if (columns !== undefined) this.hint = { ...this.hint, tableColumns: columns };
    const result = maskDocument(document, this.options.rules, this.hint);
    if (result.masked) {
      this.maskedAny = true;
      out.text(JSON.stringify(result.document));
    } else {
      out.pieces(segments);
    }
  }

  /** `[` of a top-level `items`/`rows` at `i`: send the members so far, masked, then stream the elements. */
  private openArray(chunk: Buffer, i: number, out: Output): void {
    const key = this.lastKey as 'items' | 'rows';
    const segments = this.take(chunk, i + 1);
    const all = joined(segments);
    const before = all.toString('utf8', 0, this.keyOffsetInUnit);
    this.container = this.parseMembers(before.replace(/[\s,]*$/, ''), '{');
    const result = maskDocument(this.container, this.options.rules, this.hint);
    if (result.masked) this.maskedAny = true;
    const members = JSON.stringify(this.container).slice(1, -1);
    out.text(`{${members}${members === '' ? '' : ','}${JSON.stringify(key)}:[`);
    this.arrayKey = key;
    const role = elementRole(this.container, key, true);
    const elementKind = role === 'row' ? this.hint.kind : listItemKind(this.container['kind'], this.hint.kind);
    // A masked resource parses every element; otherwise the element kind decides, then the triggers.
    this.elementsMasked = this.topKindMasked || (role !== 'nested' && isMaskedKind(elementKind, this.options.rules));
    this.secretItems = role === 'item' && elementKind === 'Secret';
    this.elementCount = 0;
    this.phase = 'elements';
    this.segmentStart = i + 1;
    this.resetItem();
  }

  /** `,` at `i` between two elements: finish the one before; the next starts at the comma. */
  private nextElement(chunk: Buffer, i: number, out: Output): void {
    this.finishElement(this.take(chunk, i), out);
    this.segmentStart = i;
    this.resetItem();
  }

  private resetItem(): void {
    this.itemIsObject = false;
    this.itemState = 'key';
    this.itemKey = '';
    this.inData = false;
    this.itemSlow = false;
    this.valueStart = -1;
    this.kindStart = -1;
    this.kindValue = undefined;
    this.dataValues.length = 0;
  }

  /** `]` at `i` closes the streamed array: finish the last element; the members after it follow. */
  private closeArray(chunk: Buffer, i: number, out: Output): void {
    this.finishElement(this.take(chunk, i), out);
    this.phase = 'suffix';
    this.memberState = 'value';
    this.segmentStart = i + 1;
  }

  private finishElement(segments: Buffer[], out: Output): void {
    const bytes = joined(segments);
    // Elements after the first start at their comma.
    const start = this.elementCount === 0 ? 0 : 1;
    if (isBlank(bytes, start)) {
      if (this.elementCount > 0) throw this.failure(`carries an empty element in its ${this.arrayKey} array`);
      return;
    }
    this.elementCount += 1;
    if (this.secretItems && this.itemIsObject && !this.itemSlow && this.plainDataValues(bytes)) {
      if (this.maskDataValues(bytes, start, out)) return;
    }
    if (!needsParse(bytes, this.elementsMasked, this.triggers)) {
      out.pieces(segments);
      return;
    }
    const element = this.parse(bytes.subarray(start), `an element of its ${this.arrayKey} array`);
    const result = maskElement(element, this.arrayKey, this.container, this.options.rules, this.hint);
    if (!result.masked) {
      out.pieces(segments);
      return;
    }
    this.maskedAny = true;
    out.text((start === 1 ? ',' : '') + JSON.stringify(result.document));
  }

  /** True when no data value holds an escape (its bytes are then its characters). */
  private plainDataValues(bytes: Buffer): boolean {
    const values = this.dataValues;
    for (let k = 0; k < values.length; k += 2) {
      if (bytes.subarray(values[k], values[k + 1]).includes(BACKSLASH)) return false;
    }
    return true;
  }

  /**
   * The fast path: the item's bytes with each data value replaced by its placeholder. The
   * result (small now) must hold no blocker pattern (base64 values hold no quote, so no
   * pattern can hide inside one) and parse as an object with nothing but placeholders in
   * `data`; if not, returns false and the item takes the parsing path.
   */
  private maskDataValues(bytes: Buffer, itemStart: number, out: Output): boolean {
    const masked = this.placeholdersIn(bytes, this.dataValues, this.kindValue);
    if (masked === undefined || !onlyPlaceholderData(masked, itemStart)) return false;
    if (this.dataValues.length > 0) this.maskedAny = true;
    out.owned(masked);
    return true;
  }

  /**
   * The same fast path for a watch event whose object is a Secret (`{"type":…,"object":{…}}`,
   * one per line): the event is located by `secretEventValues` instead of by the streaming
   * scanner, and checked the same way — no blocker left, and the masked event parses as an
   * event of a Secret with nothing but placeholders in `data`. Returns false (nothing sent)
   * when the event must take the parsing path.
   */
  private maskSecretEvent(bytes: Buffer, segments: readonly Buffer[], out: Output): boolean {
    const found = secretEventValues(bytes);
    if (found === undefined) return false;
    const masked = this.placeholdersIn(bytes, found.values, found.kind);
    if (masked === undefined || !onlyPlaceholderEvent(masked)) return false;
    if (found.values.length === 0) {
      out.pieces(segments);
      return true;
    }
    this.maskedAny = true;
    out.owned(masked);
    return true;
  }

  /**
   * `bytes` with each [start, end) of `values` replaced by its placeholder; undefined when the
   * result still holds a blocker pattern (base64 values hold no quote, so no pattern can hide
   * inside one). The object's own `"kind":"Secret"` (`kind`, read raw, no escape) is the one
   * `Secret"` allowed — the caller's parse checks it is the object's kind; any other is an
   * embedded Secret, for the parser.
   */
  private placeholdersIn(bytes: Buffer, values: readonly number[], kind: [number, number] | undefined): Buffer | undefined {
    const parts: Buffer[] = [];
    let position = 0;
    for (let k = 0; k < values.length; k += 2) {
      const start = values[k] as number;
      const end = values[k + 1] as number;
      parts.push(bytes.subarray(position, start), maskBase64Bytes(bytes, start, end));
      position = end;
    }
    parts.push(bytes.subarray(position));
    const masked = parts.length === 1 ? bytes : Buffer.concat(parts);
    const ownKind = kind !== undefined && isRawSecret(bytes, kind) ? 1 : 0;
    for (const pattern of this.fastPathBlockers) {
      if (occurrences(masked, pattern, ownKind + 1) > (pattern === this.secretQuote ? ownKind : 0)) return undefined;
    }
    return masked;
  }

  /** The members after the streamed array, up to the closing `}`: masked with what the document said before. */
  private finishSuffix(bytes: Buffer, out: Output): void {
    const text = bytes.toString('utf8').replace(/\}\s*$/, '').replace(/^[\s,]*/, '');
    if (text === '') {
      out.text(']}');
      return;
    }
    const after = this.parseMembers(`{${text}`, '');
    const kind = typeof this.container['kind'] === 'string' ? this.container['kind'] : this.hint.kind;
    const hint: MaskHint = kind === undefined ? this.hint : { ...this.hint, kind };
    const result = maskDocument(after, this.options.rules, hint);
    if (result.masked) this.maskedAny = true;
    out.text(`],${JSON.stringify(after).slice(1)}`);
  }

  /** Parses `{member, member` (a top-level object cut before or after its streamed array). */
  private parseMembers(text: string, emptyForm: string): Record<string, unknown> {
    if (text === emptyForm || text === '{') return {};
    const value = this.parse(Buffer.from(`${text}}`, 'utf8'), 'members around its list');
    return value as Record<string, unknown>;
  }

  private failure(what: string): GatehouseError {
    return new GatehouseError(
      'ERR_RESPONSE_UNMASKABLE',
      `the upstream response for ${this.options.subject} ${what}; Gatehouse cannot mask it and stopped the response`,
    );
  }
}

/** Pieces of the input up to this size join the bytes of our making before them. */
const SMALL_PIECE = 64;

/**
 * Collects one push's output: adjacent subarrays of the same chunk merge into one (no copy);
 * consecutive bytes of our own making (masked units) are joined, so a push emits few chunks.
 */
class Output {
  private pending: Buffer | undefined;
  private made: Buffer[] = [];

  constructor(private readonly emit: (bytes: Uint8Array) => void) {}

  slice(chunk: Buffer, start: number, end: number): void {
    this.piece(chunk.subarray(start, end));
  }

  pieces(pieces: readonly Buffer[]): void {
    for (const piece of pieces) this.piece(piece);
  }

  piece(piece: Buffer): void {
    if (piece.length === 0) return;
    // A few bytes after bytes of our making (the newline after a masked watch event) join
    // them: one chunk per event downstream, not two. Copied by the join, so nothing is pinned.
    if (this.made.length > 0 && piece.length <= SMALL_PIECE) {
      this.made.push(piece);
      return;
    }
    this.flushMade();
    const pending = this.pending;
    if (pending !== undefined && pending.buffer === piece.buffer && pending.byteOffset + pending.length === piece.byteOffset) {
      this.pending = Buffer.from(pending.buffer, pending.byteOffset, pending.length + piece.length);
      return;
    }
    this.flushPending();
    this.pending = piece;
  }

  /** Bytes made here (not a view of the input). */
  owned(bytes: Buffer): void {
    this.flushPending();
    this.made.push(bytes);
  }

  text(text: string): void {
    const bytes = encoder.encode(text);
    this.owned(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }

  flush(): void {
    this.flushPending();
    this.flushMade();
  }

  private flushPending(): void {
    if (this.pending !== undefined) this.emit(this.pending);
    this.pending = undefined;
  }

  private flushMade(): void {
    if (this.made.length === 0) return;
    this.emit(this.made.length === 1 ? (this.made[0] as Buffer) : Buffer.concat(this.made));
    this.made = [];
  }
}

function isStreamedKey(key: string): key is 'items' | 'rows' {
  return key === 'items' || key === 'rows';
}

/** Number of backslashes right before `end`, not looking before `floor`. */
function backslashesBefore(chunk: Buffer, end: number, floor: number): number {
  let count = 0;
  for (let j = end - 1; j >= floor && chunk[j] === BACKSLASH; j -= 1) count += 1;
  return count;
}

function joined(segments: readonly Buffer[]): Buffer {
  if (segments.length === 1) return segments[0] as Buffer;
  return Buffer.concat(segments);
}

/** `bytes` (from `start`) is one JSON object (a list item) that `isPlaceholderSecret` accepts; its kind, if any, Secret. */
function onlyPlaceholderData(bytes: Buffer, start: number): boolean {
  const item = parsedObject(bytes, start);
  if (item === undefined) return false;
  const kind = item['kind'];
  return (kind === undefined || kind === 'Secret') && isPlaceholderSecret(item);
}

/** `bytes` is one watch event — `type` (a string) and `object`, nothing else — whose object is a Secret `isPlaceholderSecret` accepts. */
function onlyPlaceholderEvent(bytes: Buffer): boolean {
  const event = parsedObject(bytes, 0);
  if (event === undefined || typeof event['type'] !== 'string') return false;
  for (const key of Object.keys(event)) if (key !== 'type' && key !== 'object') return false;
  const object = event['object'];
  return isJsonObject(object) && object['kind'] === 'Secret' && isPlaceholderSecret(object);
}

/**
 * A Secret with nothing left to mask: its `data`, if any, maps keys to base64 placeholders
 * or null; no `stringData`, and no last-applied annotation (however its key was spelled in
 * the bytes — an escape hides it from the byte patterns, not from the parse).
 */
function isPlaceholderSecret(item: Record<string, unknown>): boolean {
  if (item['stringData'] !== undefined && item['stringData'] !== null) return false;
  const metadata = item['metadata'];
  if (isJsonObject(metadata) && isJsonObject(metadata['annotations']) && metadata['annotations'][LAST_APPLIED] !== undefined) return false;
  const data = item['data'];
  if (data === undefined || data === null) return true;
  if (!isJsonObject(data)) return false;
  return Object.values(data).every((value) => value === null || (typeof value === 'string' && isBase64Placeholder(value)));
}

function parsedObject(bytes: Buffer, start: number): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8', start));
  } catch {
    return undefined;
  }
  return isJsonObject(value) ? value : undefined;
}

/**
 * Where the `data` values of a watch event's Secret lie, in `bytes` (one whole top-level
 * object): `{"type":…,"object":{…,"kind":"Secret",…,"data":{"key":"value",…},…}}`. Returns
 * the [start, end) offsets of each value's content and of the object's own `kind` value, or
 * undefined for anything else or anything this scan does not fully understand (the parser
 * takes it then): an event member besides `type` and `object`, `object` twice, an escape in
 * a member name of the event or its object or in a data value, a data value that is not a
 * string, a `data` that is not an object, a `stringData` member, or no plain `"kind":"Secret"`.
 */
function secretEventValues(bytes: Buffer): { values: number[]; kind: [number, number] } | undefined {
  const values: number[] = [];
  let kind: [number, number] | undefined;
  /** Whether the container at each depth is an object (1 = the event). */
  const isObjectAt: boolean[] = [];
  let depth = 0;
  let expectKey = false;
  let eventKey = '';
  let objectKey = '';
  let objects = 0;
  let inObject = false;
  let inData = false;
  const n = bytes.length;
  for (let i = 0; i < n; i += 1) {
    const byte = bytes[i] as number;
    if (byte === QUOTE) {
      const end = stringEnd(bytes, i + 1);
      if (end === -1) return undefined;
      if (expectKey) {
        expectKey = false;
        if (depth === 1 || (depth === 2 && inObject)) {
          if (bytes.subarray(i + 1, end).includes(BACKSLASH)) return undefined;
          const key = bytes.toString('latin1', i + 1, end);
          if (depth === 1) {
            if (key !== 'type' && key !== 'object') return undefined;
            eventKey = key;
          } else {
            if (key === 'stringData') return undefined;
            objectKey = key;
          }
        }
      } else if (depth === 2 && inObject && objectKey === 'kind') {
        kind = [i + 1, end];
      } else if (depth === 3 && inData) {
        if (bytes.subarray(i + 1, end).includes(BACKSLASH)) return undefined;
        values.push(i + 1, end);
      }
      i = end;
      continue;
    }
    switch (byte) {
      case 0x7b: // {
        depth += 1;
        isObjectAt[depth] = true;
        expectKey = true;
        if (depth === 2) {
          inObject = eventKey === 'object';
          if (inObject && (objects += 1) > 1) return undefined;
        } else if (depth === 3) {
          inData = inObject && objectKey === 'data';
        } else if (depth === 4 && inData) {
          return undefined;
        }
        break;
      case 0x5b: // [
        depth += 1;
        isObjectAt[depth] = false;
        expectKey = false;
        if ((depth === 2 && eventKey === 'object') || (depth === 3 && inObject && objectKey === 'data') || (depth === 4 && inData)) return undefined;
        break;
      case 0x7d: // }
      case 0x5d: // ]
        if (depth === 3) inData = false;
        else if (depth === 2) inObject = false;
        depth -= 1;
        expectKey = false;
        break;
      case 0x2c: // ,
        expectKey = isObjectAt[depth] === true;
        break;
      default:
        // A data value that is not a string (null, a number): leave it to the parser.
        if (depth === 3 && inData && byte !== 0x3a && !isWhitespace(byte)) return undefined;
        break;
    }
  }
  if (kind === undefined || !isRawSecret(bytes, kind)) return undefined;
  return { values, kind };
}

/** Index of the quote that closes the string whose content starts at `start`, or -1. */
function stringEnd(bytes: Buffer, start: number): number {
  for (let from = start; ; ) {
    const quote = bytes.indexOf(QUOTE, from);
    if (quote === -1) return -1;
    if (backslashesBefore(bytes, quote, start) % 2 === 0) return quote;
    from = quote + 1;
  }
}

const SECRET_BYTES = Buffer.from('Secret', 'latin1');

/** `bytes[start, end)` is exactly `Secret` (no escape). */
function isRawSecret(bytes: Buffer, [start, end]: [number, number]): boolean {
  return end - start === SECRET_BYTES.length && bytes.compare(SECRET_BYTES, 0, SECRET_BYTES.length, start, end) === 0;
}

/** How many times `pattern` occurs in `bytes`, counting no further than `limit`. */
function occurrences(bytes: Buffer, pattern: Buffer, limit: number): number {
  let count = 0;
  for (let at = bytes.indexOf(pattern); at !== -1 && count < limit; at = bytes.indexOf(pattern, at + 1)) count += 1;
  return count;
}

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

function isBlank(bytes: Buffer, start: number): boolean {
  for (let i = start; i < bytes.length; i += 1) {
    if (!isWhitespace(bytes[i] as number)) return false;
  }
  return true;
}
