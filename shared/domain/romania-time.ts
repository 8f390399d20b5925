/** Romania's wall clock (Europe/Bucharest), in which ANAF stamps its answers and resets its daily limits. */

const ZONE = 'Europe/Bucharest';

const formatter = new Intl.DateTimeFormat('en-GB', {
  timeZone: ZONE,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

/** Wall-clock parts of an instant in Romania (whole seconds). */
export function romaniaWallClock(ms: number): { y: number; mo: number; d: number; h: number; mi: number; s: number } {
  const parts = formatter.formatToParts(new Date(ms));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return { y: get('year'), mo: get('month'), d: get('day'), h: get('hour'), mi: get('minute'), s: get('second') };
}

/** Romania's offset from UTC at an instant, in minutes (120 in winter, 180 in summer). */
export function romaniaOffsetMinutes(ms: number): number {
  const w = romaniaWallClock(ms);
  const asUtc = Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s);
  return Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 60_000);
}

/**
 * The instant of a Romanian wall-clock time. In the autumn hour that occurs twice the earlier (summer)
 * one is taken; a time skipped in spring reads as the instant an hour later.
 */
export function romaniaWallToMs(y: number, mo: number, d: number, h: number, mi: number): number {
  const naive = Date.UTC(y, mo - 1, d, h, mi);
  const summer = naive - 180 * 60_000;
  const winter = naive - 120 * 60_000;
  return romaniaOffsetMinutes(summer) === 180 ? summer : winter;
}

const pad = (n: number, width = 2) => String(Math.abs(n)).padStart(width, '0');

/** ISO 8601 with Romania's offset, e.g. `2022-11-01T14:15:00+02:00`. */
export function toRomaniaIso(ms: number): string {
  const w = romaniaWallClock(ms);
  const offset = romaniaOffsetMinutes(ms);
  const sign = offset < 0 ? '-' : '+';
  return `${w.y}-${pad(w.mo)}-${pad(w.d)}T${pad(w.h)}:${pad(w.mi)}:${pad(w.s)}${sign}${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`;
}

/** ANAF's `yyyyMMddHHmm` (Romania time) as ISO 8601 with Romania's offset; null when it is not one. */
export function anafCompactTimeToIso(value: string): string | null {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(value.trim());
  if (!m) return null;
  const [y, mo, d, h, mi] = m.slice(1).map(Number) as [number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59) return null;
  return toRomaniaIso(romaniaWallToMs(y, mo, d, h, mi));
}

/**
 * The Romanian calendar day holding `nowMs` (`YYYY-MM-DD`, the day ANAF's daily limits count in) and
 * the instant its next midnight falls on. Romania changes its clocks at 03:00 / 04:00, so midnight
 * always exists exactly once.
 */
export function romaniaDay(nowMs: number): { date: string; endsAt: number } {
  const w = romaniaWallClock(nowMs);
  const next = new Date(Date.UTC(w.y, w.mo - 1, w.d + 1));
  return {
    date: `${w.y}-${pad(w.mo)}-${pad(w.d)}`,
    endsAt: romaniaWallToMs(next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate(), 0, 0),
  };
}

/** Whole seconds from `nowMs` to the next midnight in Romania (when ANAF's daily counters start again); at least 1. */
export function secondsUntilRomaniaMidnight(nowMs: number): number {
  return Math.max(1, Math.ceil((romaniaDay(nowMs).endsAt - nowMs) / 1000));
}
