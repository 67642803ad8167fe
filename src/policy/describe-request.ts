/**
 * Human wording of who asks for what, in the API server's style, for refusals and
 * `gatehouse policy check`: `user "alice" (groups: dev, oncall)` and
 * `delete deployments.apps "web" in namespace "prod"`.
 */
import type { Identity, KubeRequest } from '../types.ts';

export function describeCaller(identity: Pick<Identity, 'user' | 'groups'>): string {
  const groups = identity.groups.length === 0 ? 'no groups' : `groups: ${identity.groups.join(', ')}`;
  return `user ${JSON.stringify(identity.user)} (${groups})`;
}

/** The verb and its object: `create pods/exec "web-1" in namespace "prod"`, `get path "/version"`. */
export function describeAction(request: Pick<KubeRequest, 'isResourceRequest' | 'path' | 'verb' | 'apiGroup' | 'resource' | 'subresource' | 'name' | 'namespace'>): string {
  if (!request.isResourceRequest) return `${request.verb || 'use'} path ${JSON.stringify(request.path)}`;
  const group = request.apiGroup === '' ? '' : `.${request.apiGroup}`;
  const subresource = request.subresource === '' ? '' : `/${request.subresource}`;
  let text = `${request.verb || 'use'} ${request.resource}${group}${subresource}`;
  if (request.name !== '') text += ` ${JSON.stringify(request.name)}`;
  // A namespace's own namespace is itself; saying so again adds nothing.
  const isNamespaceItself = request.resource === 'namespaces' && request.apiGroup === '' && request.name === request.namespace;
  if (request.namespace !== '' && !isNamespaceItself) text += ` in namespace ${JSON.stringify(request.namespace)}`;
  return text;
}
