import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';

/**
 * OAuth `state` and session ids. A state is 32 random bytes (base64url, 43 characters): unguessable,
 * bound to its session by the stored record, and stored only as its SHA-256 so that a copy of the
 * table cannot be replayed. Single use and expiry are enforced where the record is consumed.
 */
export const STATE_TTL_SECONDS = 600;
const STATE_SHAPE = /^[A-Za-z0-9_-]{43}$/;
export const SESSION_ID_SHAPE = /^cs_[A-Za-z0-9_-]{32}$/;

export const newState = (): string => randomBytes(32).toString('base64url');
export const isWellFormedState = (value: string): boolean => STATE_SHAPE.test(value);
export const hashState = (state: string): string => createHash('sha256').update(state).digest('base64url');

export const newSessionId = (): string => `cs_${randomBytes(24).toString('base64url')}`;
export const isWellFormedSessionId = (value: string): boolean => SESSION_ID_SHAPE.test(value);
/**
 * A session id is a bearer capability (its link lets anyone holding it connect), so the table keys a
 * session by this hash and never holds the id: a copy of the table opens no link.
 */
export const hashSessionId = (sessionId: string): string => hashState(sessionId);

/**
 * A state record carries its session's id sealed with a key only the state itself gives (AES-256-GCM,
 * key SHA-256 of the state), so the callback, which holds the state, can offer the link again, and the
 * table, which holds only the state's hash, cannot.
 */
export function sealSessionId(state: string, sessionId: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealKey(state), iv);
  const body = Buffer.concat([cipher.update(sessionId, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

/** The session id sealed by `sealSessionId` with this state; null when it was not (tampered, another state). */
export function openSessionId(state: string, sealed: string): string | null {
  const raw = Buffer.from(sealed, 'base64url');
  if (raw.length < 29) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', sealKey(state), raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}
const sealKey = (state: string) => createHash('sha256').update(`connect-session-seal:${state}`).digest();

export const newTokenId = (): string => `tok_${randomBytes(12).toString('hex')}`;

/**
 * The id of the token an import of `refreshToken` makes: the same for the same paste, so that an import
 * sent again after its first attempt rotated the paste but could not store the record finds the pair
 * that attempt left. An HMAC keyed with the tenant's client secret: the id says nothing of the paste.
 */
export const importTokenId = (clientSecret: string, tenantId: string, refreshToken: string): string =>
  `tok_${createHmac('sha256', clientSecret).update(`import\n${tenantId}\n${refreshToken}`).digest('hex').slice(0, 24)}`;
export const TOKEN_ID_SHAPE = /^tok_[a-f0-9]{24}$/;

/** The id of one Secrets Manager version of a token's secret (a ClientRequestToken: 32–64 characters). */
export const newSecretVersionId = (): string => randomUUID();
