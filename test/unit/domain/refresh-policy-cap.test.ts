import { describe, expect, it } from 'vitest';
import {
  REFRESH_EXPIRY_WARNING_DAYS,
  authorizationEnd,
  computeDueAt,
  decideRefresh,
  dueWarning,
  refreshDaysLeft,
  rotationsLeft,
  rotationsRunOutAt,
  warningsAfter,
  type RefreshDecision,
  type RefreshPolicy,
} from '../../../shared/domain/refresh-policy.js';

import { DAY, HOUR, MINUTE, NOW, POLICY, at, token, type PolicyToken as Token } from '../../support/refresh-policy-fixtures.js';

/** ANAF_ROTATION_CAP: rotations counted per authorization, the end they project, and what the policy spends. */
const cap = (rotationCap: number | null) => ({ refreshMarginDays: 30, rotationCap });

describe('rotationsLeft / rotationsRunOutAt: when the rotations the cap allows run out', () => {
  it.each<[string, number | null, Partial<Token>, number | null, string | null]>([
    ['no cap: nothing runs out', null, { rotationCount: 500 }, null, null],
    // next rotation due at access expiry − margin − outage allowance − a sweep period (60 − 41: +19 d), then one every 90 − 41 = 49 days
    ['cap 64, none spent', 64, {}, 64, at(19 * DAY + 64 * 49 * DAY)],
    ['cap 8, 6 spent', 8, { rotationCount: 6 }, 2, at(19 * DAY + 2 * 49 * DAY)],
    ['cap 8, all spent: the next due rotation is the one refused', 8, { rotationCount: 8 }, 0, at(19 * DAY)],
    ['cap 8, more spent than the cap (a cap set lower than ANAF\'s): none left', 8, { rotationCount: 11 }, 0, at(19 * DAY)],
    ['an older item without a count reads as 0 rotations', 8, { rotationCount: undefined }, 8, at(19 * DAY + 8 * 49 * DAY)],
    ['issue time unknown: ANAF\'s 90-day lifetime', 2, { accessIssuedAt: null }, 2, at(19 * DAY + 2 * 49 * DAY)],
    ['a shorter lifetime: rotations closer together (50 − 41 = 9 days)', 3, { accessIssuedAt: at(-10 * DAY), accessExpiresAt: at(40 * DAY) }, 3, at(-1 * DAY + 3 * 9 * DAY)],
    ['a lifetime under the lead: due at its issue, then one per daily sweep', 3, { accessIssuedAt: at(-10 * DAY), accessExpiresAt: at(30 * DAY) }, 3, at(-10 * DAY + 3 * DAY)],
    ['1-hour tokens: due at once, then one per daily sweep', 5, { accessIssuedAt: at(-20 * MINUTE), accessExpiresAt: at(40 * MINUTE) }, 5, at(-20 * MINUTE + 5 * DAY)],
  ])('%s', (_name, rotationCap, over, left, runOut) => {
    expect(rotationsLeft(token(over), rotationCap)).toBe(left);
    expect(rotationsRunOutAt(token(over), cap(rotationCap))).toBe(runOut);
  });
});

describe('authorizationEnd: the refresh token\'s end, or the rotation cap\'s when it comes first', () => {
  it.each<[string, number | null, Partial<Token>, { at: string; reason: string }]>([
    ['no cap', null, { rotationCount: 64 }, { at: at(300 * DAY), reason: 'REFRESH_TOKEN_ENDING' }],
    ['cap 64, few spent: the refresh token ends first', 64, { rotationCount: 3 }, { at: at(300 * DAY), reason: 'REFRESH_TOKEN_ENDING' }],
    ['cap 8, 5 spent: 19 + 3 × 49 = 166 days, before the refresh token', 8, { rotationCount: 5 }, { at: at(166 * DAY), reason: 'ROTATION_CAP' }],
    ['cap 8, all spent', 8, { rotationCount: 8 }, { at: at(19 * DAY), reason: 'ROTATION_CAP' }],
    ['cap 8, all spent, the refresh token ends even sooner', 8, { rotationCount: 8, refreshExpiresAt: at(10 * DAY) }, { at: at(10 * DAY), reason: 'REFRESH_TOKEN_ENDING' }],
  ])('%s', (_name, rotationCap, over, expected) => {
    expect(authorizationEnd(token(over), cap(rotationCap))).toEqual(expected);
  });

  it('without a policy it is the refresh token\'s end (callers that know no cap)', () => {
    expect(authorizationEnd(token({ rotationCount: 99 }))).toEqual({ at: at(300 * DAY), reason: 'REFRESH_TOKEN_ENDING' });
  });
});

describe('dueWarning / refreshDaysLeft / computeDueAt count down to the rotation cap\'s end', () => {
  // cap 2, both spent: the rotations run out at the access token's due time (its end − 41 days)
  const spent = (over: Partial<Token> = {}) => token({ rotationCount: 2, ...over });
  it.each<[string, Partial<Token>, number | null, number | null]>([
    ['one rotation left: 68 days away, nothing due', { rotationCount: 1 }, null, null],
    ['none left, 30 days to go: the 30-day warning', { accessExpiresAt: at(71 * DAY) }, 30, 30],
    ['none left, 30 sent, 14 days to go: the 14-day warning', { accessExpiresAt: at(55 * DAY), warningsSent: [30] }, 14, 14],
    ['none left, 30 and 14 sent, 10 days to go: nothing', { accessExpiresAt: at(51 * DAY), warningsSent: [30, 14] }, null, 10],
  ])('%s', (_name, over, warning, daysLeft) => {
    const t = spent(over);
    expect(dueWarning(t, NOW, cap(2))).toBe(warning);
    if (daysLeft !== null) expect(refreshDaysLeft(t, NOW, cap(2))).toBe(daysLeft);
    // without the cap the same token warns of nothing (its refresh token ends in 300 days)
    expect(dueWarning(t, NOW, cap(null))).toBeNull();
  });

  it('the sweep looks at the token at its next warning before the cap\'s end, then at the end itself', () => {
    // none left, the access token due in 50 days: the cap's end in 50 days, its 30-day warning in 20
    expect(computeDueAt(spent({ accessExpiresAt: at(91 * DAY) }), cap(2))).toBe(at(20 * DAY));
    expect(computeDueAt(spent({ accessExpiresAt: at(91 * DAY), warningsSent: [30, 14, 7, 1] }), cap(2))).toBe(at(50 * DAY));
    expect(computeDueAt(spent({ accessExpiresAt: at(91 * DAY) }), cap(null))).toBe(at(50 * DAY));
  });

  it('at the due time the sweep acts (refreshes or warns): no capped token is picked and then skipped forever', () => {
    const samples: Array<[Partial<Token>, number]> = [
      [{ rotationCount: 2 }, 2],
      [{ rotationCount: 2, warningsSent: [30, 14, 7, 1] }, 2],
      [{ rotationCount: 7, refreshExpiresAt: at(100 * DAY) }, 8],
      [{ rotationCount: 8, refreshExpiresAt: at(40 * DAY), accessExpiresAt: at(200 * DAY), accessIssuedAt: at(-10 * DAY) }, 8],
      [{ rotationCount: 0, accessIssuedAt: at(-20 * MINUTE), accessExpiresAt: at(40 * MINUTE) }, 3],
    ];
    for (const [over, rotationCap] of samples) {
      const sample = token(over);
      const dueAt = computeDueAt(sample, cap(rotationCap))!;
      const when = new Date(dueAt);
      const refresh = decideRefresh({ ...sample, dueAt }, 'sweep', when, { ...POLICY, rotationCap }).action === 'refresh';
      const warn = dueWarning(sample, when, cap(rotationCap)) !== null;
      expect(refresh || warn, JSON.stringify(over)).toBe(true);
    }
  });

  it('walking day by day toward the cap\'s end sends each warning once, the first 30 days ahead', () => {
    const t = spent({ accessExpiresAt: at(100 * DAY) });
    const end = Date.parse(authorizationEnd(t, cap(2)).at);
    let sent: number[] = [];
    const fired: Array<[number, number]> = [];
    for (let now = NOW.getTime(); now <= end; now += DAY) {
      const days = dueWarning({ ...t, warningsSent: sent }, new Date(now), cap(2));
      if (days === null) continue;
      fired.push([days, (end - now) / DAY]);
      sent = warningsAfter(sent, days);
    }
    expect(fired.map(([days]) => days)).toEqual([...REFRESH_EXPIRY_WARNING_DAYS]);
    expect(fired[0]![1]).toBeGreaterThanOrEqual(30);
  });
});

describe('decideRefresh under a cap: the early rotation in the warning window only when it can pay', () => {
  // the refresh token ends in 20 days, the pair is from before the window (the suspect-1 rotation)
  const inWindow = (over: Partial<Token> = {}) => token({ refreshExpiresAt: at(20 * DAY), dueAt: at(-DAY), ...over });
  type Case = [string, RefreshPolicy['rotationCap'], Partial<Token>, 'sweep' | 'on-demand' | 'manual', RefreshDecision];
  const cases: Case[] = [
    ['no cap: one rotation', null, {}, 'sweep', { action: 'refresh', reason: 'refresh-window' }],
    ['cap 64, 3 spent: one rotation', 64, { rotationCount: 3 }, 'sweep', { action: 'refresh', reason: 'refresh-window' }],
    // after it, the last access token lasts past the refresh token's end: a renewed window gains, a fixed one loses nothing
    ['cap 8, one left: one rotation', 8, { rotationCount: 7 }, 'sweep', { action: 'refresh', reason: 'refresh-window' }],
    ['cap 8, none left: skipped', 8, { rotationCount: 8 }, 'sweep', { action: 'skip', reason: 'saving-rotations' }],
    // 15-day tokens (margin 1 day, lead 1 + 10 + 1 = 12): after it, 2 left, run out 3 + 2 × 3 = 9 days from now, before the refresh token ends (20)
    ['short tokens, 3 left, not enough to outlast the refresh token: skipped', 3, { accessIssuedAt: at(-DAY), accessExpiresAt: at(14 * DAY), rotationCount: 0 }, 'sweep', { action: 'skip', reason: 'saving-rotations' }],
    // what is truly needed still happens
    ['cap 8, none left, access due: tried (the cap is an assumption; ANAF decides)', 8, { rotationCount: 8, accessExpiresAt: at(29 * DAY) }, 'sweep', { action: 'refresh', reason: 'access-expiring' }],
    ['cap 8, none left, on-demand below the minimum: refreshes', 8, { rotationCount: 8, accessExpiresAt: at(30 * MINUTE) }, 'on-demand', { action: 'refresh', reason: 'below-min-validity' }],
    ['cap 8, none left, on-demand with time left: fresh enough', 8, { rotationCount: 8 }, 'on-demand', { action: 'skip', reason: 'fresh-enough' }],
    ['cap 8, none left, manual: a person asked', 8, { rotationCount: 8 }, 'manual', { action: 'refresh', reason: 'manual' }],
  ];
  it.each(cases)('%s', (_name, rotationCap, over, trigger, expected) => {
    const margin = over.accessExpiresAt === at(14 * DAY) ? 1 : 30;
    expect(decideRefresh(inWindow(over), trigger, NOW, { ...POLICY, rotationCap, refreshMarginDays: margin })).toEqual(expected);
  });

  it('MAX_ROTATIONS_PER_DAY still limits, cap or not', () => {
    const rotations = Array.from({ length: 3 }, (_, i) => at(-2 * HOUR + i * MINUTE));
    expect(decideRefresh(token({ accessExpiresAt: at(DAY), rotations }), 'sweep', NOW, { ...POLICY, maxRotationsPerDay: 3, rotationCap: 64 })).toEqual({
      action: 'limit',
      reason: 'rotations-per-day',
      retryAt: at(22 * HOUR),
    });
  });
});
