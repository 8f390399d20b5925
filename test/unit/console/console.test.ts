import { describe, expect, it } from 'vitest';
import { daysLeft, formatDateTime, formatSeconds, relativeTime, roCount } from '../../../local/console/browser/format.js';
import { DICTIONARIES, lookup } from '../../../local/console/browser/i18n.js';
import { consoleHome, isLoopbackHost } from '../../../local/console/server.js';

const NOW = new Date('2026-05-12T10:00:00Z');
const plus = (ms: number) => new Date(NOW.getTime() + ms).toISOString();
const DAY = 86_400_000;

describe('roCount: Romanian numerals take "de" from 20 on (and at 100, 200…)', () => {
  it.each([
    [1, 'day', '1 zi'],
    [2, 'day', '2 zile'],
    [19, 'day', '19 zile'],
    [20, 'day', '20 de zile'],
    [90, 'day', '90 de zile'],
    [100, 'day', '100 de zile'],
    [101, 'day', '101 zile'],
    [119, 'day', '119 zile'],
    [365, 'day', '365 de zile'],
    [1, 'hour', '1 oră'],
    [3, 'hour', '3 ore'],
    [45, 'minute', '45 de minute'],
  ] as const)('%i %s → %s', (n, unit, expected) => {
    expect(roCount(n, unit)).toBe(expected);
  });
});

describe('relativeTime: the largest whole unit, rounded, both languages', () => {
  it.each([
    [plus(90 * DAY - 5_000), 'în 90 de zile', 'in 90 days'],
    [plus(10 * DAY), 'în 10 zile', 'in 10 days'],
    [plus(DAY), 'în 1 zi', 'in 1 day'],
    [plus(5 * 3_600_000), 'în 5 ore', 'in 5 hours'],
    [plus(20 * 60_000), 'în 20 de minute', 'in 20 minutes'],
    [plus(30_000), 'în mai puțin de un minut', 'in less than a minute'],
    [plus(-30_000), 'acum mai puțin de un minut', 'less than a minute ago'],
    [plus(-2 * DAY), 'acum 2 zile', '2 days ago'],
  ])('%s', (iso, ro, en) => {
    expect(relativeTime(iso, NOW, 'ro')).toBe(ro);
    expect(relativeTime(iso, NOW, 'en')).toBe(en);
  });
});

describe('dates and durations', () => {
  it('formats a date with the month spelled out, in the given time zone', () => {
    expect(formatDateTime('2026-05-12T10:03:00Z', 'ro', 'Europe/Bucharest')).toBe('12 mai 2026 la 13:03');
    expect(formatDateTime('2026-05-12T10:03:00Z', 'en', 'UTC')).toBe('12 May 2026 at 10:03');
  });

  it.each([
    [plus(29 * DAY + 1), 29],
    [plus(30 * DAY), 30],
    [plus(-1), -1],
  ])('daysLeft(%s) = %i (whole days, as the warnings count)', (iso, days) => {
    expect(daysLeft(iso, NOW)).toBe(days);
  });

  it.each([
    [7_776_000, '90 de zile', '90 days'],
    [31_536_000, '365 de zile', '365 days'],
    [7_200, '2 ore', '2 hours'],
    [120, '2 minute', '2 minutes'],
    [45, '45 s', '45 s'],
    [0, '0 s', '0 s'],
  ])('formatSeconds(%i)', (seconds, ro, en) => {
    expect(formatSeconds(seconds, 'ro')).toBe(ro);
    expect(formatSeconds(seconds, 'en')).toBe(en);
  });
});

describe('dictionaries', () => {
  it('English has every Romanian key, and no text is empty', () => {
    expect(Object.keys(DICTIONARIES.en).sort()).toEqual(Object.keys(DICTIONARIES.ro).sort());
    for (const dict of Object.values(DICTIONARIES)) {
      for (const [key, value] of Object.entries(dict)) {
        if (typeof value === 'string') expect(value.trim(), key).not.toBe('');
      }
    }
  });

  it('an unknown event type or reason falls back to its code', () => {
    expect(lookup('ro', 'event_refreshed', 'refreshed')).toBe('reîmprospătat');
    expect(lookup('en', 'event_something-new', 'something-new')).toBe('something-new');
  });

  it('names every reason the callback sends back and every lifecycle event', () => {
    for (const reason of ['ACCESS_DENIED', 'ANAF_REJECTED', 'ANAF_UNAVAILABLE', 'SESSION_EXPIRED']) {
      expect(DICTIONARIES.ro).toHaveProperty(`reason_${reason}`);
    }
    for (const type of ['connected', 'connect-failed', 'refreshed', 'refresh-failed', 'reauth-required', 'recovered', 'relinked', 'expiring', 'disconnected', 'token-issued']) {
      expect(DICTIONARIES.ro).toHaveProperty(`event_${type}`);
    }
  });
});

describe('isLoopbackHost: the console (it carries the key) is served to this machine\'s names only', () => {
  it.each([
    ['localhost:3000', true],
    ['LOCALHOST:3000', true],
    ['127.0.0.1:41234', true],
    ['127.0.0.1', true],
    ['[::1]:3000', true],
    ['evil.example:3000', false],
    ['localhost.evil.example:3000', false],
    ['127.0.0.1.nip.io:3000', false],
    ['[::2]:3000', false],
    ['', false],
    [undefined, false],
  ])('%s → %s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });
});

describe('consoleHome: the page lives where the browser can come back to it', () => {
  const defaults = { publicBaseUrl: 'http://localhost:3000', returnUrlAllowlist: ['http://localhost:3000'] };
  it.each([
    ['allowed origin: itself', 'http://localhost:3000', defaults, { returnUrl: 'http://localhost:3000/' }],
    ['127.0.0.1 (what npm run dev prints) → PUBLIC_BASE_URL', 'http://127.0.0.1:3000', defaults, { redirectTo: 'http://localhost:3000' }],
    [
      'both forms allowed: each stays',
      'http://127.0.0.1:3000',
      { ...defaults, returnUrlAllowlist: ['http://localhost:3000', 'http://127.0.0.1:3000'] },
      { returnUrl: 'http://127.0.0.1:3000/' },
    ],
    [
      'PUBLIC_BASE_URL is a tunnel: never sent there (the key stays local), no return URL',
      'http://127.0.0.1:3000',
      { publicBaseUrl: 'https://broker.example.com', returnUrlAllowlist: ['https://broker.example.com'] },
      { returnUrl: null },
    ],
    [
      'allowlist without PUBLIC_BASE_URL: no return URL',
      'http://localhost:3000',
      { ...defaults, returnUrlAllowlist: ['https://erp.example.com'] },
      { returnUrl: null },
    ],
  ])('%s', (_, origin, settings, expected) => {
    expect(consoleHome(origin, settings)).toEqual(expected);
  });
});
