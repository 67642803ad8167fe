/**
 * Masks one parsed JSON document — a response or a request body — so that no Secret value
 * (and no value a masking rule names) remains. Pure: no HTTP, no clock; the document is
 * changed in place and returned.
 *
 * Shapes handled, at any depth:
 * - an object of kind Secret: every `data` value (base64) and `stringData` value replaced by
 *   a placeholder, keys kept;
 * - lists (`SecretList`, `List` of mixed kinds, lists whose items carry no kind): items take
 *   the kind the list names (`SecretList` → `Secret`), else the request's hint;
 * - watch events (`{"type": …, "object": …}`);
 * - Tables: `rows[].object` (full objects or PartialObjectMetadata), and for Secret tables the
 *   cells: only the Name/Type/Data/Age columns the API server prints for Secrets pass, and no
 *   cell may carry one of the row's Secret values;
 * - the `kubectl.kubernetes.io/last-applied-configuration` annotation of any object: parsed,
 *   masked, re-serialised (unparseable: replaced whole — fail closed);
 * - ConfigMap `data`/`binaryData` keys and container `env` values named by masking rules;
 * - JSON Patch request bodies (an array of operations) for the hinted kind.
 *
 * Fail closed: an object at an object position (document root, list item, event object, row
 * object) whose kind is unknown, neither named nor hinted, is treated as a Secret.
 */
import { configMapKeyRule, envNameRule, type MaskingRules } from './masking-rules.ts';
import { goJson } from './go-json.ts';
import { pointerSegments } from './json-pointer.ts';
import { base64DecodedLength, isPlaceholder, maskBase64, maskText, placeholderText } from './placeholder.ts';
import { isJsonObject, type JsonObject } from '../json-object.ts';

/** What the request says about the document, for the parts that do not say it themselves. */
export interface MaskHint {
  /** Kind of the object(s) the request is about (e.g. "Secret" for `…/secrets`). */
  kind?: string;
  /** Namespace of the request, for objects that carry none (request bodies). */
  namespace?: string;
  /**
   * Column definitions of the Tables of a watch: the API server sends them with the first
   * event only; the streaming masker passes them on for the events after it.
   */
  tableColumns?: readonly unknown[];
}

export interface MaskOutcome {
  document: unknown;
  /** True when the document carries masked values (masked now or already before). */
  masked: boolean;
}

export const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * Kinds other than Secret whose objects carry a credential, with where it sits: a
 * TokenRequest answer (`kubectl create token`) holds a live ServiceAccount token in
 * `status.token`; a TokenReview holds the token under review in `spec.token` (request and
 * answer). docs/masking.md lists them, and why nothing else is here.
 */
export const CREDENTIAL_FIELDS: ReadonlyMap<string, readonly (readonly [string, string])[]> = new Map([
  ['TokenRequest', [['status', 'token']]],
  ['TokenReview', [['spec', 'token']]],
]);

/** The columns the API server prints for Secrets; any other column of a Secret table is masked. */
const SECRET_TABLE_COLUMNS = new Set(['name', 'type', 'data', 'age']);

/** A cell shorter than this is masked only when it equals a Secret value, not when it contains one. */
const MIN_CONTAINED_VALUE = 6;

/** Masks a whole document in place. */
export function maskDocument(document: unknown, rules: MaskingRules, hint: MaskHint = {}): MaskOutcome {
  const walk = new Walk(rules, hint);
  if (Array.isArray(document) && hint.kind !== undefined && document.length > 0 && document.every(isPatchOperation)) {
    for (const operation of document) walk.patchOperation(operation);
  } else {
    walk.node(document, hint.kind, hint.namespace ?? '', true);
  }
  return { document, masked: walk.masked };
}

/**
 * Masks one element of the top-level `items` or `rows` array, given the document's other
 * members (`container`, parsed without that array). Streaming masks a list this way, item
 * by item; `maskDocument` on the whole list gives the same result.
 */
export function maskElement(
  element: unknown,
  arrayKey: 'items' | 'rows',
  container: Readonly<Record<string, unknown>>,
  rules: MaskingRules,
  hint: MaskHint = {},
): MaskOutcome {
  const walk = new Walk(rules, hint);
  walk.element(element, arrayKey, container, hint.kind, hint.namespace ?? '', true);
  return { document: element, masked: walk.masked };
}

/**
 * What an element of a container's `items`/`rows` array is: a list item, a table row, or
 * just a nested value. Decides for both the whole-document and the streaming paths.
 */
export function elementRole(
  container: Readonly<Record<string, unknown>>,
  arrayKey: 'items' | 'rows',
  containerIsObject: boolean,
): 'item' | 'row' | 'nested' {
  const kind = container['kind'];
  if (arrayKey === 'items') {
    if (typeof kind === 'string') return kind.endsWith('List') ? 'item' : 'nested';
    return containerIsObject ? 'item' : 'nested';
  }
  if (kind === 'Table') return 'row';
  return kind === undefined && containerIsObject && Array.isArray(container['columnDefinitions']) ? 'row' : 'nested';
}

/** One masking pass over a document: the rules, the request's hint, and whether anything is masked. */
class Walk {
  masked = false;

  constructor(
    private readonly rules: MaskingRules,
    private readonly hint: MaskHint,
  ) {}

  /**
   * `kindHint`: the kind an object here has if it names none; `atObjectPosition`: the node
   * stands where a whole Kubernetes object stands (root, list item, event object, row object).
   */
  node(node: unknown, kindHint: string | undefined, namespace: string, atObjectPosition: boolean): void {
    if (Array.isArray(node)) {
      for (const element of node) this.node(element, undefined, namespace, false);
      return;
    }
    if (!isJsonObject(node)) return;
    if (atObjectPosition && isWatchEvent(node)) {
      this.node(node['object'], kindHint, namespace, true);
      return;
    }
    const named = node['kind'];
    const kind = typeof named === 'string' ? named : atObjectPosition ? kindHint : undefined;
    const metadata = node['metadata'];
    const ns = isJsonObject(metadata) && typeof metadata['namespace'] === 'string' ? metadata['namespace'] : namespace;
    if (isJsonObject(metadata)) this.annotations(metadata, kind);

    if (kind === 'Secret' || (kind === undefined && atObjectPosition && hasSecretFields(node))) {
      this.secretValues(node);
    } else if (kind === 'ConfigMap' && this.rules.masksConfigMaps) {
      this.configMapValues(node, ns);
    }
    const credentials = kind === undefined ? undefined : CREDENTIAL_FIELDS.get(kind);
    if (credentials !== undefined) this.credentialValues(node, credentials);

    for (const key of Object.keys(node)) {
      if (key === 'metadata' || key === 'kind') continue;
      const value = node[key];
      if (typeof value !== 'object' || value === null) continue;
      if ((key === 'data' || key === 'stringData') && kind === 'Secret') continue;
      if ((key === 'items' || key === 'rows') && Array.isArray(value)) {
        for (const element of value) this.element(element, key, node, kind === undefined ? kindHint : undefined, ns, atObjectPosition);
        continue;
      }
      if (key === 'env' && Array.isArray(value) && this.rules.masksEnv) this.envValues(value, ns);
      this.node(value, undefined, ns, false);
    }
  }

  element(
    element: unknown,
    arrayKey: 'items' | 'rows',
    container: Readonly<JsonObject>,
    containerKindHint: string | undefined,
    namespace: string,
    containerIsObject: boolean,
  ): void {
    const role = elementRole(container, arrayKey, containerIsObject);
    if (role === 'nested') {
      this.node(element, undefined, namespace, false);
      return;
    }
    if (role === 'item') {
      this.node(element, listItemKind(container['kind'], containerKindHint), namespace, true);
      return;
    }
    this.row(element, container, namespace);
  }

  private row(row: unknown, table: Readonly<JsonObject>, namespace: string): void {
    if (!isJsonObject(row)) {
      this.node(row, undefined, namespace, false);
      return;
    }
    const object = row['object'];
    const objectKind = isJsonObject(object) && typeof object['kind'] === 'string' ? object['kind'] : undefined;
    const isSecretRow = objectKind === 'Secret' || this.hint.kind === 'Secret';
    const values = isJsonObject(object) && objectKind === 'Secret' ? secretValues(object) : [];
    if (object !== undefined) this.node(object, this.hint.kind, namespace, true);
    const cells = row['cells'];
    if (Array.isArray(cells)) this.cells(cells, isSecretRow ? columnNames(table, this.hint.tableColumns) : undefined, values);
    for (const key of Object.keys(row)) {
      if (key !== 'object' && key !== 'cells') this.node(row[key], undefined, namespace, false);
    }
  }

  /** `secretColumns`: column names when the row is a Secret's (mask any other column). */
  private cells(cells: unknown[], secretColumns: (string | undefined)[] | undefined, values: readonly string[]): void {
    cells.forEach((cell, index) => {
      const column = secretColumns?.[index];
      const unexpectedColumn = secretColumns !== undefined && (column === undefined || !SECRET_TABLE_COLUMNS.has(column));
      if (unexpectedColumn || (typeof cell === 'string' && carriesValue(cell, values))) {
        cells[index] = typeof cell === 'string' ? maskText(cell) : placeholderText(JSON.stringify(cell ?? null).length);
        this.masked = true;
      }
    });
  }

  private annotations(metadata: JsonObject, kind: string | undefined): void {
    const annotations = metadata['annotations'];
    if (!isJsonObject(annotations)) return;
    const text = annotations[LAST_APPLIED];
    if (typeof text !== 'string') return;
    if (isPlaceholder(text)) {
      this.masked = true;
      return;
    }
    let applied: unknown;
    try {
      applied = JSON.parse(text);
    } catch {
      annotations[LAST_APPLIED] = maskText(text);
      this.masked = true;
      return;
    }
    const inner = new Walk(this.rules, {});
    inner.node(applied, kind, '', true);
    if (!inner.masked) return;
    // Written as kubectl writes it (Go's escaping), so an unchanged manifest compares equal.
    annotations[LAST_APPLIED] = goJson(applied) + (text.endsWith('\n') ? '\n' : '');
    this.masked = true;
  }

  private secretValues(secret: JsonObject): void {
    for (const field of ['data', 'stringData'] as const) {
      const values = secret[field];
      if (isJsonObject(values)) {
        this.replaceValues(values, () => true, field === 'data' ? maskBase64 : maskText);
      } else if (values !== undefined && values !== null) {
        // Not a map (malformed): nothing of it may pass.
        secret[field] = maskAny(values, maskText);
        this.masked = true;
      }
    }
  }

  private credentialValues(object: JsonObject, fields: readonly (readonly [string, string])[]): void {
    for (const [parent, field] of fields) {
      const holder = object[parent];
      if (!isJsonObject(holder) || holder[field] === undefined || holder[field] === null) continue;
      holder[field] = maskAny(holder[field], maskText);
      this.masked = true;
    }
  }

  private configMapValues(configMap: JsonObject, namespace: string): void {
    const masks = (key: string): boolean => configMapKeyRule(this.rules, namespace, key) !== undefined;
    this.replaceValues(configMap['data'], masks, maskText);
    this.replaceValues(configMap['binaryData'], masks, maskBase64);
  }

  private envValues(env: unknown[], namespace: string): void {
    if (maskEnvEntries(env, this.rules, namespace)) this.masked = true;
  }

  /** Replaces the values of map `values` whose key `selects`; non-string values are masked as their JSON text. */
  private replaceValues(values: unknown, selects: (key: string) => boolean, mask: (value: string) => string): void {
    if (!isJsonObject(values)) return;
    for (const key of Object.keys(values)) {
      if (values[key] === null || !selects(key)) continue;
      values[key] = maskAny(values[key], mask);
      this.masked = true;
    }
  }

  /** A JSON Patch operation on an object of the hinted kind: its value masked as if at its path. */
  patchOperation(operation: JsonObject): void {
    if (!('value' in operation)) return;
    const segments = pointerSegments(operation['path'] as string);
    const namespace = this.hint.namespace ?? '';
    if (segments.length === 0) {
      this.node(operation['value'], this.hint.kind, namespace, true);
      return;
    }
    // Rebuild the object around the value, mask that object, take the value back out.
    const root: JsonObject = {};
    let parent: JsonObject | unknown[] = root;
    segments.forEach((segment, index) => {
      const last = index === segments.length - 1;
      const next = segments[index + 1];
      const child: JsonObject | unknown[] | unknown = last
        ? operation['value']
        : next !== undefined && /^(\d+|-)$/.test(next)
          ? []
          : {};
      setChild(parent, segment, child);
      if (!last) parent = child as JsonObject | unknown[];
    });
    if (segments[0] !== 'kind' && this.hint.kind !== undefined) root['kind'] = this.hint.kind;
    this.node(root, this.hint.kind, namespace, true);
    operation['value'] = getChild(parent, segments[segments.length - 1] as string);
  }
}

/** Masks, in place, the values of the entries of a container's `env` array whose names a rule names; true when one was. */
export function maskEnvEntries(env: readonly unknown[], rules: MaskingRules, namespace: string): boolean {
  let masked = false;
  for (const entry of env) {
    if (!isJsonObject(entry) || typeof entry['name'] !== 'string' || entry['value'] === undefined || entry['value'] === null) continue;
    if (envNameRule(rules, namespace, entry['name']) === undefined) continue;
    entry['value'] = maskAny(entry['value'], maskText);
    masked = true;
  }
  return masked;
}

function maskAny(value: unknown, mask: (value: string) => string): string {
  if (typeof value === 'string') return mask(value);
  return placeholderText(JSON.stringify(value ?? null).length);
}

/** The kind of a list's items: `SecretList` → `Secret`; a `List` mixes kinds (undefined); otherwise `fallback`. */
export function listItemKind(listKind: unknown, fallback: string | undefined): string | undefined {
  if (typeof listKind !== 'string') return fallback;
  if (listKind === 'List') return undefined;
  return listKind.endsWith('List') ? listKind.slice(0, -'List'.length) : fallback;
}

/** The column definitions a watch event's Table carries, if any (the first event of a Table watch). */
export function watchTableColumns(document: unknown): unknown[] | undefined {
  if (!isJsonObject(document) || !isWatchEvent(document)) return undefined;
  const object = document['object'] as JsonObject;
  const columns = object['columnDefinitions'];
  return object['kind'] === 'Table' && Array.isArray(columns) && columns.length > 0 ? columns : undefined;
}

function isWatchEvent(node: JsonObject): boolean {
  return !('kind' in node) && !('metadata' in node) && typeof node['type'] === 'string' && isJsonObject(node['object']);
}

function hasSecretFields(node: JsonObject): boolean {
  return isJsonObject(node['data']) || isJsonObject(node['stringData']);
}

/** The Secret's values as they could appear in a cell: base64 as sent, and decoded. */
function secretValues(secret: JsonObject): string[] {
  const values: string[] = [];
  const data = secret['data'];
  if (isJsonObject(data)) {
    for (const value of Object.values(data)) {
      if (typeof value !== 'string' || value === '' || isPlaceholder(value)) continue;
      values.push(value);
      if (base64DecodedLength(value) > 0) values.push(Buffer.from(value, 'base64').toString('utf8'));
    }
  }
  const stringData = secret['stringData'];
  if (isJsonObject(stringData)) {
    for (const value of Object.values(stringData)) if (typeof value === 'string' && value !== '') values.push(value);
  }
  return values;
}

function carriesValue(cell: string, values: readonly string[]): boolean {
  return values.some((value) => cell === value || (value.length >= MIN_CONTAINED_VALUE && cell.includes(value)));
}

function columnNames(table: Readonly<JsonObject>, earlier: readonly unknown[] | undefined): (string | undefined)[] {
  const own = table['columnDefinitions'];
  const definitions = Array.isArray(own) && own.length > 0 ? own : earlier;
  if (definitions === undefined) return [];
  return definitions.map((definition) =>
    isJsonObject(definition) && typeof definition['name'] === 'string' ? definition['name'].toLowerCase() : undefined,
  );
}

function isPatchOperation(value: unknown): value is JsonObject {
  return isJsonObject(value) && typeof value['op'] === 'string' && typeof value['path'] === 'string';
}

function setChild(parent: JsonObject | unknown[], segment: string, child: unknown): void {
  if (Array.isArray(parent)) {
    if (segment === '-') parent.push(child);
    else parent[Number(segment)] = child;
  } else {
    parent[segment] = child;
  }
}

function getChild(parent: JsonObject | unknown[], segment: string): unknown {
  if (Array.isArray(parent)) return segment === '-' ? parent[parent.length - 1] : parent[Number(segment)];
  return parent[segment];
}
