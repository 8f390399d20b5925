import type { TokenRecord } from './model.js';
import { ACCESS_LIFETIME_FALLBACK_SECONDS } from './pair-facts.js';

/** Days before the refresh token's end at which the certificate holder is warned, each once. */
export const REFRESH_EXPIRY_WARNING_DAYS = [30, 14, 7, 1] as const;
/** Consecutive failed refresh runs after which an `expiring` warning goes out. */
export const FAILED_RUNS_WARNING_THRESHOLD = 3;
const DAY_MS = 86_400_000;
/**
 * The sweep runs daily (design: "daily by default"). REFRESH_MARGIN_DAYS is kept as a floor: a token is
 * refreshed by the last sweep before its access token would have less than the margin left, not by the
 * first one after, so a refusal (a renewed certificate) is learnt, and warned about, at least the margin
 * before access is lost. A more frequent schedule only refreshes up to a day earlier than needed.
 */
export const SWEEP_PERIOD_MS = DAY_MS;

/**
 * Days of ANAF token-endpoint outage the margin survives. A refusal (a renewed certificate) can only be
 * learnt by a sweep that reaches ANAF: when the endpoint is down from the due sweep on, it is learnt after
 * the outage, that much closer to the access token's end. The sweep therefore starts this many days
 * earlier, so a refusal learnt after an outage of up to this length is still warned about at least
 * REFRESH_MARGIN_DAYS ahead. The cost: a 90-day pair rotates every 49 days instead of 59 (about 20% more
 * rotations and Secrets Manager writes). A constant, not a setting (the simulation's default outage).
 */
export const ANAF_OUTAGE_ALLOWANCE_DAYS = 10;

/** How long before its access token's end the sweep refreshes a token: the margin, one sweep period and the outage allowance. */
export const sweepLeadMs = (policy: Pick<RefreshPolicy, 'refreshMarginDays'>): number =>
  (policy.refreshMarginDays + ANAF_OUTAGE_ALLOWANCE_DAYS) * DAY_MS + SWEEP_PERIOD_MS;

/** What the cap-aware functions read of the settings: the sweep's margin and ANAF_ROTATION_CAP (absent or null: no cap assumed). */
export type CapPolicy = Pick<RefreshPolicy, 'refreshMarginDays' | 'rotationCap'>;
const NO_CAP: CapPolicy = { refreshMarginDays: 0, rotationCap: null };

/** What the authorization's end is computed from; the projection under a cap needs the access fields too. */
type EndInput = Pick<TokenRecord, 'refreshExpiresAt'> & Partial<Pick<TokenRecord, 'accessExpiresAt' | 'accessIssuedAt' | 'rotationCount'>>;

/** Why an authorization ends: its refresh token's `exp`, or the rotations ANAF_ROTATION_CAP leaves running out first. */
export type EndReason = 'REFRESH_TOKEN_ENDING' | 'ROTATION_CAP';

/** Rotations the cap still allows this authorization (never below 0); null without a cap. An item without a count reads as 0 rotations. */
export function rotationsLeft(token: Pick<TokenRecord, 'rotationCount'>, cap: number | null | undefined): number | null {
  if (cap === null || cap === undefined) return null;
  return Math.max(0, cap - (token.rotationCount ?? 0));
}

/**
 * When, under the cap, the sweep would need one rotation more than the cap allows: the next rotation is
 * due at (access expiry − the sweep's lead: margin, a sweep period, the outage allowance), never before
 * the pair's issue; each after it one (access lifetime − lead) later, at least a day (the sweep runs daily). From then on only the last access token is left.
 * Null without a cap. A projection: a manual refresh spends a rotation early and moves it closer.
 */
export function rotationsRunOutAt(token: EndInput, policy: CapPolicy): string | null {
  const left = rotationsLeft(token, policy.rotationCap);
  if (left === null || token.accessExpiresAt === undefined) return null;
  const access = Date.parse(token.accessExpiresAt);
  const issued = token.accessIssuedAt ? Date.parse(token.accessIssuedAt) : null;
  const lead = sweepLeadMs(policy);
  const lifetime = issued === null ? ACCESS_LIFETIME_FALLBACK_SECONDS * 1000 : Math.max(0, access - issued);
  const next = Math.max(access - lead, issued ?? Number.NEGATIVE_INFINITY);
  return new Date(next + left * rotationIntervalMs(lifetime, lead)).toISOString();
}

const rotationIntervalMs = (lifetimeMs: number, leadMs: number) => Math.max(lifetimeMs - leadMs, DAY_MS);

/**
 * The authorization's effective end: its refresh token's end, or earlier, when the rotations left run out
 * first (ANAF_ROTATION_CAP). The warnings (30, 14, 7, 1 days) count down to it.
 */
export function authorizationEnd(token: EndInput, policy: CapPolicy = NO_CAP): { at: string; reason: EndReason } {
  const runOut = rotationsRunOutAt(token, policy);
  return runOut !== null && Date.parse(runOut) < Date.parse(token.refreshExpiresAt)
    ? { at: runOut, reason: 'ROTATION_CAP' }
    : { at: token.refreshExpiresAt, reason: 'REFRESH_TOKEN_ENDING' };
}

/** The warning (in days before the authorization's end) that is due now and not yet sent, if any. */
export function dueWarning(token: EndInput & Pick<TokenRecord, 'warningsSent'>, now: Date, policy: CapPolicy = NO_CAP): number | null {
  const left = Date.parse(authorizationEnd(token, policy).at) - now.getTime();
  const due = REFRESH_EXPIRY_WARNING_DAYS.filter((days) => left <= days * DAY_MS && !token.warningsSent.includes(days));
  // Several thresholds can be crossed at once (a token imported late): send only the tightest one.
  return due.length > 0 ? Math.min(...due) : null;
}

/** Whole days until the authorization's end (0 once it is past), for the `expiring` event. */
export function refreshDaysLeft(token: EndInput, now: Date, policy: CapPolicy = NO_CAP): number {
  return Math.max(0, Math.floor((Date.parse(authorizationEnd(token, policy).at) - now.getTime()) / DAY_MS));
}

/** Marks every threshold at or above `days` as sent, so a later run does not send the wider ones. */
export function warningsAfter(sent: number[], days: number): number[] {
  return [...new Set([...sent, ...REFRESH_EXPIRY_WARNING_DAYS.filter((d) => d >= days)])].sort((a, b) => b - a);
}

/**
 * When the sweep must next look at a token: the earliest of (access expiry − margin − a sweep period − the outage
 * allowance), the next warning
 * before the authorization's end (refresh token or rotation cap) and `retryAt` (after a failure). Null
 * for tokens that are not active.
 */
export function computeDueAt(
  token: Pick<TokenRecord, 'status' | 'accessExpiresAt' | 'refreshExpiresAt' | 'warningsSent'> & Partial<Pick<TokenRecord, 'accessIssuedAt' | 'rotationCount'>>,
  policy: CapPolicy,
  retryAt?: Date,
): string | null {
  if (token.status !== 'active') return null;
  const candidates = [Date.parse(token.accessExpiresAt) - sweepLeadMs(policy)];
  const end = Date.parse(authorizationEnd(token, policy).at);
  const pending = REFRESH_EXPIRY_WARNING_DAYS.filter((d) => !token.warningsSent.includes(d));
  if (pending.length > 0) candidates.push(end - Math.max(...pending) * DAY_MS);
  else candidates.push(end);
  if (retryAt) candidates.push(retryAt.getTime());
  return new Date(Math.min(...candidates)).toISOString();
}

/** Who asked for a refresh: the daily sweep, a person or console (manual), or the access-token route. */
export type RefreshTrigger = 'sweep' | 'manual' | 'on-demand';

export type RefreshDecision =
  | { action: 'refresh'; reason: 'access-expiring' | 'retry' | 'manual' | 'below-min-validity' | 'recovery-attempt' | 'refresh-window' }
  /** `saving-rotations`: the early rotation in the warning window could not carry access past the refresh token's end (ANAF_ROTATION_CAP). */
  | { action: 'skip'; reason: 'not-due' | 'cooldown' | 'fresh-enough' | 'saving-rotations' }
  /** The token rotated MAX_ROTATIONS_PER_DAY times in the last 24 h; `retryAt` is when a slot frees. */
  | { action: 'limit'; reason: 'rotations-per-day'; retryAt: string }
  | { action: 'reauth'; reason: 'refresh-token-expired' }
  | { action: 'refuse'; reason: 'reauth-required' | 'disconnected' };

export interface RefreshPolicy {
  refreshMarginDays: number;
  accessTokenMinValiditySeconds: number;
  manualRefreshCooldownSeconds: number;
  maxRotationsPerDay: number;
  /** Rotations ANAF is assumed to allow per authorization (ANAF_ROTATION_CAP); absent or null: no cap. */
  rotationCap?: number | null;
}

type DecisionInput = Pick<
  TokenRecord,
  'status' | 'accessExpiresAt' | 'refreshExpiresAt' | 'lastRefreshAt' | 'failedAttempts' | 'dueAt' | 'accessIssuedAt' | 'rotations' | 'recoveryAttemptedAt'
> &
  Partial<Pick<TokenRecord, 'rotationCount'>>;

/** The rotations that still count against MAX_ROTATIONS_PER_DAY at `now` (the last 24 hours). */
export function rotationsInWindow(rotations: readonly string[], now: Date): string[] {
  return rotations.filter((at) => Date.parse(at) > now.getTime() - DAY_MS);
}

/**
 * The access token's minimum validity for the access-token route: the setting, but never more than half
 * the token's own lifetime (with 1-hour tokens and a 1-hour minimum every call would be a rotation).
 */
export function minValidityMs(token: Pick<TokenRecord, 'accessExpiresAt' | 'accessIssuedAt'>, settingSeconds: number): number {
  const setting = settingSeconds * 1000;
  if (!token.accessIssuedAt) return setting;
  const lifetime = Date.parse(token.accessExpiresAt) - Date.parse(token.accessIssuedAt);
  return lifetime > 0 ? Math.min(setting, lifetime / 2) : setting;
}

/**
 * Should this token be refreshed now, and why. Pure: the same token, trigger and clock always decide
 * the same. Manual refresh is the sweep minus the "not due yet" check (plus a cool-down). Whatever the
 * trigger, a token rotates at most `maxRotationsPerDay` times in 24 hours (Secrets Manager keeps every
 * version younger than a day, and past its version quota every write of a rotated pair would fail).
 * A manual refresh of a reauth-required token whose refresh token has not reached its `exp` tries ANAF
 * once more (a wrong verdict can be undone); a refused try is tried again only after the manual cool-down.
 */
export function decideRefresh(token: DecisionInput, trigger: RefreshTrigger, now: Date, policy: RefreshPolicy): RefreshDecision {
  if (token.status === 'disconnected') return { action: 'refuse', reason: 'disconnected' };
  const t = now.getTime();
  const refreshEnded = Date.parse(token.refreshExpiresAt) <= t;
  if (token.status === 'reauth-required') {
    if (trigger !== 'manual' || refreshEnded) return { action: 'refuse', reason: 'reauth-required' };
    const tried = token.recoveryAttemptedAt ? t - Date.parse(token.recoveryAttemptedAt) : Number.POSITIVE_INFINITY;
    if (tried < Math.max(policy.manualRefreshCooldownSeconds * 1000, 1000)) return { action: 'refuse', reason: 'reauth-required' };
    return limited(token, now, policy) ?? { action: 'refresh', reason: 'recovery-attempt' };
  }
  if (refreshEnded) return { action: 'reauth', reason: 'refresh-token-expired' };
  const accessLeftMs = Date.parse(token.accessExpiresAt) - t;
  let decision: RefreshDecision;
  switch (trigger) {
    case 'manual': {
      const cooldownMs = policy.manualRefreshCooldownSeconds * 1000;
      decision =
        cooldownMs > 0 && token.lastRefreshAt && t - Date.parse(token.lastRefreshAt) < cooldownMs
          ? { action: 'skip', reason: 'cooldown' }
          : { action: 'refresh', reason: 'manual' };
      break;
    }
    case 'on-demand':
      decision =
        accessLeftMs < minValidityMs(token, policy.accessTokenMinValiditySeconds)
          ? { action: 'refresh', reason: 'below-min-validity' }
          : { action: 'skip', reason: 'fresh-enough' };
      break;
    case 'sweep':
      if (accessLeftMs <= sweepLeadMs(policy)) decision = { action: 'refresh', reason: 'access-expiring' };
      else if (enteredWarningWindowUnrotated(token, t)) {
        decision = earlyRotationPays(token, t, policy) ? { action: 'refresh', reason: 'refresh-window' } : { action: 'skip', reason: 'saving-rotations' };
      }
      else if (token.failedAttempts > 0 && token.dueAt && Date.parse(token.dueAt) <= t) decision = { action: 'refresh', reason: 'retry' };
      else decision = { action: 'skip', reason: 'not-due' };
      break;
  }
  return decision.action === 'refresh' ? (limited(token, now, policy) ?? decision) : decision;
}

/**
 * The refresh token's end is within the widest warning and the pair predates that window: if ANAF renews
 * the 365 days on rotation (unconfirmed), one rotation moves the end and no warning is needed; if it
 * does not, the warning goes out after it (the sweep warns on the record the rotation left). Once per
 * window: a pair issued inside it is only warned about.
 */
function enteredWarningWindowUnrotated(token: Pick<TokenRecord, 'refreshExpiresAt' | 'lastRefreshAt' | 'accessIssuedAt'>, t: number): boolean {
  const windowStart = Date.parse(token.refreshExpiresAt) - Math.max(...REFRESH_EXPIRY_WARNING_DAYS) * DAY_MS;
  if (t < windowStart) return false;
  const issued = token.lastRefreshAt ?? token.accessIssuedAt;
  return issued === null || Date.parse(issued) < windowStart;
}

/**
 * Under a cap, the early rotation in the warning window is spent only when the rotations left after it
 * would carry access past the refresh token's current end: then, if ANAF renews the window, it gains
 * time, and if not, the end stays the refresh token's. Otherwise (none left, or too few) it could only
 * bring the end closer, and the warnings count down to the end as it is.
 */
function earlyRotationPays(token: DecisionInput, t: number, policy: RefreshPolicy): boolean {
  const left = rotationsLeft(token, policy.rotationCap);
  if (left === null) return true;
  if (left === 0) return false;
  const lifetime = token.accessIssuedAt ? Date.parse(token.accessExpiresAt) - Date.parse(token.accessIssuedAt) : ACCESS_LIFETIME_FALLBACK_SECONDS * 1000;
  // The pair the rotation would bring: issued now, with the same lifetime, one rotation fewer left.
  const after = rotationsRunOutAt(
    { refreshExpiresAt: token.refreshExpiresAt, accessExpiresAt: new Date(t + lifetime).toISOString(), accessIssuedAt: new Date(t).toISOString(), rotationCount: (token.rotationCount ?? 0) + 1 },
    { refreshMarginDays: policy.refreshMarginDays, rotationCap: policy.rotationCap ?? null },
  );
  return after !== null && Date.parse(after) > Date.parse(token.refreshExpiresAt);
}

function limited(token: Pick<TokenRecord, 'rotations'>, now: Date, policy: RefreshPolicy): RefreshDecision | null {
  const recent = rotationsInWindow(token.rotations, now);
  if (recent.length < policy.maxRotationsPerDay) return null;
  // The slot that frees first is the one of the oldest rotation that still counts.
  const oldest = recent.map((at) => Date.parse(at)).sort((a, b) => a - b)[recent.length - policy.maxRotationsPerDay]!;
  return { action: 'limit', reason: 'rotations-per-day', retryAt: new Date(oldest + DAY_MS).toISOString() };
}

/** Wait before the sweep retries a token after a failure: 1 h, 2 h, 4 h … at most a day. */
export function retryDelayMs(failedAttempts: number): number {
  return Math.min(3_600_000 * 2 ** Math.max(0, failedAttempts - 1), DAY_MS);
}
