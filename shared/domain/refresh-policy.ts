import type { TokenRecord } from './model.js';

/** Days before the refresh token's end at which the certificate holder is warned, each once. */
export const REFRESH_EXPIRY_WARNING_DAYS = [30, 14, 7, 1] as const;
/** Consecutive failed refresh runs after which an `expiring` warning goes out. */
export const FAILED_RUNS_WARNING_THRESHOLD = 3;
const DAY_MS = 86_400_000;

/** The refresh-token warning (in days) that is due now and not yet sent, if any. */
export function dueWarning(token: Pick<TokenRecord, 'refreshExpiresAt' | 'warningsSent'>, now: Date): number | null {
  const left = Date.parse(token.refreshExpiresAt) - now.getTime();
  const due = REFRESH_EXPIRY_WARNING_DAYS.filter((days) => left <= days * DAY_MS && !token.warningsSent.includes(days));
  // Several thresholds can be crossed at once (a token imported late): send only the tightest one.
  return due.length > 0 ? Math.min(...due) : null;
}

/** Marks every threshold at or above `days` as sent, so a later run does not send the wider ones. */
export function warningsAfter(sent: number[], days: number): number[] {
  return [...new Set([...sent, ...REFRESH_EXPIRY_WARNING_DAYS.filter((d) => d >= days)])].sort((a, b) => b - a);
}

/**
 * When the sweep must next look at a token: the earliest of (access expiry − margin), the next
 * refresh-token warning and `retryAt` (after a failure). Null for tokens that are not active.
 */
export function computeDueAt(
  token: Pick<TokenRecord, 'status' | 'accessExpiresAt' | 'refreshExpiresAt' | 'warningsSent'>,
  marginDays: number,
  retryAt?: Date,
): string | null {
  if (token.status !== 'active') return null;
  const candidates = [Date.parse(token.accessExpiresAt) - marginDays * DAY_MS];
  const refreshEnd = Date.parse(token.refreshExpiresAt);
  const pending = REFRESH_EXPIRY_WARNING_DAYS.filter((d) => !token.warningsSent.includes(d));
  if (pending.length > 0) candidates.push(refreshEnd - Math.max(...pending) * DAY_MS);
  else candidates.push(refreshEnd);
  if (retryAt) candidates.push(retryAt.getTime());
  return new Date(Math.min(...candidates)).toISOString();
}
