/**
 * Restoring placeholders in a write. A client that writes back what it read (`kubectl edit`,
 * `kubectl get -o yaml | kubectl apply -f -`, kubectl's last-applied migration) sends, where
 * values were masked, the placeholders it was shown. Where a placeholder is exactly what
 * masking shows for the live value at the same field of the same object, the client means
 * "leave this as it is": that value is put back in its place. Pure: the live object comes in
 * as a parsed document, nothing is read here.
 *
 * Contract:
 * - The same field: for whole objects and merge, strategic-merge and apply patches, the path
 *   of the placeholder in the body, read in the live object; list elements that carry a
 *   `name` (containers, env) are matched by name, others by position. For a JSON Patch, the
 *   operation's path plus the path inside its value, followed over a copy of the live object
 *   as the operations before it leave it; a value added as a new list element has no live
 *   counterpart.
 * - The `last-applied-configuration` annotation is JSON holding an object: it is restored
 *   whole when it is exactly the masked live annotation (kubectl's migration to server-side
 *   apply sends that), else value by value — each placeholder inside from the live object at
 *   that path (the annotation of a manifest describes the object), or from the live annotation.
 *   It is written back as Go writes JSON, so kubectl's own comparisons hold.
 * - Exactly: masking the live value must give that very placeholder (its text or base64
 *   form, its size class); the masker itself decides (`maskDocument` over a copy of the live
 *   object), so only fields it masks are ever restored.
 * - Fail closed: any placeholder not restored is listed (`unrestorable`) with its path and
 *   why, never a value; a placeholder inside a longer text or in a field name is never
 *   restored. Last, the restored body masked must equal the body as sent masked: a restored
 *   value always lands where masking hides it again.
 */
import { goJson } from './go-json.ts';
import { applyOperation, insertsIntoArray, pointerSegments, valueAt, type PatchOperation } from './json-pointer.ts';
import { LAST_APPLIED, maskDocument, type MaskHint } from './mask-document.ts';
import type { MaskingRules } from './masking-rules.ts';
import { holdsPlaceholderMark, isExactPlaceholder } from './placeholder.ts';
import { isJsonObject, type JsonObject } from '../json-object.ts';

/** How the API server reads the body: a whole object (create, update) or one of the patch types. */
export type WriteShape = 'object' | 'merge-patch' | 'strategic-merge-patch' | 'apply-patch' | 'json-patch';

export type UnrestorableReason =
  | 'no-live-object'
  | 'no-live-value'
  | 'mismatch'
  | 'inside-text'
  | 'field-name'
  | 'new-element'
  | 'patch-does-not-apply'
  | 'annotation-unparsable'
  | 'not-masked-there';

export interface Unrestorable {
  /** Field path in the object, e.g. `data.password`, `spec.containers[0].env[1].value`. */
  path: string;
  reason: UnrestorableReason;
}

/** A JSON Patch operation that reads a value (copy and move from `from`, test at `path`). */
export interface PatchRead {
  /** Position of the operation in the patch. */
  operation: number;
  op: string;
  pointer: string;
}

export interface Restoration {
  /** The body with the placeholders restored: a copy, the input is left as it is. */
  body: unknown;
  /** Paths of the restored fields, in body order. Never values. */
  restored: string[];
  unrestorable: Unrestorable[];
  /**
   * JSON Patch operations that read a masked value (or whose source cannot be told, the patch
   * not applying): a `copy` or `move` could put it where it shows, a `test` tells whether a
   * guess is right. Empty for other shapes.
   */
  maskedReads: PatchRead[];
}

const READING_OPERATIONS = new Set(['copy', 'move', 'test']);

/** True for a JSON Patch with an operation that reads a value of the object (copy, move, test). */
export function readsLiveValues(body: unknown, shape: WriteShape): boolean {
  return shape === 'json-patch' && Array.isArray(body) && body.some((operation) => isOperation(operation) && READING_OPERATIONS.has(operation.op));
}

/** Why a placeholder was not restored, in words for the caller (they name no value). */
export const UNRESTORABLE_REASONS: Readonly<Record<UnrestorableReason, string>> = {
  'no-live-object': 'there is no live object whose value it could keep',
  'no-live-value': 'the live object has no value there',
  mismatch: 'it is not what masking shows for the live value there (the value changed, or the placeholder came from another object or field)',
  'inside-text': 'it is part of a longer text, not a whole value',
  'field-name': 'a field name is never restored',
  'new-element': 'the operation adds a new list element, which has no live value',
  'patch-does-not-apply': 'the patch does not apply to the live object up to this operation',
  'annotation-unparsable': 'the last-applied annotation does not parse as JSON',
  'not-masked-there': 'the restored value would not be masked where this write puts it',
};

type Segment = string | number;

/** A live counterpart: the value and what masking shows for it. */
interface Source {
  live: unknown;
  masked: unknown;
}

const NOTHING: Source = { live: undefined, masked: undefined };

/**
 * Restores the placeholders of `body` (parsed) from `live`, the object the write targets as
 * read upstream (undefined: a create, or no such object). `hint` is the request's (kind,
 * namespace), as the mask stage uses it.
 */
export function restorePlaceholders(body: unknown, shape: WriteShape, live: unknown, rules: MaskingRules, hint: MaskHint): Restoration {
  const root: Source | undefined = live === undefined ? undefined : { live, masked: maskDocument(structuredClone(live), rules, hint).document };
  const walk = new Restorer(root);
  const copy = structuredClone(body);
  const jsonPatch = shape === 'json-patch' && Array.isArray(copy);
  const restoredBody = jsonPatch ? walk.jsonPatch(copy) : walk.node(copy, [root ?? NOTHING], [], false);
  const alike = jsonPatch ? walk.patchedMasksAlike(rules, hint) : masksAlike(body, restoredBody, rules, hint);
  if (walk.restored.length > 0 && !alike) {
    for (const path of walk.restored) walk.unrestorable.push({ path, reason: 'not-masked-there' });
    walk.restored.length = 0;
  }
  return { body: restoredBody, restored: walk.restored, unrestorable: walk.unrestorable, maskedReads: walk.maskedReads };
}

/** The restored body, masked, is the body as sent, masked: every restored value is hidden again where it lands. */
function masksAlike(sent: unknown, restored: unknown, rules: MaskingRules, hint: MaskHint): boolean {
  const before = maskDocument(structuredClone(sent), rules, hint).document;
  const after = maskDocument(structuredClone(restored), rules, hint).document;
  return JSON.stringify(before) === JSON.stringify(after);
}

class Restorer {
  readonly restored: string[] = [];
  readonly unrestorable: Unrestorable[] = [];
  readonly maskedReads: PatchRead[] = [];
  /** The reason for a placeholder with no live value, where the walk cannot tell better. */
  private missing: UnrestorableReason;
  /** Where `jsonPatch` left the live object and its masked form (undefined: the patch did not apply). */
  private patched: Source | undefined;

  constructor(private root: Source | undefined) {
    this.missing = root === undefined ? 'no-live-object' : 'no-live-value';
  }

  /** Walks `node` in place with its live counterparts (`sources`, tried in order); returns what stands in its place. */
  node(node: unknown, sources: readonly Source[], path: readonly Segment[], inAnnotation: boolean): unknown {
    if (typeof node === 'string') return this.text(node, sources, path, inAnnotation);
    if (Array.isArray(node)) {
      for (let index = 0; index < node.length; index += 1) {
        const element: unknown = node[index];
        node[index] = this.node(element, sources.map((source) => elementOf(source, element, index)), [...path, index], inAnnotation);
      }
      return node;
    }
    if (!isJsonObject(node)) return node;
    for (const key of Object.keys(node)) {
      if (holdsPlaceholderMark(key)) this.refuse([...path, key], 'field-name');
      node[key] = this.node(node[key], sources.map((source) => memberOf(source, key)), [...path, key], inAnnotation);
    }
    return node;
  }

  private text(text: string, sources: readonly Source[], path: readonly Segment[], inAnnotation: boolean): unknown {
    if (!holdsPlaceholderMark(text)) return text;
    if (!inAnnotation && isLastAppliedPath(path)) return this.annotation(text, sources, path);
    if (!isExactPlaceholder(text)) {
      this.refuse(path, 'inside-text');
      return text;
    }
    const match = sources.find((source) => source.live !== undefined && source.masked === text);
    if (match !== undefined) {
      this.restored.push(fieldPath(path));
      return structuredClone(match.live);
    }
    this.refuse(path, sources.some((source) => source.live !== undefined) ? 'mismatch' : this.missing);
    return text;
  }

  /** The last-applied annotation: whole when it is the masked live one, else value by value inside. */
  private annotation(text: string, sources: readonly Source[], path: readonly Segment[]): unknown {
    const whole = sources.find((source) => typeof source.live === 'string' && source.masked === text);
    if (whole !== undefined) {
      this.restored.push(fieldPath(path));
      return whole.live;
    }
    let applied: unknown;
    try {
      applied = JSON.parse(text);
    } catch {
      this.refuse(path, 'annotation-unparsable');
      return text;
    }
    const inner: Source[] = this.root === undefined ? [] : [this.root];
    for (const source of sources) inner.push({ live: parsedOrUndefined(source.live), masked: parsedOrUndefined(source.masked) });
    const restored = this.node(applied, inner, path, true);
    return goJson(restored) + (text.endsWith('\n') ? '\n' : '');
  }

  /**
   * For a JSON Patch, the check `masksAlike` makes for other bodies, made on the objects the
   * patch leads to (an operation's value alone does not say what masking hides: an env value
   * set by position names no variable): the live object patched with the restored operations,
   * masked, must be the masked live object patched as sent. A later `move` or `copy` of a
   * restored value to a field masking does not hide fails it too.
   */
  patchedMasksAlike(rules: MaskingRules, hint: MaskHint): boolean {
    const final = this.patched;
    if (final === undefined) return false;
    const restored = maskDocument(structuredClone(final.live), rules, hint).document;
    const sent = maskDocument(structuredClone(final.masked), rules, hint).document;
    return JSON.stringify(restored) === JSON.stringify(sent);
  }

  /**
   * A JSON Patch: each operation's value restored from what stands at its path when it runs,
   * following the operations over copies of the live object and of its masked form.
   */
  jsonPatch(operations: unknown[]): unknown[] {
    let state: Source | undefined = this.root === undefined ? undefined : { live: structuredClone(this.root.live), masked: structuredClone(this.root.masked) };
    operations.forEach((operation, index) => {
      if (!isOperation(operation)) {
        if (holdsPlaceholderMark(JSON.stringify(operation) ?? '')) this.refuse([index], 'inside-text');
        state = undefined;
        return;
      }
      const sent = structuredClone(operation);
      const segments = pointerSegments(operation.path);
      if (READING_OPERATIONS.has(operation.op)) this.readAt(index, operation, state);
      if ('value' in operation && holdsPlaceholderMark(JSON.stringify(operation.value) ?? '')) {
        this.root = state;
        this.missing = this.root === undefined ? (index === 0 ? 'no-live-object' : 'patch-does-not-apply') : 'no-live-value';
        let source: Source = NOTHING;
        if (state !== undefined && insertsIntoArray(state.live, segments, operation.op)) this.missing = 'new-element';
        else if (state !== undefined) source = { live: valueAt(state.live, segments), masked: valueAt(state.masked, segments) };
        operation.value = this.node(operation.value, [source], segments.map(segmentOf), false);
      }
      if (state !== undefined) {
        const live = applyOperation(state.live, operation);
        const masked = applyOperation(state.masked, sent);
        state = live === undefined || masked === undefined ? undefined : { live: live.document, masked: masked.document };
      }
    });
    this.patched = state;
    return operations;
  }

  /** Notes an operation reading a value that masking hides (live and masked differ there), or one whose source cannot be told. */
  private readAt(index: number, operation: PatchOperation, state: Source | undefined): void {
    const pointer = operation.op === 'test' ? operation.path : (operation.from ?? '');
    const segments = pointerSegments(pointer);
    if (state !== undefined && JSON.stringify(valueAt(state.live, segments)) === JSON.stringify(valueAt(state.masked, segments))) return;
    this.maskedReads.push({ operation: index, op: operation.op, pointer });
  }

  private refuse(path: readonly Segment[], reason: UnrestorableReason): void {
    this.unrestorable.push({ path: fieldPath(path), reason });
  }
}

function isOperation(value: unknown): value is PatchOperation & JsonObject {
  return isJsonObject(value) && typeof value['op'] === 'string' && typeof value['path'] === 'string';
}

function memberOf(source: Source, key: string): Source {
  if (!isJsonObject(source.live) || !isJsonObject(source.masked) || !Object.hasOwn(source.live, key)) return NOTHING;
  return { live: source.live[key], masked: source.masked[key] };
}

/** The live counterpart of a list element: by `name` when the element has one, else by position. */
function elementOf(source: Source, element: unknown, index: number): Source {
  const { live, masked } = source;
  if (!Array.isArray(live) || !Array.isArray(masked)) return NOTHING;
  const name = isJsonObject(element) ? element['name'] : undefined;
  const at = typeof name === 'string' ? live.findIndex((candidate) => isJsonObject(candidate) && candidate['name'] === name) : index;
  if (at < 0 || at >= live.length) return NOTHING;
  return { live: live[at], masked: masked[at] };
}

function parsedOrUndefined(text: unknown): unknown {
  if (typeof text !== 'string') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isLastAppliedPath(path: readonly Segment[]): boolean {
  return path.length === 3 && path[0] === 'metadata' && path[1] === 'annotations' && path[2] === LAST_APPLIED;
}

/** A JSON Pointer segment as a path segment: list positions as numbers. */
function segmentOf(segment: string): Segment {
  return /^(0|[1-9][0-9]*)$/.test(segment) ? Number(segment) : segment;
}

/** `data.password`, `data[tls.crt]`, `spec.containers[0].env[1].value`, `metadata.annotations[kubectl.kubernetes.io/last-applied-configuration]`. */
export function fieldPath(path: readonly Segment[]): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(segment)) text += text === '' ? segment : `.${segment}`;
    else text += `[${segment}]`;
  }
  return text === '' ? '(the whole body)' : text;
}
