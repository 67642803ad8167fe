/**
 * A local OpenID provider for the bench: an RS256 key (what most identity providers sign ID
 * tokens with), its discovery document and JWKS over loopback HTTP, and ID tokens minted with
 * it. Gatehouse verifies these through its production OIDC authenticator (remote JWKS), the
 * same path a token from a real provider takes; the JWKS is fetched once per process.
 * With `tls`, it serves HTTPS (kube-oidc-proxy, the real-server scenario's peer, reads the
 * discovery document only from an https issuer).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { CryptoKey } from 'jose';

export const BENCH_AUDIENCE = 'gatehouse-bench';

export interface BenchIdp {
  issuer: string;
  jwksUri: string;
  audience: string;
  /** An ID token for `user` in `groups`, valid for `ttlSeconds`. */
  mint(user: string, groups: string[], ttlSeconds: number): Promise<string>;
  close(): Promise<void>;
}

export async function startBenchIdp(options: { tls?: { cert: string; key: string } } = {}): Promise<BenchIdp> {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench-1', alg: 'RS256', use: 'sig' };
  let issuer = '';
  const handler = (request: http.IncomingMessage, response: http.ServerResponse): void => {
    const body =
      request.url === '/.well-known/openid-configuration'
        ? { issuer, jwks_uri: `${issuer}/jwks`, id_token_signing_alg_values_supported: ['RS256'] }
        : request.url === '/jwks'
          ? { keys: [jwk] }
          : undefined;
    if (body === undefined) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const server = options.tls === undefined ? http.createServer(handler) : https.createServer(options.tls, handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    audience: BENCH_AUDIENCE,
    mint: (user, groups, ttlSeconds) => mint(privateKey, issuer, user, groups, ttlSeconds),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function mint(key: CryptoKey, issuer: string, user: string, groups: string[], ttlSeconds: number): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ email: user, groups })
    .setProtectedHeader({ alg: 'RS256', kid: 'bench-1', typ: 'JWT' })
    .setIssuer(issuer)
    .setAudience(BENCH_AUDIENCE)
    .setSubject(`bench-${user}`)
    .setIssuedAt(now)
    .setExpirationTime(now + ttlSeconds)
    .sign(key);
}
