/**
 * OpenAPI, as far as kubectl needs it: for every type a PATCH operation tagged with
 * `x-kubernetes-group-version-kind` that lists the `fieldValidation` query parameter, which
 * is how kubectl ≥1.27 decides to leave validation to the server (`?fieldValidation=Strict`)
 * instead of failing with "failed to download openapi". kubectl 1.27 reads `/openapi/v2`
 * only as protobuf (gnostic `openapi.v2.Document`), newer ones read `/openapi/v3` JSON
 * first. No schemas are served, so `kubectl explain` and OpenAPI-driven patch computation
 * are not available (kubectl falls back to its compiled-in types for strategic merge).
 */
import { createHash } from 'node:crypto';
import { RESOURCE_TYPES, type ResourceType } from './catalogue.ts';

/** kube-openapi answers the `…v2@v1.0+protobuf` Accept with this (Go's mime parser rejects the "@"). */
export const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';

const PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'];
const PATCH_QUERY_PARAMETERS = ['dryRun', 'fieldManager', 'fieldValidation', 'force', 'pretty'];

function itemPath(t: ResourceType): string {
  const prefix = t.group === '' ? `/api/${t.version}` : `/apis/${t.group}/${t.version}`;
  return t.namespaced ? `${prefix}/namespaces/{namespace}/${t.resource}/{name}` : `${prefix}/${t.resource}/{name}`;
}

function operationId(t: ResourceType): string {
  const group = t.group === '' ? 'Core' : t.group[0]?.toUpperCase() + t.group.slice(1);
  return `patch${group}${t.version[0]?.toUpperCase()}${t.version.slice(1)}${t.namespaced ? 'Namespaced' : ''}${t.kind}`;
}

// ---- v3 (JSON) ----

function groupVersionKey(t: Pick<ResourceType, 'group' | 'version'>): string {
  return t.group === '' ? `api/${t.version}` : `apis/${t.group}/${t.version}`;
}

function v3Document(key: string): Record<string, unknown> | undefined {
  const types = RESOURCE_TYPES.filter((t) => groupVersionKey(t) === key);
  if (types.length === 0) return undefined;
  const paths: Record<string, unknown> = {};
  for (const t of types) {
    paths[itemPath(t)] = {
      patch: {
        description: `partially update the specified ${t.kind}`,
        operationId: operationId(t),
        parameters: PATCH_QUERY_PARAMETERS.map((name) => ({ name, in: 'query', schema: { type: name === 'force' ? 'boolean' : 'string', uniqueItems: true } })),
        responses: { '200': { description: 'OK' }, '201': { description: 'Created' }, '401': { description: 'Unauthorized' } },
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': { group: t.group, version: t.version, kind: t.kind },
      },
    };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'unversioned' }, paths, components: { schemas: {} } };
}

function hashOf(value: unknown): string {
  return createHash('sha512').update(JSON.stringify(value)).digest('hex').toUpperCase().slice(0, 128);
}

export function openApiV3Index(): unknown {
  const keys = [...new Set(RESOURCE_TYPES.map(groupVersionKey))];
  return { paths: Object.fromEntries(keys.map((k) => [k, { serverRelativeURL: `/openapi/v3/${k}?hash=${hashOf(v3Document(k))}` }])) };
}

/** `/openapi/v3/{api/v1|apis/g/v}`; undefined when not served. */
export function openApiV3Document(key: string): unknown {
  return v3Document(key);
}

// ---- v2 (protobuf, gnostic openapi.v2.Document field numbers) ----

function varint(n: number): number[] {
  const bytes: number[] = [];
  let v = n;
  while (v > 0x7f) {
    bytes.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  bytes.push(v);
  return bytes;
}

function bytesField(fieldNumber: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([...varint((fieldNumber << 3) | 2), ...varint(payload.length)]), payload]);
}

const str = (n: number, s: string): Buffer => bytesField(n, Buffer.from(s, 'utf8'));
const msg = (n: number, ...parts: Buffer[]): Buffer => bytesField(n, Buffer.concat(parts));

/** NamedAny { name = 1; Any value = 2 { yaml = 2 } }. */
function namedAny(n: number, name: string, yaml: string): Buffer {
  return msg(n, str(1, name), msg(2, str(2, yaml)));
}

function v2Operation(t: ResourceType): Buffer {
  // Operation: operation_id=5, consumes=7, parameters=8, responses=9, vendor_extension=13.
  const parameters = PATCH_QUERY_PARAMETERS.map((name) =>
    // ParametersItem.parameter=1 → Parameter.non_body_parameter=2 → NonBodyParameter.query_parameter_sub_schema=3
    // → QueryParameterSubSchema { in=2, name=4, type=6 }.
    msg(8, msg(1, msg(2, msg(3, str(2, 'query'), str(4, name), str(6, name === 'force' ? 'boolean' : 'string'))))),
  );
  const gvk = `group: "${t.group}"\nkind: ${t.kind}\nversion: ${t.version}\n`;
  return Buffer.concat([
    str(3, `partially update the specified ${t.kind}`),
    str(5, operationId(t)),
    ...PATCH_TYPES.map((p) => str(7, p)),
    ...parameters,
    // Responses.response_code=1 → NamedResponseValue { name=1, value=2 → ResponseValue.response=1 → Response.description=1 }.
    msg(9, msg(1, str(1, '200'), msg(2, msg(1, str(1, 'OK'))))),
    namedAny(13, 'x-kubernetes-action', 'patch\n'),
    namedAny(13, 'x-kubernetes-group-version-kind', gvk),
  ]);
}

export function openApiV2Protobuf(version: string): Buffer {
  const paths = RESOURCE_TYPES.map((t) => msg(2, str(1, itemPath(t)), msg(2, msg(8, v2Operation(t)))));
  return Buffer.concat([
    str(1, '2.0'),
    msg(2, str(1, 'Kubernetes'), str(2, version)),
    ...['https'].map((s) => str(5, s)),
    msg(8, ...paths),
  ]);
}

/** The same document as JSON, for clients that ask `/openapi/v2` for application/json. */
export function openApiV2Json(version: string): unknown {
  const paths: Record<string, unknown> = {};
  for (const t of RESOURCE_TYPES) {
    paths[itemPath(t)] = {
      patch: {
        description: `partially update the specified ${t.kind}`,
        operationId: operationId(t),
        consumes: PATCH_TYPES,
        parameters: PATCH_QUERY_PARAMETERS.map((name) => ({ name, in: 'query', type: name === 'force' ? 'boolean' : 'string', uniqueItems: true })),
        responses: { '200': { description: 'OK' } },
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': { group: t.group, version: t.version, kind: t.kind },
      },
    };
  }
  return { swagger: '2.0', info: { title: 'Kubernetes', version }, schemes: ['https'], paths, definitions: {} };
}
