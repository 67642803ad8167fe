/**
 * The one error type of Gatehouse. Every refusal or failure is a GatehouseError with a
 * code; this module is the only place that maps a code to an HTTP status and a Kubernetes
 * `Status` reason, so kubectl prints every refusal the way it prints the API server's.
 */

export type StatusReason =
  | 'Unauthorized'
  | 'Forbidden'
  | 'BadRequest'
  | 'NotFound'
  | 'Conflict'
  | 'Gone'
  | 'Invalid'
  | 'MethodNotAllowed'
  | 'NotAcceptable'
  | 'RequestEntityTooLarge'
  | 'UnsupportedMediaType'
  | 'TooManyRequests'
  | 'InternalError'
  | 'ServiceUnavailable'
  | 'Timeout'
  | 'Expired';

const CODES = {
  // authenticate
  ERR_TOKEN_MISSING: [401, 'Unauthorized'],
  ERR_TOKEN_MALFORMED: [401, 'Unauthorized'],
  ERR_TOKEN_EXPIRED: [401, 'Unauthorized'],
  ERR_TOKEN_NOT_YET_VALID: [401, 'Unauthorized'],
  ERR_TOKEN_ISSUER: [401, 'Unauthorized'],
  ERR_TOKEN_AUDIENCE: [401, 'Unauthorized'],
  ERR_TOKEN_UNKNOWN_KEY: [401, 'Unauthorized'],
  ERR_TOKEN_ALGORITHM: [401, 'Unauthorized'],
  ERR_TOKEN_SIGNATURE: [401, 'Unauthorized'],
  ERR_TOKEN_CLAIMS: [401, 'Unauthorized'],
  ERR_IDP_UNAVAILABLE: [401, 'Unauthorized'],
  ERR_IMPERSONATION_REFUSED: [403, 'Forbidden'],
  // route
  ERR_CLUSTER_UNKNOWN: [404, 'NotFound'],
  // classify
  ERR_REQUEST_PATH: [400, 'BadRequest'],
  ERR_REQUEST_INVALID: [400, 'BadRequest'],
  ERR_PAYLOAD_TOO_LARGE: [413, 'RequestEntityTooLarge'],
  ERR_JSON_TOO_DEEP: [400, 'BadRequest'],
  ERR_UPGRADE_UNSUPPORTED: [400, 'BadRequest'],
  ERR_METHOD_NOT_ALLOWED: [405, 'MethodNotAllowed'],
  // authorize / approve
  ERR_POLICY_DENIED: [403, 'Forbidden'],
  ERR_APPROVAL_REQUIRED: [403, 'Forbidden'],
  ERR_APPROVAL_DENIED: [403, 'Forbidden'],
  ERR_APPROVAL_NOT_FOUND: [404, 'NotFound'],
  ERR_APPROVAL_EXPIRED: [410, 'Expired'],
  ERR_APPROVAL_ALREADY_DECIDED: [409, 'Conflict'],
  ERR_APPROVAL_SELF: [403, 'Forbidden'],
  ERR_APPROVAL_LINK_INVALID: [403, 'Forbidden'],
  ERR_GRANT_ALREADY_USED: [409, 'Conflict'],
  ERR_APPROVALS_UNAVAILABLE: [503, 'ServiceUnavailable'],
  // limit streams
  ERR_STREAM_LIMIT: [429, 'TooManyRequests'],
  ERR_STREAM_LEASES_UNAVAILABLE: [503, 'ServiceUnavailable'],
  ERR_SESSIONS_UNREACHABLE: [503, 'ServiceUnavailable'],
  ERR_APPROVAL_BODY_UNSHOWABLE: [415, 'UnsupportedMediaType'],
  // credentials / forward
  ERR_CREDENTIALS_UNAVAILABLE: [503, 'ServiceUnavailable'],
  ERR_UPSTREAM_UNREACHABLE: [502, 'ServiceUnavailable'],
  ERR_UPSTREAM_TIMEOUT: [504, 'Timeout'],
  ERR_UPSTREAM_TLS: [502, 'ServiceUnavailable'],
  // restore / mask
  ERR_PLACEHOLDER_UNRESTORABLE: [400, 'BadRequest'],
  ERR_PATCH_READS_MASKED: [403, 'Forbidden'],
  ERR_RESPONSE_UNMASKABLE: [502, 'InternalError'],
  // record
  ERR_RECORD_UNAVAILABLE: [503, 'ServiceUnavailable'],
  ERR_VIEW_LINK_INVALID: [403, 'Forbidden'],
  // anything else
  ERR_NOT_FOUND: [404, 'NotFound'],
  ERR_INTERNAL: [500, 'InternalError'],
} as const satisfies Record<string, readonly [number, StatusReason]>;

export type ErrorCode = keyof typeof CODES;

/**
 * Failures of a part Gatehouse depends on (AWS, its stores) that a retry may cure: the Status
 * names when to try again (`details.retryAfterSeconds`) and the response carries `Retry-After`,
 * as the API server does for its own 503s and 429s.
 */
const RETRY_AFTER_SECONDS: Partial<Record<ErrorCode, number>> = {
  ERR_CREDENTIALS_UNAVAILABLE: 5,
  ERR_APPROVALS_UNAVAILABLE: 5,
  ERR_RECORD_UNAVAILABLE: 5,
  ERR_STREAM_LEASES_UNAVAILABLE: 5,
  ERR_SESSIONS_UNREACHABLE: 5,
  // As the API server's own 429s (max-in-flight): kubectl retries ten times, a second apart, then prints the message.
  ERR_STREAM_LIMIT: 1,
};

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  /** Gatehouse extensions ride in `causes`, which kubectl ignores but clients can read. */
  causes?: { reason?: string; message?: string; field?: string }[];
  retryAfterSeconds?: number;
}

export class GatehouseError extends Error {
  readonly code: ErrorCode;
  readonly details: StatusDetails | undefined;

  constructor(code: ErrorCode, message: string, options?: { details?: StatusDetails; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatehouseError';
    this.code = code;
    const retryAfterSeconds = RETRY_AFTER_SECONDS[code];
    this.details =
      retryAfterSeconds === undefined || options?.details?.retryAfterSeconds !== undefined
        ? options?.details
        : { ...options?.details, retryAfterSeconds };
  }

  get httpStatus(): number {
    return CODES[this.code][0];
  }

  get reason(): StatusReason {
    return CODES[this.code][1];
  }
}

/** The Kubernetes `Status` object (meta/v1) as the API server writes it for a failure. */
export interface KubeStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: StatusReason;
  details?: StatusDetails;
  code: number;
}

export function toStatus(error: GatehouseError): KubeStatus {
  const status: KubeStatus = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: error.message,
    reason: error.reason,
    code: error.httpStatus,
  };
  if (error.details !== undefined) status.details = error.details;
  return status;
}

/** Anything thrown that is not ours becomes an internal error that reveals nothing of the cause. */
export function asGatehouseError(error: unknown): GatehouseError {
  if (error instanceof GatehouseError) return error;
  return new GatehouseError('ERR_INTERNAL', 'Gatehouse failed to handle this request; see its logs', { cause: error });
}

export function statusResponse(error: GatehouseError, headers?: HeadersInit): Response {
  const response = new Response(JSON.stringify(toStatus(error)), {
    status: error.httpStatus,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headersToObject(headers) },
  });
  if (error.code === 'ERR_TOKEN_MISSING' || error.httpStatus === 401) {
    response.headers.set('www-authenticate', 'Bearer realm="gatehouse"');
  }
  if (error.details?.retryAfterSeconds !== undefined) response.headers.set('retry-after', String(error.details.retryAfterSeconds));
  return response;
}

function headersToObject(headers: HeadersInit | undefined): Record<string, string> {
  if (headers === undefined) return {};
  return Object.fromEntries(new Headers(headers).entries());
}
