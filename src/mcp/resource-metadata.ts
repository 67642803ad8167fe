/**
 * The MCP endpoint as an OAuth 2.1 protected resource (MCP authorization spec): its Protected
 * Resource Metadata (RFC 9728) and the 401 challenge that points clients at it. Pure: every URL
 * comes from configuration (`mcp.publicUrl`), never from the request's Host.
 */

export interface ProtectedResource {
  /** The configured public base URL, without a trailing slash. */
  publicUrl: string;
  /** The resource identifier: `<publicUrl>/mcp` (RFC 8707 `resource`, the audience to ask for). */
  resource: string;
  /** Where its metadata lives: `<publicUrl>/.well-known/oauth-protected-resource/mcp` (RFC 9728 §3.1). */
  metadataUrl: string;
  /** The trusted issuers (authorization servers a client may get a token from). */
  authorizationServers: string[];
  scopes: string[];
}

export const MCP_PATH = '/mcp';
export const METADATA_PATH = '/.well-known/oauth-protected-resource';

export function protectedResource(publicUrl: string, issuers: readonly string[], scopes: readonly string[]): ProtectedResource {
  const base = publicUrl.replace(/\/+$/, '');
  return { publicUrl: base, resource: `${base}${MCP_PATH}`, metadataUrl: `${base}${METADATA_PATH}${MCP_PATH}`, authorizationServers: [...issuers], scopes: [...scopes] };
}

/**
 * The same resource served under a path prefix (one cluster of several: `/clusters/<name>`):
 * resource `<publicUrl><prefix>/mcp`, its metadata path-suffixed after the well-known segment
 * (RFC 9728 §3.1): `<publicUrl>/.well-known/oauth-protected-resource<prefix>/mcp`.
 */
export function resourceUnder(root: ProtectedResource, prefix: string): ProtectedResource {
  const path = `${prefix}${MCP_PATH}`;
  return { ...root, resource: `${root.publicUrl}${path}`, metadataUrl: `${root.publicUrl}${METADATA_PATH}${path}` };
}

/** The RFC 9728 metadata document. */
export function metadataDocument(resource: ProtectedResource): Record<string, unknown> {
  return {
    resource: resource.resource,
    authorization_servers: resource.authorizationServers,
    scopes_supported: resource.scopes,
    bearer_methods_supported: ['header'],
    resource_name: 'Gatehouse (Kubernetes through policy, approvals and records)',
  };
}

/**
 * `WWW-Authenticate` for a 401 (RFC 6750 §3, RFC 9728 §5.1): the metadata URL of the resource
 * asked for (none at the root of a deployment of several clusters, which is no resource); with
 * `error="invalid_token"` and a description only when a token was presented and refused.
 */
export function bearerChallenge(resource: ProtectedResource | undefined, scopes: readonly string[], refusal: { tokenPresented: boolean; description: string }): string {
  const parts = [...(resource === undefined ? [] : [`resource_metadata="${resource.metadataUrl}"`]), `scope="${scopes.join(' ')}"`];
  if (refusal.tokenPresented) parts.push('error="invalid_token"', `error_description="${quotable(refusal.description)}"`);
  return `Bearer ${parts.join(', ')}`;
}

/** A quoted-string value: printable ASCII without `"` and `\`, bounded. */
function quotable(text: string): string {
  return text.replace(/[^\x20-\x7e]|["\\]/g, "'").slice(0, 300);
}
