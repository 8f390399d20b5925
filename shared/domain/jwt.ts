/**
 * Reads the claims of ANAF's JWTs without verifying the signature: ANAF publishes no key set, and the
 * tokens reach us straight from ANAF over TLS (or from the ERP, for an import). Expiries come from
 * `exp`, never from `expires_in`.
 */
export interface AnafTokenClaims {
  exp: number;
  serial: string | null;
  clientAppId: string | null;
  subject: string | null;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
/** 9999-12-31T23:59:59Z: an `exp` past it cannot become an ISO date, so the value is not a usable token. */
const MAX_EXP = 253_402_300_799;

/** Decodes the payload of a JWT; returns null when the value is not a JWT with a numeric `exp` in 1970…9999. */
export function readTokenClaims(jwt: string): AnafTokenClaims | null {
  if (typeof jwt !== 'string' || jwt.length > 16_384 || !JWT_SHAPE.test(jwt)) return null;
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (typeof payload !== 'object' || payload === null) return null;
  const claims = payload as Record<string, unknown>;
  if (typeof claims.exp !== 'number' || !Number.isFinite(claims.exp) || claims.exp <= 0 || claims.exp > MAX_EXP) return null;
  const text = (value: unknown) => (typeof value === 'string' && value.length > 0 ? value : null);
  return {
    exp: claims.exp,
    serial: text(claims.serial),
    clientAppId: text(claims.clientappid),
    subject: text(claims.sub),
  };
}

/** Seconds-since-epoch claim to ISO 8601. */
export const expToIso = (exp: number): string => new Date(exp * 1000).toISOString();
