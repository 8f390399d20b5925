/** Every stable error code the service can answer with. Other systems rely on these strings. */
export type ErrorCode =
  | 'VALIDATION_ERROR'
  | 'INVALID_CUI'
  | 'INVALID_JSON'
  | 'INVALID_RETURN_URL'
  | 'TOO_MANY_CUIS'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNAUTHORIZED'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'TENANT_NOT_FOUND'
  | 'COMPANY_NOT_FOUND'
  | 'TOKEN_NOT_FOUND'
  | 'SESSION_NOT_FOUND'
  | 'CLIENT_ID_IN_USE'
  | 'CLIENT_MISMATCH'
  | 'IMPORT_REFRESH_REFUSED'
  | 'NOT_CONNECTED'
  | 'REAUTH_REQUIRED'
  | 'TOKEN_DISCONNECTED'
  | 'REFRESH_IN_PROGRESS'
  | 'REFRESH_RATE_LIMITED'
  | 'STORE_UNAVAILABLE'
  | 'TOKEN_EXISTS'
  | 'CONFLICT'
  | 'ANAF_REJECTED'
  | 'ANAF_UNAVAILABLE'
  | 'NO_SPV_RIGHTS'
  | 'MESSAGE_NOT_FOUND'
  | 'EXPIRED_60_DAYS'
  | 'ANAF_DAILY_LIMIT'
  | 'RATE_LIMITED'
  | 'IDEMPOTENCY_KEY_IN_USE'
  | 'UPLOAD_NOT_FOUND'
  | 'INTERNAL_ERROR';

/** The one error type services throw; `code` decides the HTTP status, `cause` is kept for logs. */
export class BrokerError extends Error {
  override name = 'BrokerError';
  /** Seconds after which a retry can succeed (answered as a Retry-After header). */
  readonly retryAfterSeconds?: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(message, options);
    if (options?.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** Exhaustive code → HTTP status table: a new code without a status does not compile. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  VALIDATION_ERROR: 400,
  INVALID_CUI: 400,
  INVALID_JSON: 400,
  INVALID_RETURN_URL: 400,
  TOO_MANY_CUIS: 400,
  CLIENT_MISMATCH: 400,
  IMPORT_REFRESH_REFUSED: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  TENANT_NOT_FOUND: 404,
  COMPANY_NOT_FOUND: 404,
  TOKEN_NOT_FOUND: 404,
  SESSION_NOT_FOUND: 404,
  CLIENT_ID_IN_USE: 409,
  NOT_CONNECTED: 409,
  REAUTH_REQUIRED: 409,
  TOKEN_DISCONNECTED: 409,
  REFRESH_IN_PROGRESS: 409,
  REFRESH_RATE_LIMITED: 429,
  // A store did not answer in time (timeout, throttling, 5xx, after the SDK's attempts), or Secrets Manager
  // has not yet made the token's current version readable (eventual consistency). With Retry-After.
  STORE_UNAVAILABLE: 503,
  TOKEN_EXISTS: 409,
  CONFLICT: 409,
  ANAF_REJECTED: 502,
  ANAF_UNAVAILABLE: 503,
  UPLOAD_NOT_FOUND: 404,
  // e-Factura: the certificate holder has no SPV rights on the company (or on that message).
  NO_SPV_RIGHTS: 403,
  MESSAGE_NOT_FOUND: 404,
  // ANAF still lists the message but no longer lets anyone download it: final.
  EXPIRED_60_DAYS: 410,
  // ANAF's own daily counter is spent (Retry-After: midnight in Romania).
  ANAF_DAILY_LIMIT: 429,
  // Our limiter refused before calling ANAF (Retry-After: when the limit's window ends).
  RATE_LIMITED: 429,
  // An upload with this Idempotency-Key is under way, or the key was used for another request.
  IDEMPOTENCY_KEY_IN_USE: 409,
  INTERNAL_ERROR: 500,
};
