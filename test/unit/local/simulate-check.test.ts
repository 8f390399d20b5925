import { describe, expect, it } from 'vitest';
import { ANAF_UNAVAILABLE, linkVerdict, mirrorVerdict } from '../../../local/simulate/check.js';

/** The simulation's 23:00 check: which companies it may judge from the mirror and which it must ask the service about. */
const AT = Date.parse('2027-01-10T23:00:00.000Z');
const record = (status: 'active' | 'reauth-required' | 'disconnected', accessExpiresAt = '2027-02-01T00:00:00.000Z') => ({ status, accessExpiresAt });

describe('mirrorVerdict', () => {
  it('hands out an active token with time left without asking', () => {
    expect(mirrorVerdict(record('active'), undefined, AT)).toBe('valid');
  });

  it('asks about an active token whose access token ended, even one refused before: the service may refresh it on demand', () => {
    const expired = record('active', '2027-01-10T22:59:59.999Z');
    expect(mirrorVerdict(expired, undefined, AT)).toBe('ask');
    expect(mirrorVerdict(expired, expired, AT)).toBe('ask');
  });

  it.each(['reauth-required', 'disconnected'] as const)('asks about a %s record the first time', (status) => {
    expect(mirrorVerdict(record(status), undefined, AT)).toBe('ask');
  });

  it.each(['reauth-required', 'disconnected'] as const)('reuses the refusal of the same %s record object', (status) => {
    const refused = record(status);
    expect(mirrorVerdict(refused, refused, AT)).toBe('refused');
  });

  it('asks again once a write replaced the refused record (a reconnect, a recovery): identity, not equal content', () => {
    const refused = record('reauth-required');
    expect(mirrorVerdict({ ...refused }, refused, AT)).toBe('ask');
    expect(mirrorVerdict(record('active'), refused, AT)).toBe('valid');
  });

  it('refuses a company with no linked record (nothing to hand out)', () => {
    expect(mirrorVerdict(undefined, undefined, AT)).toBe('refused');
  });
});

describe('linkVerdict: what a warned holder learnt about the link', () => {
  it('keeps the first attempt that says something about the link', () => {
    expect(linkVerdict(null, null)).toEqual({ worked: true, problem: null });
    expect(linkVerdict(null, 'other-certificate')).toEqual({ worked: false, problem: 'other-certificate' });
    const kept = { worked: false, problem: 'link-expired-or-used' };
    expect(linkVerdict(kept, null)).toBe(kept);
  });

  it('waits past a day ANAF was unavailable: the same link that works the next day worked', () => {
    const afterOutage = linkVerdict(null, ANAF_UNAVAILABLE);
    expect(afterOutage).toBeNull();
    expect(linkVerdict(afterOutage, null)).toEqual({ worked: true, problem: null });
  });

  it('still reports a link that died while ANAF was unavailable', () => {
    expect(linkVerdict(linkVerdict(null, ANAF_UNAVAILABLE), 'link-expired-or-used')).toEqual({ worked: false, problem: 'link-expired-or-used' });
  });
});
