import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LIMITS,
  limitMessage,
  limitsFor,
  retryAfterSeconds,
  type AnafCall,
  type LimitConfig,
  type LimitCounter,
} from '../../../shared/domain/anaf-limits.js';
import { romaniaDay } from '../../../shared/domain/romania-time.js';

const at = (iso: string) => Date.parse(iso);
/** Distinct values, so each test sees which setting a counter took its limit from. */
const CONFIG: LimitConfig = {
  callsPerMinute: 11,
  statusPerMessagePerDay: 22,
  downloadsPerMessagePerDay: 33,
  listsPerCuiPerDay: 44,
  pagedListsPerCuiPerDay: 55,
  raspPerCuiPerDay: 66,
};

describe('romaniaDay: the day ends at midnight Europe/Bucharest', () => {
  it.each([
    // winter (UTC+2): midnight is 22:00 UTC
    ['2026-01-15T12:00:00.000Z', '2026-01-15', '2026-01-15T22:00:00.000Z'],
    ['2026-01-15T21:59:59.999Z', '2026-01-15', '2026-01-15T22:00:00.000Z'],
    ['2026-01-15T22:00:00.000Z', '2026-01-16', '2026-01-16T22:00:00.000Z'],
    // summer (UTC+3): midnight is 21:00 UTC; a UTC date behind Romania's
    ['2026-07-01T20:59:59.000Z', '2026-07-01', '2026-07-01T21:00:00.000Z'],
    ['2026-07-01T21:00:00.000Z', '2026-07-02', '2026-07-02T21:00:00.000Z'],
    // 29 March 2026: clocks go 03:00 → 04:00; the day starts at +2 and ends at +3 (23 h)
    ['2026-03-28T22:00:00.000Z', '2026-03-29', '2026-03-29T21:00:00.000Z'],
    ['2026-03-29T00:59:59.000Z', '2026-03-29', '2026-03-29T21:00:00.000Z'],
    ['2026-03-29T01:00:00.000Z', '2026-03-29', '2026-03-29T21:00:00.000Z'],
    ['2026-03-29T20:59:59.999Z', '2026-03-29', '2026-03-29T21:00:00.000Z'],
    ['2026-03-29T21:00:00.000Z', '2026-03-30', '2026-03-30T21:00:00.000Z'],
    // the day before the change ends at +2
    ['2026-03-28T12:00:00.000Z', '2026-03-28', '2026-03-28T22:00:00.000Z'],
    // 25 October 2026: clocks go 04:00 → 03:00; the day starts at +3 and ends at +2 (25 h)
    ['2026-10-24T21:00:00.000Z', '2026-10-25', '2026-10-25T22:00:00.000Z'],
    ['2026-10-25T00:30:00.000Z', '2026-10-25', '2026-10-25T22:00:00.000Z'],
    ['2026-10-25T01:30:00.000Z', '2026-10-25', '2026-10-25T22:00:00.000Z'],
    ['2026-10-25T21:59:59.999Z', '2026-10-25', '2026-10-25T22:00:00.000Z'],
    ['2026-10-25T22:00:00.000Z', '2026-10-26', '2026-10-26T22:00:00.000Z'],
    ['2026-10-24T12:00:00.000Z', '2026-10-24', '2026-10-24T21:00:00.000Z'],
    // year end
    ['2026-12-31T22:00:00.000Z', '2027-01-01', '2027-01-01T22:00:00.000Z'],
  ])('%s is Romania\'s %s, which ends at %s', (now, date, endsAt) => {
    const day = romaniaDay(at(now));
    expect(day.date).toBe(date);
    expect(new Date(day.endsAt).toISOString()).toBe(endsAt);
  });

  it.each([
    ['2026-03-29T12:00:00.000Z', 23],
    ['2026-10-25T12:00:00.000Z', 25],
    ['2026-06-10T12:00:00.000Z', 24],
  ])('the day holding %s is %i hours long', (now, hours) => {
    const day = romaniaDay(at(now));
    // The day before ends where this one starts.
    const previous = romaniaDay(at(now) - 30 * 3600_000);
    expect(romaniaDay(previous.endsAt).date).toBe(day.date);
    expect((day.endsAt - previous.endsAt) / 3600_000).toBe(hours);
  });
});

describe('limitsFor: which counters a call takes a unit from', () => {
  const now = at('2026-03-29T10:15:42.123Z');
  const minute: LimitCounter = { name: 'calls-per-minute', key: 'calls-per-minute#2026-03-29T10:15', limit: 11, windowEndsAt: at('2026-03-29T10:16:00.000Z') };
  const dayEnd = at('2026-03-29T21:00:00.000Z');
  it.each<[string, AnafCall, LimitCounter[]]>([
    ['an invoice upload: the minute only', { kind: 'upload', cui: '14399840', standard: 'UBL' }, [minute]],
    ['a CN upload', { kind: 'upload', cui: '14399840', standard: 'CN' }, [minute]],
    ['a CII upload', { kind: 'upload', cui: '14399840', standard: 'CII' }, [minute]],
    [
      'a RASP upload: its CUI per day',
      { kind: 'upload', cui: '14399840', standard: 'RASP' },
      [minute, { name: 'rasp-per-cui-per-day', key: 'rasp-per-cui-per-day#14399840#2026-03-29', limit: 66, windowEndsAt: dayEnd }],
    ],
    [
      'a status query: the message per day (not its CUI: stareMesaj names the id only)',
      { kind: 'status', cui: '14399840', uploadId: '5001234' },
      [minute, { name: 'status-per-message-per-day', key: 'status-per-message-per-day#5001234#2026-03-29', limit: 22, windowEndsAt: dayEnd }],
    ],
    [
      'a download: the message per day',
      { kind: 'download', cui: '14399840', downloadId: '3001' },
      [minute, { name: 'downloads-per-message-per-day', key: 'downloads-per-message-per-day#3001#2026-03-29', limit: 33, windowEndsAt: dayEnd }],
    ],
    [
      'a simple list: its CUI per day',
      { kind: 'list', cui: '18547290' },
      [minute, { name: 'lists-per-cui-per-day', key: 'lists-per-cui-per-day#18547290#2026-03-29', limit: 44, windowEndsAt: dayEnd }],
    ],
    [
      'a page of the paginated list: its CUI per day',
      { kind: 'paged-list', cui: '18547290' },
      [minute, { name: 'paged-lists-per-cui-per-day', key: 'paged-lists-per-cui-per-day#18547290#2026-03-29', limit: 55, windowEndsAt: dayEnd }],
    ],
    ['a validation (public host): the minute only', { kind: 'validate' }, [minute]],
    ['a PDF (public host): the minute only', { kind: 'pdf' }, [minute]],
  ])('%s', (_, call, expected) => {
    expect(limitsFor(call, now, CONFIG)).toEqual(expected);
  });

  it('a new minute and a new Romanian day are new counters (new keys), not the old ones reset', () => {
    const call: AnafCall = { kind: 'list', cui: '18547290' };
    const [m1, d1] = limitsFor(call, at('2026-03-29T20:59:59.999Z'), CONFIG);
    const [m2, d2] = limitsFor(call, at('2026-03-29T21:00:00.000Z'), CONFIG);
    expect(m2!.key).not.toBe(m1!.key);
    expect(d1!.key).toBe('lists-per-cui-per-day#18547290#2026-03-29');
    expect(d2!.key).toBe('lists-per-cui-per-day#18547290#2026-03-30');
    // Within one minute, one key.
    expect(limitsFor(call, at('2026-03-29T20:59:00.000Z'), CONFIG)[0]!.key).toBe(m1!.key);
  });

  it('escapes ids, so no id can forge another counter\'s key; keys hold ids only', () => {
    const [, status] = limitsFor({ kind: 'status', cui: '1', uploadId: '5#2026-03-29' }, now, CONFIG);
    expect(status!.key).toBe('status-per-message-per-day#5%232026-03-29#2026-03-29');
  });

  it('takes its defaults from ANAF\'s published limits', () => {
    expect(DEFAULT_LIMITS).toEqual({
      callsPerMinute: 1000,
      statusPerMessagePerDay: 100,
      downloadsPerMessagePerDay: 10,
      listsPerCuiPerDay: 1500,
      pagedListsPerCuiPerDay: 100_000,
      raspPerCuiPerDay: 1000,
    });
  });
});

describe('retryAfterSeconds and limitMessage', () => {
  const counter: LimitCounter = { name: 'calls-per-minute', key: 'k', limit: 1000, windowEndsAt: at('2026-03-29T10:16:00.000Z') };
  it.each([
    ['2026-03-29T10:15:00.000Z', 60],
    ['2026-03-29T10:15:42.123Z', 18],
    ['2026-03-29T10:15:59.999Z', 1],
    // A window that has just ended (a clock behind the store's): still at least 1 s.
    ['2026-03-29T10:16:00.500Z', 1],
  ])('at %s: retry after %i s', (now, seconds) => {
    expect(retryAfterSeconds(counter, at(now))).toBe(seconds);
  });

  it('names the limit and its value', () => {
    expect(limitMessage(counter, at('2026-03-29T10:15:42.123Z'))).toBe('ANAF limit calls-per-minute (1000) reached; retry after 18 s');
    const [, day] = limitsFor({ kind: 'download', cui: '1', downloadId: '9' }, at('2026-10-25T21:00:00.000Z'), DEFAULT_LIMITS);
    expect(limitMessage(day!, at('2026-10-25T21:00:00.000Z'))).toBe('ANAF limit downloads-per-message-per-day (10) reached; retry after 3600 s');
  });
});
