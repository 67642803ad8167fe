/**
 * Kubernetes protobuf request bodies (kubectl ≥ 1.33 creates ConfigMaps and Secrets this
 * way) decoded into the JSON object the API server will decode them to, for the kinds whose
 * schema Gatehouse carries. Pure.
 *
 * Wire format: "k8s\0" + runtime.Unknown { 1: TypeMeta { 1: apiVersion, 2: kind }, 2: raw
 * object, 3: contentEncoding, 4: contentType }.
 *
 * Field names are not on the wire, so a kind is shown only with its schema (KINDS below:
 * the kinds whose every field is text or a flag an approver can read). Decoding is strict where
 * the API server's generated decoder is lenient: a single-valued field that appears twice
 * (the decoder keeps the last copy, or merges two messages) is refused, and so is a field the
 * schema does not know or a wire type it does not expect. Anything refused, and every other
 * kind, cannot be shown: it answers why, never a guess.
 */

const MAGIC = [0x6b, 0x38, 0x73, 0x00];

/** `time`: a metav1.Time message { 1: seconds, 2: nanos }, shown as the RFC 3339 text JSON carries (zero: null). */
type Scalar = 'string' | 'bytes' | 'bool' | 'int' | 'time';
interface FieldSpec {
  name: string;
  type: Scalar | Schema;
  /** repeated: a list; map: entries { 1: key, 2: value } with scalar values. */
  shape?: 'repeated' | 'map';
}
interface Schema {
  readonly [number: number]: FieldSpec;
}

const str = (name: string): FieldSpec => ({ name, type: 'string' });
const strs = (name: string): FieldSpec => ({ name, type: 'string', shape: 'repeated' });
const bool = (name: string): FieldSpec => ({ name, type: 'bool' });
const message = (name: string, type: Schema, shape?: 'repeated'): FieldSpec => (shape === undefined ? { name, type } : { name, type, shape });
const map = (name: string, type: 'string' | 'bytes'): FieldSpec => ({ name, type, shape: 'map' });

const OWNER_REFERENCE: Schema = { 1: str('apiVersion'), 2: str('kind'), 3: str('name'), 4: str('uid'), 6: bool('controller'), 7: bool('blockOwnerDeletion') };
const MANAGED_FIELDS: Schema = {
  1: str('manager'),
  2: str('operation'),
  3: str('apiVersion'),
  4: { name: 'time', type: 'time' },
  6: str('fieldsType'),
  7: message('fieldsV1', { 1: { name: 'Raw', type: 'bytes' } }),
  8: str('subresource'),
};
const OBJECT_META: Schema = {
  1: str('name'),
  2: str('generateName'),
  3: str('namespace'),
  4: str('selfLink'),
  5: str('uid'),
  6: str('resourceVersion'),
  7: { name: 'generation', type: 'int' },
  8: { name: 'creationTimestamp', type: 'time' },
  9: { name: 'deletionTimestamp', type: 'time' },
  10: { name: 'deletionGracePeriodSeconds', type: 'int' },
  11: map('labels', 'string'),
  12: map('annotations', 'string'),
  13: message('ownerReferences', OWNER_REFERENCE, 'repeated'),
  14: strs('finalizers'),
  17: message('managedFields', MANAGED_FIELDS, 'repeated'),
};
const OBJECT_REFERENCE: Schema = { 1: str('kind'), 2: str('namespace'), 3: str('name'), 4: str('uid'), 5: str('apiVersion'), 6: str('resourceVersion'), 7: str('fieldPath') };
const SUBJECT: Schema = { 1: str('kind'), 2: str('apiGroup'), 3: str('name'), 4: str('namespace') };
const ROLE_REF: Schema = { 1: str('apiGroup'), 2: str('kind'), 3: str('name') };
const POLICY_RULE: Schema = { 1: strs('verbs'), 2: strs('apiGroups'), 3: strs('resources'), 4: strs('resourceNames'), 5: strs('nonResourceURLs') };
const LABEL_SELECTOR: Schema = {
  1: map('matchLabels', 'string'),
  2: message('matchExpressions', { 1: str('key'), 2: str('operator'), 3: strs('values') }, 'repeated'),
};
const BINDING: Schema = { 1: message('metadata', OBJECT_META), 2: message('subjects', SUBJECT, 'repeated'), 3: message('roleRef', ROLE_REF) };

/** The kinds Gatehouse can show from protobuf, by "apiVersion/kind". */
const KINDS: Readonly<Record<string, Schema>> = {
  'v1/ConfigMap': { 1: message('metadata', OBJECT_META), 2: map('data', 'string'), 3: map('binaryData', 'bytes'), 4: bool('immutable') },
  'v1/Secret': { 1: message('metadata', OBJECT_META), 2: map('data', 'bytes'), 3: str('type'), 4: map('stringData', 'string'), 5: bool('immutable') },
  'v1/Namespace': { 1: message('metadata', OBJECT_META), 2: message('spec', { 1: strs('finalizers') }) },
  'v1/ServiceAccount': {
    1: message('metadata', OBJECT_META),
    2: message('secrets', OBJECT_REFERENCE, 'repeated'),
    3: message('imagePullSecrets', { 1: str('name') }, 'repeated'),
    4: bool('automountServiceAccountToken'),
  },
  'rbac.authorization.k8s.io/v1/RoleBinding': BINDING,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': BINDING,
  'rbac.authorization.k8s.io/v1/Role': { 1: message('metadata', OBJECT_META), 2: message('rules', POLICY_RULE, 'repeated') },
  'rbac.authorization.k8s.io/v1/ClusterRole': {
    1: message('metadata', OBJECT_META),
    2: message('rules', POLICY_RULE, 'repeated'),
    3: message('aggregationRule', { 1: message('clusterRoleSelectors', LABEL_SELECTOR, 'repeated') }),
  },
};

const UNKNOWN: Schema = { 1: message('typeMeta', { 1: str('apiVersion'), 2: str('kind') }), 2: { name: 'raw', type: 'bytes' }, 3: str('contentEncoding'), 4: str('contentType') };

export type ProtobufDecoding = { ok: true; object: Record<string, unknown> } | { ok: false; reason: string };

class Refusal extends Error {}

interface WireField {
  number: number;
  wire: number;
  varint?: bigint;
  bytes?: Uint8Array;
}

/** One message level, every field in wire order; throws Refusal when the bytes are not a well-formed message. */
function wireFields(bytes: Uint8Array, where: string): WireField[] {
  const fields: WireField[] = [];
  let at = 0;
  const varint = (): bigint => {
    let value = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      const byte = bytes[at++];
      if (byte === undefined) throw new Refusal(`${where} ends inside a number`);
      value |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return value;
    }
    throw new Refusal(`${where} holds a malformed number`);
  };
  while (at < bytes.length) {
    const key = varint();
    const number = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (number === 0) throw new Refusal(`${where} holds field number 0`);
    if (wire === 0) fields.push({ number, wire, varint: varint() });
    else if (wire === 2) {
      const length = Number(varint());
      if (at + length > bytes.length) throw new Refusal(`${where} ends inside field ${number}`);
      fields.push({ number, wire, bytes: bytes.subarray(at, at + length) });
      at += length;
    } else if (wire === 1 || wire === 5) {
      at += wire === 1 ? 8 : 4;
      if (at > bytes.length) throw new Refusal(`${where} ends inside field ${number}`);
      fields.push({ number, wire });
    } else {
      throw new Refusal(`${where} uses wire type ${wire}, which Kubernetes objects never use`);
    }
  }
  return fields;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

function scalar(field: WireField, type: Scalar, where: string): unknown {
  const expected = type === 'bool' || type === 'int' ? 0 : 2;
  if (field.wire !== expected) throw new Refusal(`${where} has wire type ${field.wire} where the schema expects ${expected}`);
  if (type === 'bool') return field.varint !== 0n;
  if (type === 'int') return Number(BigInt.asIntN(64, field.varint ?? 0n));
  if (type === 'time') {
    const time = decode(field.bytes ?? new Uint8Array(0), { 1: { name: 'seconds', type: 'int' }, 2: { name: 'nanos', type: 'int' } }, where);
    const seconds = Number(time['seconds'] ?? 0);
    return seconds === 0 && Number(time['nanos'] ?? 0) === 0 ? null : new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
  }
  const bytes = field.bytes ?? new Uint8Array(0);
  if (type === 'bytes') return Buffer.from(bytes).toString('base64');
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new Refusal(`${where} is not valid UTF-8 text`);
  }
}

/** Decodes one message by its schema into a JSON object (a plain object; `__proto__` stays an own key). */
function decode(bytes: Uint8Array, schema: Schema, where: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const set = (target: Record<string, unknown>, key: string, value: unknown): void => {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  };
  const seen = new Set<number>();
  for (const field of wireFields(bytes, where)) {
    const spec = schema[field.number];
    if (spec === undefined) throw new Refusal(`${where} holds field ${field.number}, which Gatehouse's schema of it does not know`);
    const at = `${where}.${spec.name}`;
    if (spec.shape === undefined) {
      if (seen.has(field.number)) {
        throw new Refusal(`${at} appears more than once; the API server would keep the last copy, so Gatehouse refuses to show either`);
      }
      seen.add(field.number);
    }
    if (spec.shape === 'map') {
      if (field.wire !== 2) throw new Refusal(`${at} has wire type ${field.wire} where a map entry is expected`);
      const entry = decode(field.bytes ?? new Uint8Array(0), { 1: str('key'), 2: { name: 'value', type: spec.type } }, `${at}[]`);
      const existing = out[spec.name];
      const entries = (existing as Record<string, unknown> | undefined) ?? {};
      if (existing === undefined) set(out, spec.name, entries);
      // A repeated map key keeps the last value, as Go's decoder does.
      set(entries, String(entry['key'] ?? ''), entry['value'] ?? '');
      continue;
    }
    let value: unknown;
    if (typeof spec.type === 'object') {
      if (field.wire !== 2) throw new Refusal(`${at} has wire type ${field.wire} where a message is expected`);
      value = decode(field.bytes ?? new Uint8Array(0), spec.type, at);
    } else {
      value = scalar(field, spec.type, at);
    }
    if (spec.shape === 'repeated') {
      const list = (out[spec.name] as unknown[] | undefined) ?? [];
      if (out[spec.name] === undefined) set(out, spec.name, list);
      list.push(value);
    } else {
      set(out, spec.name, value);
    }
  }
  return out;
}

/** The object a Kubernetes protobuf body decodes to, or why Gatehouse cannot show it. */
export function decodeKubernetesProtobuf(body: Uint8Array): ProtobufDecoding {
  if (body.length < MAGIC.length || MAGIC.some((b, i) => body[i] !== b)) {
    return { ok: false, reason: 'the body is declared as Kubernetes protobuf but does not start with its "k8s\\0" prefix' };
  }
  try {
    const envelope = decode(body.subarray(MAGIC.length), UNKNOWN, 'the protobuf envelope');
    const typeMeta = (envelope['typeMeta'] as Record<string, unknown> | undefined) ?? {};
    const apiVersion = String(typeMeta['apiVersion'] ?? '');
    const kind = String(typeMeta['kind'] ?? '');
    if ((envelope['contentEncoding'] ?? '') !== '') throw new Refusal(`the protobuf envelope declares content encoding "${String(envelope['contentEncoding'])}"`);
    const schema = KINDS[`${apiVersion}/${kind}`];
    if (schema === undefined) {
      throw new Refusal(
        `Gatehouse cannot show a ${kind || 'kind-less object'} (${apiVersion || 'no apiVersion'}) sent as protobuf field by field; send it as JSON ` +
          `(it shows protobuf for ${Object.keys(KINDS).map((k) => k.split('/').at(-1)).join(', ')})`,
      );
    }
    const raw = Buffer.from(String(envelope['raw'] ?? ''), 'base64');
    const object = decode(new Uint8Array(raw), schema, kind);
    return { ok: true, object: { apiVersion, kind, ...object } };
  } catch (error) {
    if (error instanceof Refusal) return { ok: false, reason: error.message };
    throw error;
  }
}
