/**
 * The OIDC authenticator: verifies ID tokens of the configured issuer against its JWKS.
 *
 * Contract: `createOidcAuthenticator(config, options)` checks the configuration at once
 * (start-up, throwing GatehouseConfigError) and touches the network only on first use: the
 * JWKS URL is `config.jwksUri`, or discovered from the issuer's discovery document. The
 * discovered URL and the key set are cached for the authenticator's life (create it once,
 * at module scope on Lambda); a failed discovery or key fetch is retried by a later request,
 * never cached. jose refetches the key set when a token names an unknown `kid` (at most
 * every 30 s) and when it is 10 minutes old.
 */
import { createRemoteJWKSet, customFetch } from 'jose';
import type { FetchImplementation, JWTVerifyGetKey } from 'jose';
import type { OidcConfig } from '../config.ts';
import { GatehouseConfigError } from '../config-error.ts';
import { GatehouseError } from '../errors.ts';
import type { Authenticator } from '../ports/authenticator.ts';
import type { Clock } from '../types.ts';
import { discoverJwksUri } from './discovery.ts';
import { fetchFromIdp, idpUnavailable } from './idp-fetch.ts';
import type { FetchFunction, IdpFetchOptions } from './idp-fetch.ts';
import { isHttpsOrLoopback } from './loopback.ts';
import { createTokenAuthenticator } from './token-verifier.ts';

export interface OidcAuthenticatorOptions {
  clock?: Clock;
  /** The fetch the IdP is reached with; tests and proxies may supply their own. */
  fetch?: FetchFunction;
  /** Milliseconds the IdP has to answer a discovery or JWKS request. */
  timeoutMs?: number;
}

export function createOidcAuthenticator(config: OidcConfig, options: OidcAuthenticatorOptions = {}): Authenticator {
  checkUrls(config);
  const fetchOptions: IdpFetchOptions = { fetch: options.fetch ?? fetch, timeoutMs: options.timeoutMs ?? 5000 };
  let keySet: Promise<JWTVerifyGetKey> | undefined;

  const keys: JWTVerifyGetKey = async (header, token) => {
    keySet ??= remoteKeySet(config, fetchOptions).catch((error: unknown) => {
      keySet = undefined;
      throw error;
    });
    const getKey = await keySet;
    return getKey(header, token);
  };

  const clockOption = options.clock === undefined ? {} : { clock: options.clock };
  return createTokenAuthenticator(config, keys, clockOption);
}

async function remoteKeySet(config: OidcConfig, fetchOptions: IdpFetchOptions): Promise<JWTVerifyGetKey> {
  const jwksUri = config.jwksUri ?? (await discoverJwksUri(config.issuer, fetchOptions));
  const jwksFetch: FetchImplementation = (url, init) => fetchFromIdp('JWKS', url, fetchOptions, init);
  const remote = createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: fetchOptions.timeoutMs, [customFetch]: jwksFetch });
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (error) {
      throw keySetError(error, jwksUri);
    }
  };
}

/** Errors about the token pass on; anything else went wrong fetching or reading the key set. */
function keySetError(error: unknown, jwksUri: string): unknown {
  if (error instanceof GatehouseError) return error;
  const code = (error as { code?: unknown }).code;
  if (code === 'ERR_JWKS_NO_MATCHING_KEY' || code === 'ERR_JWKS_MULTIPLE_MATCHING_KEYS' || code === 'ERR_JOSE_NOT_SUPPORTED') return error;
  if (code === 'ERR_JWKS_TIMEOUT') return idpUnavailable('JWKS', jwksUri, 'no answer in time', error);
  if (code === 'ERR_JWKS_INVALID') return idpUnavailable('JWKS', jwksUri, 'it is not a valid JSON Web Key Set', error);
  const why = error instanceof Error ? error.message : String(error);
  return idpUnavailable('JWKS', jwksUri, why, error);
}

function checkUrls(config: OidcConfig): void {
  const problems: string[] = [];
  for (const [key, value] of [['oidc.issuer', config.issuer], ['oidc.jwksUri', config.jwksUri]] as const) {
    if (value !== undefined && !isHttpsOrLoopback(new URL(value))) problems.push(`${key}: ${value} must be an https:// URL (plain http only on loopback)`);
  }
  if (problems.length > 0) throw new GatehouseConfigError('oidc configuration', problems);
}
