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

/** Who asked for a refresh: the daily sweep, a person or console (manual), or the access-token route. */
export type RefreshTrigger = 'sweep' | 'manual' | 'on-demand';

export type RefreshDecision =
  | { action: 'refresh'; reason: 'access-expiring' | 'retry' | 'manual' | 'below-min-validity' }
  | { action: 'skip'; reason: 'not-due' | 'cooldown' | 'fresh-enough' }
  | { action: 'reauth'; reason: 'refresh-token-expired' }
  | { action: 'refuse'; reason: 'reauth-required' | 'disconnected' };

export interface RefreshPolicy {
  refreshMarginDays: number;
  accessTokenMinValiditySeconds: number;
  manualRefreshCooldownSeconds: number;
}

/**
 * Should this token be refreshed now, and why. Pure: the same token, trigger and clock always decide
 * the same. Manual refresh is the sweep minus the "not due yet" check (plus a short cool-down).
 */
export function decideRefresh(
  token: Pick<TokenRecord, 'status' | 'accessExpiresAt' | 'refreshExpiresAt' | 'lastRefreshAt' | 'failedAttempts' | 'dueAt'>,
  trigger: RefreshTrigger,
  now: Date,
  policy: RefreshPolicy,
): RefreshDecision {
  if (token.status === 'disconnected') return { action: 'refuse', reason: 'disconnected' };
  if (token.status === 'reauth-required') return { action: 'refuse', reason: 'reauth-required' };
  const t = now.getTime();
  if (Date.parse(token.refreshExpiresAt) <= t) return { action: 'reauth', reason: 'refresh-token-expired' };
  const accessLeftMs = Date.parse(token.accessExpiresAt) - t;
  switch (trigger) {
    case 'manual': {
      const cooldownMs = policy.manualRefreshCooldownSeconds * 1000;
      if (cooldownMs > 0 && token.lastRefreshAt && t - Date.parse(token.lastRefreshAt) < cooldownMs) {
        return { action: 'skip', reason: 'cooldown' };
      }
      return { action: 'refresh', reason: 'manual' };
    }
    case 'on-demand':
      return accessLeftMs < policy.accessTokenMinValiditySeconds * 1000
        ? { action: 'refresh', reason: 'below-min-validity' }
        : { action: 'skip', reason: 'fresh-enough' };
    case 'sweep':
      if (accessLeftMs <= policy.refreshMarginDays * DAY_MS) return { action: 'refresh', reason: 'access-expiring' };
      if (token.failedAttempts > 0 && token.dueAt && Date.parse(token.dueAt) <= t) return { action: 'refresh', reason: 'retry' };
      return { action: 'skip', reason: 'not-due' };
  }
}

/** Wait before the sweep retries a token after a failure: 1 h, 2 h, 4 h … at most a day. */
export function retryDelayMs(failedAttempts: number): number {
  return Math.min(3_600_000 * 2 ** Math.max(0, failedAttempts - 1), DAY_MS);
}
