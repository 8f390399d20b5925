import { createHash, randomBytes, randomUUID } from 'node:crypto';

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

export const newTokenId = (): string => `tok_${randomBytes(12).toString('hex')}`;
export const TOKEN_ID_SHAPE = /^tok_[a-f0-9]{24}$/;

/** The id of one Secrets Manager version of a token's secret (a ClientRequestToken: 32–64 characters). */
export const newSecretVersionId = (): string => randomUUID();
