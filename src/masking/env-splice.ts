/**
 * Masks the `env` values of one JSON object without parsing the whole object: a strict JSON
 * scanner walks the bytes once, finds every `env` array, and only those arrays are parsed,
 * masked (`maskEnvEntries`, the rule `maskDocument` applies) and written back; every other
 * byte leaves as it came. Pure: bytes in, bytes out.
 *
 * Why: a Pod read with an env-name masking rule in force is the common masked read, and
 * parsing and re-serialising all of it (objects for every member, then a new string) cost
 * several times what the few hundred bytes of its env arrays do.
 *
 * It answers only where `maskDocument` could do nothing but mask env values, and says
 * `undefined` (the caller parses the whole document) for everything else:
 * - bytes that are not one well-formed JSON object in valid UTF-8 (the scanner checks the
 *   grammar as strictly as JSON.parse: it never vouches for bytes a JSON parser refuses);
 * - a root without a string `kind`, or a kind that is masked, a list or a Table (their items
 *   and rows take kinds from the list, and a Secret may hide without naming its kind);
 * - a byte trigger besides `"env"`: a Secret or masked ConfigMap named anywhere, an escaped
 *   `\"env\"`, a last-applied annotation (its inner document is masked on its own);
 * - a list or a Table nested anywhere (their items and rows are objects of their own: one
 *   holding `data` counts as a Secret without naming its kind), a `kind` written with an escape;
 * - an object key written with an escape (`"e\u006ev"` is `env` to a parser), an `env`
 *   array inside another, or — when a rule is limited to namespaces — a `namespace` key
 *   anywhere but the root's metadata (nested objects may name their own).
 * Env arrays inside any object's `metadata` stay as they came: the walk does not enter metadata.
 */
import { isUtf8 } from 'node:buffer';
import { LAST_APPLIED, maskEnvEntries, type MaskHint } from './mask-document.ts';
import type { MaskingRules } from './masking-rules.ts';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MAX_DEPTH = 512;

/** What the splice reads from the rules, worked out once per rules. */
interface SpliceRules {
  /** Byte patterns after which only a whole-document parse knows what to mask. */
  blockers: readonly Buffer[];
  /** Some env rule is limited to namespaces: the object's namespace must be known for sure. */
  namespaceScoped: boolean;
}

const spliceRulesByRules = new WeakMap<MaskingRules, SpliceRules>();

function spliceRules(rules: MaskingRules): SpliceRules {
  let found = spliceRulesByRules.get(rules);
  if (found === undefined) {
    const words = ['Secret"', 'Secret\\"', '\\"env\\"', LAST_APPLIED];
    if (rules.masksConfigMaps) words.push('ConfigMap"', 'ConfigMap\\"');
    found = {
      blockers: words.map((word) => Buffer.from(word, 'latin1')),
      namespaceScoped: rules.rules.some((rule) => rule.envNames !== null && rule.namespaces !== null),
    };
    spliceRulesByRules.set(rules, found);
  }
  return found;
}

/** Masks `input`'s env values by rewriting only its env arrays; undefined when only a full parse may decide (see above). */
export function spliceMaskedEnv(input: Buffer, rules: MaskingRules, hint: MaskHint): { bytes: Buffer; masked: boolean } | undefined {
  if (!rules.masksEnv) return undefined;
  const { blockers, namespaceScoped } = spliceRules(rules);
  for (const pattern of blockers) if (input.includes(pattern)) return undefined;
  if (!isUtf8(input)) return undefined;
  const found = scan(input);
  if (found === undefined) return undefined;
  const kind = found.rootKind;
  if (kind === undefined || kind === 'Secret' || kind === 'Table' || kind.endsWith('List')) return undefined;
  if (kind === 'ConfigMap' && rules.masksConfigMaps) return undefined;
  if (namespaceScoped && found.namespaceKeys !== (found.rootNamespace === undefined ? 0 : 1)) return undefined;
  const namespace = found.rootNamespace ?? hint.namespace ?? '';

  const pieces: Buffer[] = [];
  let copied = 0;
  let masked = false;
  for (const [start, end] of found.envArrays) {
    const entries = JSON.parse(input.toString('utf8', start, end)) as unknown[];
    if (!maskEnvEntries(entries, rules, namespace)) continue;
    masked = true;
    pieces.push(input.subarray(copied, start), Buffer.from(JSON.stringify(entries)));
    copied = end;
  }
  if (!masked) return { bytes: input, masked: false };
  pieces.push(input.subarray(copied));
  return { bytes: Buffer.concat(pieces), masked: true };
}

/** What a scan found: the env arrays and the root facts the splice reads. */
interface Scan {
  /** [start, end) of each `env` array value, in order. */
  envArrays: [number, number][];
  rootKind: string | undefined;
  rootNamespace: string | undefined;
  namespaceKeys: number;
}

// Keys told apart (compared as bytes: no string is made for a key).
const OTHER_KEY = 0;
const ENV_KEY = 1;
const KIND_KEY = 2;
const METADATA_KEY = 3;
const NAMESPACE_KEY = 4;
const ENV = Buffer.from('env');
const KIND = Buffer.from('kind');
const METADATA = Buffer.from('metadata');
const NAMESPACE = Buffer.from('namespace');

const OBJECT = 1;
const ARRAY = 2;

/**
 * A strict JSON scanner (RFC 8259: the grammar JSON.parse and Go's decoder accept), one flat
 * loop over the bytes, noting what the splice needs. Undefined for anything malformed and
 * for the shapes the splice leaves to the parser: a root that is not an object, an escaped
 * key, an env array inside another, nesting deeper than MAX_DEPTH.
 */
function scan(b: Buffer): Scan | undefined {
  const n = b.length;
  const containers = new Uint8Array(MAX_DEPTH + 1);
  const found: Scan = { envArrays: [], rootKind: undefined, rootNamespace: undefined, namespaceKeys: 0 };
  let depth = 0;
  let i = skipWhitespace(b, 0);
  if (b[i] !== 0x7b) return undefined;
  /** The key whose value comes next (in an object), else OTHER_KEY. */
  let key = OTHER_KEY;
  /** Depth of the open env array (0: none), and where it started. */
  let envDepth = 0;
  let envStart = 0;
  /** Depth of the root's metadata object while it is open (0: not open). */
  let metadataDepth = 0;
  /** Depth of the outermost container that is some object's `metadata` while it is open (0: none): the walk never enters metadata for env. */
  let insideMetadata = 0;

  // Each turn reads one value at i (after whitespace), then the separator or closers after it.
  for (;;) {
    const valueStart = i;
    const c = b[i];
    if (depth === 1 && key === METADATA_KEY) {
      // A later duplicate replaces the earlier metadata, as it does for a parser.
      found.rootNamespace = undefined;
      if (c === 0x7b) metadataDepth = 2;
    }
    if (c === 0x7b || c === 0x5b) {
      if (depth === MAX_DEPTH) return undefined;
      if (key === METADATA_KEY && insideMetadata === 0) insideMetadata = depth + 1;
      if (key === ENV_KEY && c === 0x5b && insideMetadata === 0) {
        if (envDepth !== 0) return undefined;
        envDepth = depth + 1;
        envStart = i;
      }
      if (key === KIND_KEY && depth === 1) found.rootKind = undefined;
      if (key === NAMESPACE_KEY && depth === metadataDepth) found.rootNamespace = undefined;
      depth += 1;
      containers[depth] = c === 0x7b ? OBJECT : ARRAY;
      i = skipWhitespace(b, i + 1);
      if (b[i] !== (c === 0x7b ? 0x7d : 0x5d)) {
        i = memberStart(b, i, c === 0x7b, depth === metadataDepth, found);
        if (i < 0) return undefined;
        key = lastKey;
        continue;
      }
      // An empty container: its closer is read below, as after any value.
    } else if (c === QUOTE) {
      i = skipString(b, i);
      if (i < 0) return undefined;
      if (key === KIND_KEY && !isPlainKind(b, valueStart + 1, i - 1)) return undefined;
      if (depth === 1 && key === KIND_KEY) found.rootKind = JSON.parse(b.toString('utf8', valueStart, i)) as string;
      if (depth === metadataDepth && key === NAMESPACE_KEY) found.rootNamespace = JSON.parse(b.toString('utf8', valueStart, i)) as string;
    } else {
      i = skipScalar(b, i);
      if (i < 0) return undefined;
      if (depth === 1 && key === KIND_KEY) found.rootKind = undefined;
      if (depth === metadataDepth && key === NAMESPACE_KEY) found.rootNamespace = undefined;
    }
    // After a value: a comma and the next member or element, or closers.
    for (;;) {
      i = skipWhitespace(b, i);
      const s = b[i];
      if (s === 0x2c) {
        i = memberStart(b, skipWhitespace(b, i + 1), containers[depth] === OBJECT, depth === metadataDepth, found);
        if (i < 0) return undefined;
        key = lastKey;
        break;
      }
      if ((s === 0x7d && containers[depth] === OBJECT) || (s === 0x5d && containers[depth] === ARRAY)) {
        i += 1;
        if (envDepth === depth) {
          found.envArrays.push([envStart, i]);
          envDepth = 0;
        }
        if (metadataDepth === depth) metadataDepth = -1;
        if (insideMetadata === depth) insideMetadata = 0;
        depth -= 1;
        if (depth === 0) return skipWhitespace(b, i) === n ? found : undefined;
        continue;
      }
      return undefined;
    }
  }
}

const LIST = Buffer.from('List');
const TABLE = Buffer.from('Table');

/**
 * Whether a `kind` value (the bytes between its quotes) names a kind whose masking is the
 * plain walk's: not a list or a Table (at any depth, their items and rows are objects of
 * their own, which a Secret may stand among without naming its kind), and written without
 * escapes (only a parser reads those right).
 */
function isPlainKind(b: Buffer, start: number, end: number): boolean {
  for (let k = start; k < end; k++) if (b[k] === BACKSLASH) return false;
  const length = end - start;
  if (length >= LIST.length && matches(b, end - LIST.length, LIST)) return false;
  return !(length === TABLE.length && matches(b, start, TABLE));
}

/** The key memberStart read last, OTHER_KEY for an array element (a module variable: no object per key). */
let lastKey = OTHER_KEY;

/** At the start of a member (`isObject`) or an element: the index of its value, past an object member's key and colon; -1 when malformed. */
function memberStart(b: Buffer, i: number, isObject: boolean, inRootMetadata: boolean, found: Scan): number {
  if (isObject) return readKey(b, i, inRootMetadata, found);
  lastKey = OTHER_KEY;
  return i;
}

/** At a key's opening quote: reads the key and its colon; returns the index of its value (after whitespace), -1 when malformed. */
function readKey(b: Buffer, i: number, inRootMetadata: boolean, found: Scan): number {
  if (b[i] !== QUOTE) return -1;
  const end = skipString(b, i);
  if (end < 0) return -1;
  const start = i + 1;
  const close = end - 1;
  for (let k = start; k < close; k++) if (b[k] === BACKSLASH) return -1;
  lastKey = keyOf(b, start, close - start);
  if (lastKey === NAMESPACE_KEY) {
    found.namespaceKeys += 1;
    if (!inRootMetadata) lastKey = OTHER_KEY;
  }
  const colon = skipWhitespace(b, end);
  if (b[colon] !== 0x3a) return -1;
  return skipWhitespace(b, colon + 1);
}

/** Which of the keys the splice reads the key at [start, start + length) is (compared as bytes: no string made). */
function keyOf(b: Buffer, start: number, length: number): number {
  const word = length === 3 ? ENV : length === 4 ? KIND : length === 8 ? METADATA : length === 9 ? NAMESPACE : undefined;
  if (word === undefined || !matches(b, start, word)) return OTHER_KEY;
  return word === ENV ? ENV_KEY : word === KIND ? KIND_KEY : word === METADATA ? METADATA_KEY : NAMESPACE_KEY;
}

function skipWhitespace(b: Buffer, i: number): number {
  const n = b.length;
  while (i < n) {
    const c = b[i] as number;
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    i += 1;
  }
  return i;
}

/** At an opening quote: the index after the closing quote, -1 when malformed. */
function skipString(b: Buffer, i: number): number {
  const n = b.length;
  i += 1;
  while (i < n) {
    const c = b[i] as number;
    if (c >= 0x20 && c !== QUOTE && c !== BACKSLASH) {
      i += 1;
    } else if (c === QUOTE) {
      return i + 1;
    } else if (c === BACKSLASH && i + 1 < n) {
      const e = b[i + 1] as number;
      if (e === 0x75) {
        if (i + 5 >= n) return -1;
        for (let k = i + 2; k < i + 6; k++) if (!isHexDigit(b[k] as number)) return -1;
        i += 6;
      } else if (e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
        i += 2;
      } else {
        return -1;
      }
    } else {
      return -1;
    }
  }
  return -1;
}

/** A number or true/false/null at i: the index after it, -1 when malformed. */
function skipScalar(b: Buffer, i: number): number {
  const c = b[i];
  if (c === 0x74) return matches(b, i, TRUE) ? i + 4 : -1;
  if (c === 0x66) return matches(b, i, FALSE) ? i + 5 : -1;
  if (c === 0x6e) return matches(b, i, NULL) ? i + 4 : -1;
  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  if (c === 0x2d) i += 1;
  if (b[i] === 0x30) i += 1;
  else if (isDigit(b[i])) while (isDigit(b[i])) i += 1;
  else return -1;
  if (b[i] === 0x2e) {
    i += 1;
    if (!isDigit(b[i])) return -1;
    while (isDigit(b[i])) i += 1;
  }
  if (b[i] === 0x65 || b[i] === 0x45) {
    i += 1;
    if (b[i] === 0x2b || b[i] === 0x2d) i += 1;
    if (!isDigit(b[i])) return -1;
    while (isDigit(b[i])) i += 1;
  }
  return i;
}

const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');
const NULL = Buffer.from('null');

function matches(b: Buffer, i: number, word: Buffer): boolean {
  for (let k = 0; k < word.length; k++) if (b[i + k] !== word[k]) return false;
  return true;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

function isHexDigit(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}
