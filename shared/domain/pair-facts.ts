import { expToIso, readTokenClaims } from './jwt.js';

/** ANAF's documented lifetimes, used only when a token carries no readable `exp` (marked estimated). */
export const ACCESS_LIFETIME_FALLBACK_SECONDS = 90 * 86_400;
export const REFRESH_LIFETIME_SECONDS = 365 * 86_400;

/** What the metadata records about a stored pair, read from the tokens themselves where possible. */
export interface PairFacts {
  accessExpiresAt: string;
  refreshExpiresAt: string;
  /** True when the expiry did not come from the token's own `exp` claim. */
  accessExpiryEstimated: boolean;
  refreshExpiryEstimated: boolean;
  serial: string | null;
  clientAppId: string | null;
}

/**
 * Facts about a pair ANAF just issued. A 2xx answer is a rotation whatever its shape, so this never
 * refuses: a JWT `exp` wins; else the access token's end comes from `expires_in` (or ANAF's documented
 * 90 days) and the refresh token's from the 365-day lifetime, both marked estimated. When the answer
 * carried no refresh token (RFC 6749 §6), the stored one is kept, with its stored end (`kept`).
 */
export function readPairFacts(input: {
  accessToken: string;
  refreshToken: string;
  now: Date;
  expiresInSeconds?: number;
  kept?: { refreshExpiresAt: string; refreshExpiryEstimated: boolean };
}): PairFacts {
  const access = readTokenClaims(input.accessToken);
  const refresh = input.kept ? null : readTokenClaims(input.refreshToken);
  const t = input.now.getTime();
  const expiresIn = input.expiresInSeconds;
  const accessFallback = expiresIn !== undefined && Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : ACCESS_LIFETIME_FALLBACK_SECONDS;
  const refreshEnd = refresh
    ? { at: expToIso(refresh.exp), estimated: false }
    : input.kept
      ? { at: input.kept.refreshExpiresAt, estimated: input.kept.refreshExpiryEstimated }
      : { at: new Date(t + REFRESH_LIFETIME_SECONDS * 1000).toISOString(), estimated: true };
  return {
    accessExpiresAt: access ? expToIso(access.exp) : new Date(t + accessFallback * 1000).toISOString(),
    accessExpiryEstimated: access === null,
    refreshExpiresAt: refreshEnd.at,
    refreshExpiryEstimated: refreshEnd.estimated,
    serial: access?.serial ?? refresh?.serial ?? null,
    clientAppId: access?.clientAppId ?? refresh?.clientAppId ?? null,
  };
}
