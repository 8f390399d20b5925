import type { DisconnectReason, TokenRecord } from './model.js';

/**
 * How old a token secret no record points at must be before the sweep deletes it. A connect writes its
 * record a moment after its secret, and no Lambda runs for an hour, so an older one is an orphan left by
 * a callback or import that died between the two writes.
 */
export const ORPHAN_SECRET_MIN_AGE_MS = 3_600_000;

/**
 * How old the pair an import's first attempt left (its record never landed) may be for the same import
 * sent again to store it: well under ORPHAN_SECRET_MIN_AGE_MS, so that the sweep cannot be deleting it
 * as an orphan meanwhile. An older one is left to the sweep.
 */
export const ADOPTABLE_ORPHAN_MAX_AGE_MS = ORPHAN_SECRET_MIN_AGE_MS - 10 * 60_000;

/**
 * The record a disconnect writes: `disconnected`, out of the due index, lease cleared, and a new version,
 * so that a re-authorization or refresh prepared on the old version can never land after it.
 */
export function disconnectedRecord(token: TokenRecord, input: { at: string; reason: DisconnectReason; cuis: string[]; replacedByTokenId?: string }): TokenRecord {
  return {
    ...token,
    status: 'disconnected',
    version: token.version + 1,
    dueAt: null,
    leaseOwner: null,
    leaseExpiresAt: null,
    updatedAt: input.at,
    disconnection: {
      at: input.at,
      reason: input.reason,
      cuis: [...input.cuis].sort(),
      ...(input.replacedByTokenId ? { replacedByTokenId: input.replacedByTokenId } : {}),
      auditedAt: null,
      publishedAt: null,
    },
  };
}

/** True while a disconnected token's event has not reached both the audit trail and the bus. */
export function disconnectEventPending(token: TokenRecord): boolean {
  const d = token.disconnection;
  return token.status === 'disconnected' && Boolean(d) && (d!.auditedAt === null || d!.publishedAt === null);
}

export type SecretReconcileAction = 'keep' | 'delete-orphan' | 'finish-disconnect';

/**
 * What the sweep does with one token secret it listed, given the token's record (null when there is
 * none): an orphan older than the minimum age is deleted; a disconnected token whose secret still exists
 * (or whose event is still pending) gets its disconnect finished; anything else is kept.
 */
export function reconcileSecret(
  secret: { createdAt: string; deleted: boolean },
  record: TokenRecord | null,
  now: Date,
): { action: SecretReconcileAction; reason: string } {
  if (!record) {
    if (secret.deleted) return { action: 'keep', reason: 'already scheduled for deletion' };
    if (now.getTime() - Date.parse(secret.createdAt) < ORPHAN_SECRET_MIN_AGE_MS) return { action: 'keep', reason: 'young: a connect may be under way' };
    return { action: 'delete-orphan', reason: 'no record points at it' };
  }
  if (record.status !== 'disconnected') return { action: 'keep', reason: 'the token is live' };
  if (!secret.deleted) return { action: 'finish-disconnect', reason: 'the secret outlived the disconnect' };
  if (disconnectEventPending(record)) return { action: 'finish-disconnect', reason: 'the disconnect event is not recorded' };
  return { action: 'keep', reason: 'the disconnect is finished' };
}
