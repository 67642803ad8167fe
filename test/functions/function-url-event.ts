/**
 * Builds Lambda Function URL events (payload format 2.0) the way the Function URL front end
 * does (docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html): header names lowercased,
 * repeated headers joined with commas, cookies moved out of the headers into `cookies`,
 * the raw path and query kept as sent, bodies base64-encoded when binary.
 */
import type { FunctionUrlEvent } from '../../functions/lambda-handler.ts';

export interface RawRequest {
  method: string;
  /** Path and query exactly as on the request line. */
  target: string;
  /** Header lines in order; a name may repeat. */
  headers: [string, string][];
  body?: Buffer;
  /** Whether the front end base64-encodes the body (it does for non-text content types). */
  base64?: boolean;
}

const DOMAIN = 'abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws';

export function functionUrlEvent(request: RawRequest): FunctionUrlEvent & Record<string, unknown> {
  const q = request.target.indexOf('?');
  const rawPath = q === -1 ? request.target : request.target.slice(0, q);
  const rawQueryString = q === -1 ? '' : request.target.slice(q + 1);
  const headers: Record<string, string> = { host: DOMAIN };
  const cookies: string[] = [];
  for (const [name, value] of request.headers) {
    const key = name.toLowerCase();
    if (key === 'cookie') {
      cookies.push(...value.split(/;\s*/).filter((c) => c !== ''));
      continue;
    }
    headers[key] = headers[key] === undefined || key === 'host' ? value : `${headers[key]},${value}`;
  }
  const queryStringParameters: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(rawQueryString)) {
    queryStringParameters[key] = queryStringParameters[key] === undefined ? value : `${queryStringParameters[key]},${value}`;
  }
  const now = Date.UTC(2025, 4, 6, 7, 8, 9);
  const event: FunctionUrlEvent & Record<string, unknown> = {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    headers,
    requestContext: {
      accountId: 'anonymous',
      apiId: DOMAIN.split('.')[0],
      domainName: DOMAIN,
      domainPrefix: DOMAIN.split('.')[0],
      http: { method: request.method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: headers['user-agent'] ?? '' },
      requestId: '6f3e0a53-7c37-4d35-9e4b-6b1a3d0c2b11',
      routeKey: '$default',
      stage: '$default',
      time: '06/May/2025:07:08:09 +0000',
      timeEpoch: now,
    },
    isBase64Encoded: request.base64 === true,
  };
  if (cookies.length > 0) event.cookies = cookies;
  if (rawQueryString !== '') event.queryStringParameters = queryStringParameters;
  if (request.body !== undefined && request.body.length > 0) {
    event.body = request.base64 === true ? request.body.toString('base64') : request.body.toString('utf8');
  }
  return event;
}
