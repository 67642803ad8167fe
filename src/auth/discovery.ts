/**
 * OpenID Connect discovery: the issuer's `/.well-known/openid-configuration` names its JWKS.
 *
 * Contract: `discoverJwksUri(issuer, fetchOptions)` resolves the `jwks_uri` of the issuer's
 * discovery document, after checking the document's `issuer` equals the configured issuer
 * exactly (OpenID Connect Discovery §4.3) and the JWKS is served over HTTPS (or loopback).
 * Any failure rejects with GatehouseError ERR_IDP_UNAVAILABLE naming the URL and the reason.
 */
import { isJsonObject } from '../json-object.ts';
import { fetchJsonFromIdp, idpUnavailable } from './idp-fetch.ts';
import type { IdpFetchOptions } from './idp-fetch.ts';
import { isHttpsOrLoopback } from './loopback.ts';

const WHAT = 'discovery document';

export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

export async function discoverJwksUri(issuer: string, options: IdpFetchOptions): Promise<string> {
  const url = discoveryUrl(issuer);
  const document = await fetchJsonFromIdp(WHAT, url, options);
  if (!isJsonObject(document)) throw idpUnavailable(WHAT, url, 'it is not a JSON object');
  const { issuer: named, jwks_uri: jwksUri } = document;
  if (typeof named !== 'string') throw idpUnavailable(WHAT, url, 'it names no "issuer"');
  if (named !== issuer) {
    throw idpUnavailable(WHAT, url, `it names issuer ${JSON.stringify(named)}, not the configured issuer ${JSON.stringify(issuer)}`);
  }
  if (typeof jwksUri !== 'string' || !URL.canParse(jwksUri)) {
    throw idpUnavailable(WHAT, url, 'its "jwks_uri" is missing or not a URL');
  }
  if (!isHttpsOrLoopback(new URL(jwksUri))) {
    throw idpUnavailable(WHAT, url, `its "jwks_uri" ${jwksUri} is not HTTPS`);
  }
  return jwksUri;
}
