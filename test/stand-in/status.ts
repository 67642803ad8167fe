/**
 * Kubernetes `Status` failures exactly as kube-apiserver words them
 * (k8s.io/apimachinery/pkg/api/errors), so kubectl prints them as it prints a real cluster's.
 */
import type { ResourceType } from './catalogue.ts';

export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  details?: { name?: string; group?: string; kind?: string; causes?: { reason: string; message: string; field: string }[] };
  code: number;
}

/** A failure the stand-in answers with; thrown anywhere in request handling. */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: StatusBody['details'];

  constructor(code: number, reason: string, message: string, details?: StatusBody['details']) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }

  toStatus(): StatusBody {
    const status: StatusBody = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    if (this.details !== undefined) status.details = this.details;
    return status;
  }
}

/** `pods` or `deployments.apps`: how the API server names a resource in messages. */
export function qualifiedResource(type: Pick<ResourceType, 'group' | 'resource'>): string {
  return type.group === '' ? type.resource : `${type.resource}.${type.group}`;
}

function details(type: Pick<ResourceType, 'group' | 'resource'>, name: string): NonNullable<StatusBody['details']> {
  const d: NonNullable<StatusBody['details']> = { name };
  if (type.group !== '') d.group = type.group;
  d.kind = type.resource;
  return d;
}

export function notFound(type: Pick<ResourceType, 'group' | 'resource'>, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${qualifiedResource(type)} "${name}" not found`, details(type, name));
}

export function alreadyExists(type: Pick<ResourceType, 'group' | 'resource'>, name: string): ApiError {
  return new ApiError(409, 'AlreadyExists', `${qualifiedResource(type)} "${name}" already exists`, details(type, name));
}

export function conflict(type: Pick<ResourceType, 'group' | 'resource'>, name: string): ApiError {
  return new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualifiedResource(type)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    details(type, name),
  );
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message);
}

export function invalid(kind: string, group: string, name: string, causes: { field: string; message: string }[]): ApiError {
  const text = causes.map((c) => `${c.field}: ${c.message}`).join(', ');
  const d: NonNullable<StatusBody['details']> = { name };
  if (group !== '') d.group = group;
  d.kind = kind;
  d.causes = causes.map((c) => ({ reason: 'FieldValueInvalid', message: c.message, field: c.field }));
  return new ApiError(422, 'Invalid', `${kind} "${name}" is invalid: ${causes.length === 1 ? text : `[${text}]`}`, d);
}

export function methodNotAllowed(): ApiError {
  return new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {});
}

export function resourceNotFound(): ApiError {
  return new ApiError(404, 'NotFound', 'the server could not find the requested resource');
}

export function unauthorized(): ApiError {
  return new ApiError(401, 'Unauthorized', 'Unauthorized');
}

/** The RBAC authorizer's refusal, e.g. `pods "x" is forbidden: User "bob" cannot delete resource "pods" in API group "" in the namespace "default"`. */
export function forbidden(
  user: string,
  attrs: { verb: string; group: string; resource: string; subresource: string; namespace: string; name: string; path: string },
  reason = '',
): ApiError {
  const suffix = reason === '' ? '' : `: ${reason}`;
  if (attrs.resource === '') {
    return new ApiError(403, 'Forbidden', `forbidden: User "${user}" cannot ${attrs.verb} path "${attrs.path}"${suffix}`);
  }
  const qualified = qualifiedResource(attrs);
  const subject = attrs.name === '' ? qualified : `${qualified} "${attrs.name}"`;
  const full = attrs.subresource === '' ? attrs.resource : `${attrs.resource}/${attrs.subresource}`;
  const scope = attrs.namespace === '' ? 'at the cluster scope' : `in the namespace "${attrs.namespace}"`;
  const d: NonNullable<StatusBody['details']> = {};
  if (attrs.name !== '') d.name = attrs.name;
  if (attrs.group !== '') d.group = attrs.group;
  d.kind = attrs.resource;
  return new ApiError(
    403,
    'Forbidden',
    `${subject} is forbidden: User "${user}" cannot ${attrs.verb} resource "${full}" in API group "${attrs.group}" ${scope}${suffix}`,
    d,
  );
}
