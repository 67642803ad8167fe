/**
 * The argument fields MCP tools share, as zod schemas with messages that say what to send
 * instead, and the one function that turns them into an API path. Every part of a path is
 * checked here against the API server's own name rules before it is placed, so no argument
 * can add a segment, climb out of a namespace (`..`, `/`, `%2F`) or reach another resource:
 * a tool reaches exactly the object its arguments name, and the pipeline then decides it.
 */
import * as z from 'zod';

const NAME_HINT = 'letters, digits, "-", ".", "_" or ":", starting and ending with a letter or digit (as the API server names objects)';

/** An object name: DNS subdomain style, plus ":" and "_" some resources use (RBAC `system:…`). Never `.`/`..`, never `/`. */
export const objectName = z
  .string()
  .max(253, 'object names are at most 253 characters')
  .regex(/^[A-Za-z0-9](?:[A-Za-z0-9._:-]*[A-Za-z0-9])?$/, `must be an object name: ${NAME_HINT}`)
  .describe('Object name (metadata.name).');

/** A namespace: a DNS label (the API server's rule). */
export const namespaceName = z
  .string()
  .regex(/^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a namespace name: up to 63 lower-case letters, digits or "-", starting and ending with a letter or digit')
  .describe('Namespace. Leave out for cluster-scoped resources.');

/** A resource, as the API server names it in paths: plural and lower-case (`deployments`, `pods`). */
export const resourceName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be a resource as it appears in API paths: plural, lower-case, e.g. "pods", "deployments" (call api_resources to find it)')
  .describe('Resource, plural and lower-case as in API paths: "pods", "deployments", "configmaps". api_resources lists them.');

/** `v1` for the core group, `group/version` otherwise. */
export const apiVersion = z
  .string()
  .regex(/^(?:[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?\/)?v[0-9]+(?:(?:alpha|beta)[0-9]+)?$/, 'must be an API version: "v1" for the core group, or "group/version" such as "apps/v1"')
  .describe('API version: "v1" for core resources (pods, services, configmaps, secrets, events), "apps/v1" for deployments, statefulsets, daemonsets.');

/** A container of a pod (DNS label). */
export const containerName = z
  .string()
  .regex(/^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a container name: up to 63 lower-case letters, digits or "-"')
  .describe('Container name; leave out for a pod with one container.');

/** A label or field selector: printable text, sent as one query parameter (it can narrow a request, never widen it). */
export const selector = z
  .string()
  .max(1024, 'selectors are at most 1024 characters')
  .regex(/^[\x20-\x7e]*$/, 'must be printable ASCII, e.g. "app=web,tier!=cache"');

/** The arguments that name one object. */
export const objectTarget = {
  apiVersion: apiVersion.default('v1'),
  resource: resourceName,
  namespace: namespaceName.optional(),
  name: objectName,
};

export const dryRun = z.boolean().default(false).describe('true: the API server checks and answers as if it did it, but changes nothing.');

export interface ResourceTarget {
  apiVersion: string;
  resource: string;
  namespace?: string | undefined;
  name?: string | undefined;
  subresource?: string | undefined;
}

/** `/api/v1/namespaces/ns/pods/web/log` from validated parts (checked again here: this is the only place paths are made). */
export function resourcePath(target: ResourceTarget): string {
  const version = apiVersion.parse(target.apiVersion);
  const parts = [version.includes('/') ? `/apis/${version}` : `/api/${version}`];
  if (target.namespace !== undefined) parts.push('namespaces', namespaceName.parse(target.namespace));
  parts.push(resourceName.parse(target.resource));
  if (target.name !== undefined) parts.push(objectName.parse(target.name));
  if (target.subresource !== undefined) parts.push(resourceName.parse(target.subresource));
  return parts.join('/');
}

/** The discovery path of an API version (`/api/v1`, `/apis/apps/v1`). */
export function versionPath(version: string): string {
  const checked = apiVersion.parse(version);
  return checked.includes('/') ? `/apis/${checked}` : `/api/${checked}`;
}
