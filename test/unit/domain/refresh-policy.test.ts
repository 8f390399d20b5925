import { describe, expect, it } from 'vitest';
import {
  ANAF_OUTAGE_ALLOWANCE_DAYS,
  FAILED_RUNS_WARNING_THRESHOLD,
  REFRESH_EXPIRY_WARNING_DAYS,
  computeDueAt,
  decideRefresh,
  dueWarning,
  refreshDaysLeft,
  retryDelayMs,
  warningsAfter,
  type RefreshDecision,
  type RefreshPolicy,
  type RefreshTrigger,
} from '../../../shared/domain/refresh-policy.js';

import { DAY, HOUR, NOW, POLICY, SECOND, at, token, type PolicyToken as DecisionInput } from '../../support/refresh-policy-fixtures.js';

const rotations = (n: number, firstAgoMs: number, stepMs = HOUR / 2) => Array.from({ length: n }, (_, i) => at(-firstAgoMs + i * stepMs));

describe('decideRefresh (fixed clock)', () => {
  type Case = [string, RefreshTrigger, Partial<DecisionInput>, RefreshDecision, Partial<RefreshPolicy>?];
  const cases: Case[] = [
    // sweep: the margin decides, with the outage allowance (10 days) before it
    ['sweep, access 60 days left: not due', 'sweep', {}, { action: 'skip', reason: 'not-due' }],
    ['sweep, access 42 days left: not due', 'sweep', { accessExpiresAt: at(42 * DAY) }, { action: 'skip', reason: 'not-due' }],
    // the margin is a floor between daily sweeps, even after a 10-day outage: refreshed by the last sweep
    // before the access token would have less than the margin plus the allowance left
    ['sweep, access 41 days left (the margin + the allowance + a sweep period): due', 'sweep', { accessExpiresAt: at(41 * DAY) }, { action: 'refresh', reason: 'access-expiring' }],
    ['sweep, access 40 days left (the margin + the allowance): due', 'sweep', { accessExpiresAt: at(40 * DAY) }, { action: 'refresh', reason: 'access-expiring' }],
    ['sweep, access 31 days left: due', 'sweep', { accessExpiresAt: at(31 * DAY) }, { action: 'refresh', reason: 'access-expiring' }],
    ['sweep, access exactly at the margin: due', 'sweep', { accessExpiresAt: at(30 * DAY) }, { action: 'refresh', reason: 'access-expiring' }],
    ['sweep, access 29 days left: due', 'sweep', { accessExpiresAt: at(29 * DAY) }, { action: 'refresh', reason: 'access-expiring' }],
    ['sweep, access already expired: due', 'sweep', { accessExpiresAt: at(-DAY) }, { action: 'refresh', reason: 'access-expiring' }],
    ['sweep, margin from the policy (7 + 10 + 1 = 18 days)', 'sweep', { accessExpiresAt: at(19 * DAY) }, { action: 'skip', reason: 'not-due' }, { refreshMarginDays: 7 }],
    ['sweep, margin from the policy, 18 days left: due', 'sweep', { accessExpiresAt: at(18 * DAY) }, { action: 'refresh', reason: 'access-expiring' }, { refreshMarginDays: 7 }],
    ['sweep, failed before and retry time reached', 'sweep', { failedAttempts: 2, dueAt: at(-SECOND) }, { action: 'refresh', reason: 'retry' }],
    ['sweep, failed before, retry time not reached', 'sweep', { failedAttempts: 2, dueAt: at(HOUR) }, { action: 'skip', reason: 'not-due' }],
    // inside the refresh token's warning window: one rotation, in case ANAF renews the window on rotation
    ['sweep, refresh token ends in 20 days, pair from before the window: one rotation', 'sweep', { refreshExpiresAt: at(20 * DAY), dueAt: at(-DAY) }, { action: 'refresh', reason: 'refresh-window' }],
    ['sweep, refresh token ends in exactly 30 days, pair from before: one rotation', 'sweep', { refreshExpiresAt: at(30 * DAY) }, { action: 'refresh', reason: 'refresh-window' }],
    ['sweep, refresh token ends in 31 days: not yet', 'sweep', { refreshExpiresAt: at(31 * DAY) }, { action: 'skip', reason: 'not-due' }],
    ['sweep, refresh token ends in 20 days, rotated inside the window already: warn only', 'sweep', { refreshExpiresAt: at(20 * DAY), lastRefreshAt: at(-5 * DAY), accessIssuedAt: at(-5 * DAY), dueAt: at(-DAY) }, { action: 'skip', reason: 'not-due' }],
    ['sweep, refresh token ends in 20 days, never refreshed, issued inside the window: warn only', 'sweep', { refreshExpiresAt: at(20 * DAY), lastRefreshAt: null, accessIssuedAt: at(-2 * DAY) }, { action: 'skip', reason: 'not-due' }],
    ['sweep, refresh token ends in 20 days, never refreshed, issued before the window: one rotation', 'sweep', { refreshExpiresAt: at(20 * DAY), lastRefreshAt: null, accessIssuedAt: at(-40 * DAY) }, { action: 'refresh', reason: 'refresh-window' }],
    ['sweep, refresh token ends in 20 days, nothing known of its issue: one rotation', 'sweep', { refreshExpiresAt: at(20 * DAY), lastRefreshAt: null, accessIssuedAt: null }, { action: 'refresh', reason: 'refresh-window' }],
    ['manual and on-demand are not moved by the window', 'on-demand', { refreshExpiresAt: at(20 * DAY) }, { action: 'skip', reason: 'fresh-enough' }],
    // manual: the sweep minus "not due", plus the cool-down
    ['manual, not due: refreshes anyway', 'manual', {}, { action: 'refresh', reason: 'manual' }],
    ['manual, never refreshed', 'manual', { lastRefreshAt: null }, { action: 'refresh', reason: 'manual' }],
    ['manual, 59 s after the last success: cool-down', 'manual', { lastRefreshAt: at(-59 * SECOND) }, { action: 'skip', reason: 'cooldown' }],
    ['manual, 60 s after the last success: refreshes', 'manual', { lastRefreshAt: at(-60 * SECOND) }, { action: 'refresh', reason: 'manual' }],
    ['manual, cool-down 0 turns it off', 'manual', { lastRefreshAt: at(-SECOND) }, { action: 'refresh', reason: 'manual' }, { manualRefreshCooldownSeconds: 0 }],
    // on demand: the minimum validity decides
    ['on-demand, plenty left', 'on-demand', {}, { action: 'skip', reason: 'fresh-enough' }],
    ['on-demand, exactly the minimum left: fresh enough', 'on-demand', { accessExpiresAt: at(3600 * SECOND) }, { action: 'skip', reason: 'fresh-enough' }],
    ['on-demand, just under the minimum', 'on-demand', { accessExpiresAt: at(3599 * SECOND) }, { action: 'refresh', reason: 'below-min-validity' }],
    ['on-demand, expired access token', 'on-demand', { accessExpiresAt: at(-HOUR) }, { action: 'refresh', reason: 'below-min-validity' }],
    ['on-demand, minimum from the policy', 'on-demand', { accessIssuedAt: at(-60 * DAY), accessExpiresAt: at(50 * DAY) }, { action: 'refresh', reason: 'below-min-validity' }, { accessTokenMinValiditySeconds: 51 * 86_400 }],
    ['on-demand, a minimum over half the lifetime is capped at half', 'on-demand', {}, { action: 'skip', reason: 'fresh-enough' }, { accessTokenMinValiditySeconds: 61 * 86_400 }],
    // the minimum validity never exceeds half the token's own lifetime (1-hour tokens, 1-hour minimum)
    ['on-demand, 1-hour token with 40 min left: fresh enough (half its life is 30 min)', 'on-demand', { accessIssuedAt: at(-20 * 60 * SECOND), accessExpiresAt: at(40 * 60 * SECOND) }, { action: 'skip', reason: 'fresh-enough' }],
    ['on-demand, 1-hour token with 29 min left: refresh', 'on-demand', { accessIssuedAt: at(-31 * 60 * SECOND), accessExpiresAt: at(29 * 60 * SECOND) }, { action: 'refresh', reason: 'below-min-validity' }],
    ['on-demand, issue time unknown: the setting', 'on-demand', { accessIssuedAt: null, accessExpiresAt: at(40 * 60 * SECOND) }, { action: 'refresh', reason: 'below-min-validity' }],
    ['on-demand, already-expired token issued expired: refresh', 'on-demand', { accessIssuedAt: at(0), accessExpiresAt: at(-SECOND) }, { action: 'refresh', reason: 'below-min-validity' }],
    // at most maxRotationsPerDay rotations in 24 hours, whatever the trigger
    ['manual, 24 rotations in the last day: limited until the oldest leaves the window', 'manual', { rotations: rotations(24, 23 * HOUR), lastRefreshAt: at(-HOUR) }, { action: 'limit', reason: 'rotations-per-day', retryAt: at(HOUR) }],
    ['manual, 24 rotations, the oldest 25 h ago: refreshes', 'manual', { rotations: rotations(24, 25 * HOUR, HOUR / 10), lastRefreshAt: at(-HOUR) }, { action: 'refresh', reason: 'manual' }],
    ['sweep, due but limited', 'sweep', { accessExpiresAt: at(DAY), rotations: rotations(3, 2 * HOUR) }, { action: 'limit', reason: 'rotations-per-day', retryAt: at(22 * HOUR) }, { maxRotationsPerDay: 3 }],
    ['on-demand, below minimum but limited', 'on-demand', { accessExpiresAt: at(SECOND), rotations: rotations(2, 2 * HOUR) }, { action: 'limit', reason: 'rotations-per-day', retryAt: at(22.5 * HOUR) }, { maxRotationsPerDay: 1 }],
    ['on-demand, fresh enough is not limited', 'on-demand', { rotations: rotations(24, 23 * HOUR) }, { action: 'skip', reason: 'fresh-enough' }],
    // a wrong verdict can be undone: a manual refresh of a reauth-required token tries ANAF once more
    ['manual, reauth-required, refresh token not past exp: recovery attempt', 'manual', { status: 'reauth-required' }, { action: 'refresh', reason: 'recovery-attempt' }],
    ['manual, reauth-required, refresh token past exp: refused', 'manual', { status: 'reauth-required', refreshExpiresAt: at(-SECOND) }, { action: 'refuse', reason: 'reauth-required' }],
    ['manual, reauth-required, a refused try 59 s ago: refused (cool-down)', 'manual', { status: 'reauth-required', recoveryAttemptedAt: at(-59 * SECOND) }, { action: 'refuse', reason: 'reauth-required' }],
    ['manual, reauth-required, a refused try 60 s ago: tries again', 'manual', { status: 'reauth-required', recoveryAttemptedAt: at(-60 * SECOND) }, { action: 'refresh', reason: 'recovery-attempt' }],
    ['manual, reauth-required but limited', 'manual', { status: 'reauth-required', rotations: rotations(1, HOUR) }, { action: 'limit', reason: 'rotations-per-day', retryAt: at(23 * HOUR) }, { maxRotationsPerDay: 1 }],
    // reauth and refusals, for every trigger
    ...(['sweep', 'manual', 'on-demand'] as const).flatMap((trigger): Case[] => [
      [`${trigger}, refresh token expired`, trigger, { refreshExpiresAt: at(-SECOND) }, { action: 'reauth', reason: 'refresh-token-expired' }],
      [`${trigger}, refresh token ends right now`, trigger, { refreshExpiresAt: at(0) }, { action: 'reauth', reason: 'refresh-token-expired' }],
      ...(trigger === 'manual' ? [] : [[`${trigger}, reauth-required`, trigger, { status: 'reauth-required' }, { action: 'refuse', reason: 'reauth-required' }] as Case]),
      [`${trigger}, disconnected`, trigger, { status: 'disconnected' }, { action: 'refuse', reason: 'disconnected' }],
      [`${trigger}, disconnected wins over an expired refresh token`, trigger, { status: 'disconnected', refreshExpiresAt: at(-DAY) }, { action: 'refuse', reason: 'disconnected' }],
    ]),
  ];

  it.each(cases)('%s', (_name, trigger, over, expected, policy) => {
    expect(decideRefresh(token(over), trigger, NOW, { ...POLICY, ...policy })).toEqual(expected);
  });

  it('is pure: the same input decides the same, and the input is not modified', () => {
    const input = token({ accessExpiresAt: at(DAY) });
    const copy = structuredClone(input);
    const first = decideRefresh(input, 'sweep', NOW, POLICY);
    expect(decideRefresh(input, 'sweep', NOW, POLICY)).toEqual(first);
    expect(input).toEqual(copy);
  });
});

describe('dueWarning / warningsAfter: 30, 14, 7 and 1 days before the refresh token ends, each once', () => {
  const cases: Array<[string, number, number[], number | null]> = [
    ['31 days left', 31 * DAY, [], null],
    ['exactly 30 days left', 30 * DAY, [], 30],
    ['20 days left, nothing sent', 20 * DAY, [], 30],
    ['20 days left, 30 sent', 20 * DAY, [30], null],
    ['14 days left, 30 sent', 14 * DAY, [30], 14],
    ['10 days left, 30 and 14 sent', 10 * DAY, [30, 14], null],
    ['7 days left, 30 and 14 sent', 7 * DAY, [30, 14], 7],
    ['1 day left, 30/14/7 sent', DAY, [30, 14, 7], 1],
    ['2 hours left, all sent', 2 * HOUR, [30, 14, 7, 1], null],
    ['5 days left, nothing sent (imported late): only the tightest', 5 * DAY, [], 7],
    ['12 hours left, nothing sent: only the tightest', 12 * HOUR, [], 1],
    ['already ended, nothing sent', -HOUR, [], 1],
  ];
  it.each(cases)('%s', (_name, left, sent, expected) => {
    expect(dueWarning({ refreshExpiresAt: at(left), warningsSent: sent }, NOW)).toBe(expected);
  });

  it.each([
    [[], 30, [30]],
    [[30], 14, [30, 14]],
    [[], 7, [30, 14, 7]],
    [[30, 14], 1, [30, 14, 7, 1]],
    [[30, 14, 7, 1], 7, [30, 14, 7, 1]],
  ])('warningsAfter(%j, %i) = %j (wider thresholds are never sent later)', (sent, days, expected) => {
    expect(warningsAfter(sent, days)).toEqual(expected);
  });

  it('walking day by day sends each warning exactly once, in order', () => {
    const end = NOW.getTime() + 40 * DAY;
    let sent: number[] = [];
    const fired: number[] = [];
    for (let t = NOW.getTime(); t <= end; t += HOUR) {
      const days = dueWarning({ refreshExpiresAt: new Date(end).toISOString(), warningsSent: sent }, new Date(t));
      if (days !== null) {
        fired.push(days);
        sent = warningsAfter(sent, days);
      }
    }
    expect(fired).toEqual([...REFRESH_EXPIRY_WARNING_DAYS]);
  });

  it('warns after 3 consecutive failed runs', () => {
    expect(FAILED_RUNS_WARNING_THRESHOLD).toBe(3);
  });
});

describe('refreshDaysLeft: the whole days the expiring event reports', () => {
  it.each([
    [30 * DAY, 30],
    [23 * DAY + 3 * HOUR, 23],
    [DAY - SECOND, 0],
    [12 * HOUR, 0],
    [-HOUR, 0],
  ])('%i ms left → %i days', (left, days) => {
    expect(refreshDaysLeft({ refreshExpiresAt: at(left) }, NOW)).toBe(days);
  });
});

describe('computeDueAt: the next time the sweep must look at a token', () => {
  type DueInput = Parameters<typeof computeDueAt>[0];
  const due = (over: Partial<DueInput>, retryAt?: Date) =>
    computeDueAt({ status: 'active', accessExpiresAt: at(90 * DAY), refreshExpiresAt: at(365 * DAY), warningsSent: [], ...over }, { refreshMarginDays: 30 }, retryAt);

  it.each<[string, Partial<DueInput>, Date | undefined, string | null]>([
    ['fresh pair: access expiry minus the margin, the outage allowance and a sweep period', {}, undefined, at(49 * DAY)],
    ['refresh token ending first: its next warning', { refreshExpiresAt: at(40 * DAY) }, undefined, at(10 * DAY)],
    ['30 sent: the 14-day warning', { refreshExpiresAt: at(20 * DAY), warningsSent: [30] }, undefined, at(6 * DAY)],
    ['all warnings sent: the refresh token end', { accessExpiresAt: at(300 * DAY), refreshExpiresAt: at(12 * HOUR), warningsSent: [30, 14, 7, 1] }, undefined, at(12 * HOUR)],
    ['a retry earlier than everything else', {}, new Date(NOW.getTime() + HOUR), at(HOUR)],
    ['a retry later than the access due time', { accessExpiresAt: at(41 * DAY + 30 * 60_000) }, new Date(NOW.getTime() + HOUR), at(30 * 60_000)],
    ['reauth-required: never', { status: 'reauth-required' }, undefined, null],
    ['disconnected: never', { status: 'disconnected' }, new Date(NOW.getTime() + HOUR), null],
  ])('%s', (_name, over, retryAt, expected) => {
    expect(due(over, retryAt)).toBe(expected);
  });

  it('at the due time the sweep decides to act (no token is picked and then skipped forever)', () => {
    const samples: DueInput[] = [
      { status: 'active', accessExpiresAt: at(45 * DAY), refreshExpiresAt: at(365 * DAY), warningsSent: [] },
      { status: 'active', accessExpiresAt: at(90 * DAY), refreshExpiresAt: at(25 * DAY), warningsSent: [30] },
      { status: 'active', accessExpiresAt: at(90 * DAY), refreshExpiresAt: at(3 * DAY), warningsSent: [30, 14, 7] },
    ];
    for (const sample of samples) {
      const dueAt = computeDueAt(sample, { refreshMarginDays: 30 })!;
      const when = new Date(dueAt);
      const record = { ...sample, lastRefreshAt: null, failedAttempts: 0, dueAt, accessIssuedAt: null, rotations: [], recoveryAttemptedAt: null };
      const refresh = decideRefresh(record, 'sweep', when, POLICY).action === 'refresh';
      const warn = dueWarning(sample, when) !== null;
      expect(refresh || warn, JSON.stringify(sample)).toBe(true);
    }
  });
});

describe('retryDelayMs: 1 h, 2 h, 4 h … at most a day', () => {
  it.each([
    [0, HOUR],
    [1, HOUR],
    [2, 2 * HOUR],
    [3, 4 * HOUR],
    [5, 16 * HOUR],
    [6, DAY],
    [40, DAY],
  ])('after %i failures: %i ms', (failures, expected) => {
    expect(retryDelayMs(failures)).toBe(expected);
  });
});

describe('REFRESH_MARGIN_DAYS is a floor for the daily sweep', () => {
  // A pair issued at any hour, swept once a day at the same hour: the sweep that refreshes it is the last
  // one before its access token would have less than the margin (and the outage allowance) left. A refusal
  // there (a renewed certificate) is therefore warned about at least the margin before access is lost.
  it.each([0, 1, 5, 11, 17, 23.5])('a pair issued %s h after a sweep: refreshed with ≥ 30 + 10 days of access left', (offsetHours) => {
    const issued = NOW.getTime() + offsetHours * HOUR;
    const pair = token({ accessIssuedAt: new Date(issued).toISOString(), lastRefreshAt: new Date(issued).toISOString(), accessExpiresAt: new Date(issued + 90 * DAY).toISOString() });
    let sweptAt = NOW.getTime() + DAY;
    while (decideRefresh(pair, 'sweep', new Date(sweptAt), POLICY).action !== 'refresh') sweptAt += DAY;
    const left = issued + 90 * DAY - sweptAt;
    expect(left).toBeGreaterThanOrEqual((POLICY.refreshMarginDays + ANAF_OUTAGE_ALLOWANCE_DAYS) * DAY);
    expect(left).toBeLessThanOrEqual((POLICY.refreshMarginDays + ANAF_OUTAGE_ALLOWANCE_DAYS) * DAY + DAY);
    // and the due index names that same sweep (the due time is not later than it)
    expect(Date.parse(computeDueAt({ ...pair, warningsSent: [] }, POLICY)!)).toBeLessThanOrEqual(sweptAt);
  });
});

describe('ANAF_OUTAGE_ALLOWANCE_DAYS: the lead holds through a 10-day outage of ANAF\'s token endpoint', () => {
  // The simulation's default scenario: one 10-day outage. Placed at the worst moment (from the due sweep
  // on), every sweep inside it fails and the refusal (a renewed certificate) is learnt by the first
  // sweep after it: that must still be at least the margin before the access token ends.
  const OUTAGE_DAYS = 10;
  it.each([0, 1, 5, 11, 17, 23.5])('a pair issued %s h after a sweep: refused after the worst-placed outage, ≥ 30 days of access left', (offsetHours) => {
    const issued = NOW.getTime() + offsetHours * HOUR;
    const accessEnd = issued + 90 * DAY;
    const pair = token({ accessIssuedAt: new Date(issued).toISOString(), lastRefreshAt: new Date(issued).toISOString(), accessExpiresAt: new Date(accessEnd).toISOString() });
    const sweeps = Array.from({ length: 90 }, (_, i) => NOW.getTime() + (i + 1) * DAY);
    const due = sweeps.find((t) => decideRefresh(pair, 'sweep', new Date(t), POLICY).action === 'refresh')!;
    expect(Date.parse(computeDueAt({ ...pair, warningsSent: [] }, POLICY)!)).toBeLessThanOrEqual(due);
    // every placement of the outage, hour by hour, from one that ends at the due sweep to one that starts after it
    let worst = Number.POSITIVE_INFINITY;
    for (let start = due - OUTAGE_DAYS * DAY; start <= due + DAY; start += HOUR) {
      const down = (t: number) => t >= start && t < start + OUTAGE_DAYS * DAY;
      // a failed run leaves the token due (failedAttempts > 0, retry): the sweep tries it at every run until one reaches ANAF
      const failed = { ...pair, failedAttempts: 1, dueAt: new Date(due).toISOString() };
      const learnt = sweeps.find((t) => t >= due && !down(t) && decideRefresh(t > due ? failed : pair, 'sweep', new Date(t), POLICY).action === 'refresh')!;
      worst = Math.min(worst, accessEnd - learnt);
    }
    expect(worst).toBeGreaterThanOrEqual(POLICY.refreshMarginDays * DAY);
    // and not more than a sweep period beyond it: the allowance buys this outage, not more
    expect(worst).toBeLessThanOrEqual(POLICY.refreshMarginDays * DAY + DAY);
  });
});
