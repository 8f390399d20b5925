import { describe, expect, it } from 'vitest';
import {
  EVENT_LINK_MAX_DAYS,
  boundLinkVerdict,
  eventLinkExpiresAt,
  needsAPerson,
  type BoundLinkVerdict,
  type BoundToken,
  type EventLinkLoss,
} from '../../../shared/domain/connect-links.js';
import { sweepLeadMs } from '../../../shared/domain/refresh-policy.js';

const NOW = new Date('2027-03-01T09:00:00.000Z');
const DAY = 86_400_000;
const at = (offsetMs: number) => new Date(NOW.getTime() + offsetMs).toISOString();

describe('eventLinkExpiresAt: a lifecycle link lives until the access would be lost plus 7 days, at least 7 days, at most 60', () => {
  type Case = [string, EventLinkLoss, { accessExpiresAt: string; refreshExpiresAt: string }, string];
  const cases: Case[] = [
    ['first refresh-token warning (30 days left): refresh end + 7 d', 'refresh-token-end', { accessExpiresAt: at(80 * DAY), refreshExpiresAt: at(30 * DAY) }, at(37 * DAY)],
    ['last warning (1 day left): refresh end + 7 d', 'refresh-token-end', { accessExpiresAt: at(80 * DAY), refreshExpiresAt: at(1 * DAY) }, at(8 * DAY)],
    ['refresh end already past: at least 7 days', 'refresh-token-end', { accessExpiresAt: at(-DAY), refreshExpiresAt: at(-2 * DAY) }, at(7 * DAY)],
    ['refresh end far away (an odd exp): capped at 60 days', 'refresh-token-end', { accessExpiresAt: at(80 * DAY), refreshExpiresAt: at(200 * DAY) }, at(60 * DAY)],
    ['reauth-required, access valid 20 more days: access end + 7 d', 'access-token-end', { accessExpiresAt: at(20 * DAY), refreshExpiresAt: at(300 * DAY) }, at(27 * DAY)],
    ['reauth-required, access already expired: now + 7 d', 'access-token-end', { accessExpiresAt: at(-5 * DAY), refreshExpiresAt: at(300 * DAY) }, at(7 * DAY)],
    ['reauth-required, access valid 89 more days: capped at 60 days', 'access-token-end', { accessExpiresAt: at(89 * DAY), refreshExpiresAt: at(300 * DAY) }, at(60 * DAY)],
    ['refresh failing, access ends in 12 hours: 7 days', 'access-token-end', { accessExpiresAt: at(DAY / 2), refreshExpiresAt: at(300 * DAY) }, at(7.5 * DAY)],
    // the sweep refreshes with at most its lead of access left: a refusal there gets a link that outlives the access token by the grace, under the cap
    ['reauth-required at the sweep\'s due time (41 days of access left): access end + 7 d', 'access-token-end', { accessExpiresAt: at(sweepLeadMs({ refreshMarginDays: 30 })), refreshExpiresAt: at(300 * DAY) }, at(48 * DAY)],
  ];
  it.each(cases)('%s', (_name, loss, token, expected) => {
    expect(eventLinkExpiresAt(token, loss, NOW).toISOString()).toBe(expected);
  });

  it('the cap is 60 days', () => {
    expect(EVENT_LINK_MAX_DAYS).toBe(60);
  });
});

const healthy: BoundToken = { status: 'active', serial: 'aa:01', failedAttempts: 0, warningsSent: [], refreshExpiresAt: at(300 * DAY) };

describe('needsAPerson: the bound token waits for someone with a certificate', () => {
  const cases: Array<[string, Partial<BoundToken>, boolean]> = [
    ['active and healthy', {}, false],
    ['reauth-required', { status: 'reauth-required' }, true],
    ['active, refreshes failing', { failedAttempts: 1 }, true],
    ['active, a refresh-token warning was sent', { warningsSent: [30], refreshExpiresAt: at(29 * DAY) }, true],
    ['active, refresh end already past (not yet marked)', { refreshExpiresAt: at(-DAY) }, true],
    ['disconnected (never revived)', { status: 'disconnected', failedAttempts: 2 }, false],
  ];
  it.each(cases)('%s → %s', (_name, over, expected) => {
    expect(needsAPerson({ ...healthy, ...over }, NOW)).toBe(expected);
  });
});

describe('boundLinkVerdict: who a link minted for a token lets in', () => {
  const cases: Array<[string, BoundToken | null, string | null, BoundLinkVerdict]> = [
    ['the holder, healthy token', healthy, 'aa:01', 'holder'],
    ['the holder, reauth-required token', { ...healthy, status: 'reauth-required' }, 'aa:01', 'holder'],
    ['another certificate, healthy token: a colleague moves nothing', healthy, 'bb:02', 'other-certificate'],
    ['another certificate, reauth-required token: the renewed certificate takes over', { ...healthy, status: 'reauth-required' }, 'bb:02', 'takes-over'],
    ['another certificate, failing token', { ...healthy, failedAttempts: 3 }, 'bb:02', 'takes-over'],
    ['another certificate, token in its warning window', { ...healthy, warningsSent: [30, 14], refreshExpiresAt: at(10 * DAY) }, 'bb:02', 'takes-over'],
    ['a pair without a serial, healthy token', healthy, null, 'other-certificate'],
    ['a pair without a serial, reauth-required token', { ...healthy, status: 'reauth-required' }, null, 'takes-over'],
    ['a bound token without a serial, healthy: nobody can be matched', { ...healthy, serial: null }, 'aa:01', 'other-certificate'],
    ['a bound token without a serial, reauth-required', { ...healthy, serial: null, status: 'reauth-required' }, 'aa:01', 'takes-over'],
    ['the bound token is gone', null, 'aa:01', 'other-certificate'],
    ['the bound token is disconnected, its holder', { ...healthy, status: 'disconnected' }, 'aa:01', 'holder'],
    ['the bound token is disconnected, another certificate', { ...healthy, status: 'disconnected' }, 'bb:02', 'other-certificate'],
  ];
  it.each(cases)('%s', (_name, bound, serial, expected) => {
    expect(boundLinkVerdict(bound, serial, NOW)).toBe(expected);
  });
});
