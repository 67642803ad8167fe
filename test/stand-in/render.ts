/**
 * What get/list/watch share: the selector filter of a request, and an object or list
 * rendered as the client negotiated (object JSON, Table, PartialObjectMetadata).
 */
import { apiVersionOf } from './catalogue.ts';
import { encodeBody } from './encode.ts';
import { sendEncoded, type Exchange } from './exchange.ts';
import { negotiateObject, NOT_ACCEPTABLE_MESSAGE, type ObjectRepresentation } from './negotiate.ts';
import { matchesFields, parseFieldSelector, parseLabelSelector } from './selectors.ts';
import { ApiError } from './status.ts';
import type { KubeObject } from './store.ts';
import { toTable, type IncludeObject } from './table.ts';

/** The namespace, labelSelector and fieldSelector of a list or watch, as one predicate. */
export function objectFilter(x: Exchange): (object: KubeObject) => boolean {
  const labels = parseLabelSelector(x.query.get('labelSelector') ?? '');
  const fields = parseFieldSelector(x.query.get('fieldSelector') ?? '', [
    'metadata.name',
    ...(x.type.namespaced ? ['metadata.namespace'] : []),
    ...x.type.fieldLabels,
  ]);
  const namespace = x.type.namespaced ? x.attrs.namespace : '';
  return (object) =>
    (namespace === '' || object.metadata.namespace === namespace) && labels(object.metadata.labels ?? {}) && matchesFields(object, fields);
}

export function representation(x: Exchange, watch = false): ObjectRepresentation {
  const chosen = negotiateObject(x.req.headers.accept, { kind: x.type.kind, watch });
  if (chosen === undefined) throw new ApiError(406, 'NotAcceptable', NOT_ACCEPTABLE_MESSAGE);
  return chosen;
}

function includeObject(x: Exchange): IncludeObject {
  const value = x.query.get('includeObject');
  return value === 'None' || value === 'Object' ? value : 'Metadata';
}

/** Lists carry their items without apiVersion/kind, as typed lists do on the wire. */
function listItem(object: KubeObject): Record<string, unknown> {
  const { apiVersion: _apiVersion, kind: _kind, ...rest } = object;
  return rest;
}

export interface Rendered {
  body: unknown;
  contentType: string;
}

/** Sends a rendered get/list answer in the negotiated encoding. */
export function sendRendered(x: Exchange, rep: ObjectRepresentation, rendered: Rendered): void {
  sendEncoded(x.res, 200, encodeBody(rendered.body, rep.encoding), rendered.contentType);
}

export function renderObjects(
  x: Exchange,
  rep: ObjectRepresentation,
  objects: KubeObject[],
  listMeta: Record<string, unknown> | undefined,
): Rendered {
  const single = listMeta === undefined;
  if (rep.as === 'Table') {
    const table = toTable(x.type, objects, {
      now: x.store.clock.now(),
      include: includeObject(x),
      listMeta: listMeta ?? { resourceVersion: objects[0]?.metadata.resourceVersion ?? x.store.resourceVersion() },
    }) as Record<string, unknown>;
    return { body: { ...table, apiVersion: `meta.k8s.io/${rep.version}` }, contentType: rep.contentType };
  }
  if (rep.as === 'PartialObjectMetadata') {
    const partial = (o: KubeObject): Record<string, unknown> => ({ kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${rep.version}`, metadata: o.metadata });
    const [first] = objects;
    if (single && first !== undefined) return { body: partial(first), contentType: rep.contentType };
    return {
      body: { kind: 'PartialObjectMetadataList', apiVersion: `meta.k8s.io/${rep.version}`, metadata: listMeta ?? {}, items: objects.map(partial) },
      contentType: rep.contentType.replace('as=PartialObjectMetadata;', 'as=PartialObjectMetadataList;'),
    };
  }
  const [first] = objects;
  if (single && first !== undefined) return { body: first, contentType: rep.contentType };
  return {
    body: { kind: x.type.listKind, apiVersion: apiVersionOf(x.type), metadata: listMeta ?? {}, items: objects.map(listItem) },
    contentType: rep.contentType,
  };
}
