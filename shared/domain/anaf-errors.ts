/**
 * How a call to ANAF failed. `invalid_client`/`invalid_grant`/`rejected` mean ANAF answered and refused;
 * `unavailable` means it could not have acted (connection refused, 429, 5xx); `timeout` means it may
 * have acted (a rotation may hide behind a read timeout).
 */
export type AnafFailureKind = 'invalid_client' | 'invalid_grant' | 'rejected' | 'unavailable' | 'timeout';

export class AnafError extends Error {
  override name = 'AnafError';
  constructor(
    readonly kind: AnafFailureKind,
    message: string,
    readonly details: { status?: number; oauthError?: string; retryAfterSeconds?: number } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
