/** The fixed clock, policy and token that the refresh-policy unit tests start from. */
import type { RefreshPolicy, computeDueAt, decideRefresh } from '../../shared/domain/refresh-policy.js';

export const NOW = new Date('2026-03-01T12:00:00.000Z');
export const SECOND = 1000;
export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;
/** An ISO time `offsetMs` from NOW. */
export const at = (offsetMs: number) => new Date(NOW.getTime() + offsetMs).toISOString();
export const POLICY: RefreshPolicy = {
  refreshMarginDays: 30,
  accessTokenMinValiditySeconds: 3600,
  manualRefreshCooldownSeconds: 60,
  maxRotationsPerDay: 24,
  rotationCap: null,
};

export type PolicyToken = Parameters<typeof decideRefresh>[0] & Parameters<typeof computeDueAt>[0];
/** A 90-day access token issued 30 days ago (due in 30 days), its refresh token ending in 300 days. */
export const token = (over: Partial<PolicyToken> = {}): PolicyToken => ({
  status: 'active',
  accessExpiresAt: at(60 * DAY),
  refreshExpiresAt: at(300 * DAY),
  lastRefreshAt: at(-30 * DAY),
  failedAttempts: 0,
  dueAt: at(30 * DAY),
  accessIssuedAt: at(-30 * DAY),
  rotations: [],
  recoveryAttemptedAt: null,
  warningsSent: [],
  rotationCount: 0,
  ...over,
});
