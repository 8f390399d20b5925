/** Pure formatting for the console (no DOM): dates, "in N days", Romanian plurals. */
export type Lang = 'ro' | 'en';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

type Unit = 'day' | 'hour' | 'minute';
const UNITS: ReadonlyArray<[Unit, number]> = [
  ['day', DAY],
  ['hour', HOUR],
  ['minute', MINUTE],
];

const RO_FORMS: Record<Unit, [singular: string, plural: string]> = {
  day: ['zi', 'zile'],
  hour: ['oră', 'ore'],
  minute: ['minut', 'minute'],
};

/**
 * A count with its Romanian noun: "1 zi", "5 zile", "20 de zile", "101 zile", "120 de zile"
 * (numbers whose last two digits are 00 or 20–99 take "de").
 */
export function roCount(n: number, unit: Unit): string {
  const [singular, plural] = RO_FORMS[unit];
  if (n === 1) return `1 ${singular}`;
  const lastTwo = n % 100;
  return lastTwo === 0 || lastTwo >= 20 ? `${n} de ${plural}` : `${n} ${plural}`;
}

function enCount(n: number, unit: Unit): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

/**
 * How far `iso` is from `now`, in the largest whole unit (days, hours, minutes), rounded:
 * "în 90 de zile" / "in 90 days", "acum 2 ore" / "2 hours ago", "în mai puțin de un minut".
 */
export function relativeTime(iso: string, now: Date, lang: Lang): string {
  const diff = Date.parse(iso) - now.getTime();
  const abs = Math.abs(diff);
  const unit = UNITS.find(([, ms]) => abs >= ms);
  if (!unit) return lang === 'ro' ? (diff >= 0 ? 'în mai puțin de un minut' : 'acum mai puțin de un minut') : diff >= 0 ? 'in less than a minute' : 'less than a minute ago';
  const n = Math.round(abs / unit[1]);
  const count = lang === 'ro' ? roCount(n, unit[0]) : enCount(n, unit[0]);
  if (lang === 'ro') return diff >= 0 ? `în ${count}` : `acum ${count}`;
  return diff >= 0 ? `in ${count}` : `${count} ago`;
}

/** A date and time in the reader's time zone: "12 mai 2026, 14:03" / "12 May 2026, 14:03". */
export function formatDateTime(iso: string, lang: Lang, timeZone?: string): string {
  return new Intl.DateTimeFormat(lang === 'ro' ? 'ro-RO' : 'en-GB', {
    day: 'numeric',
    month: 'long',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZone,
  }).format(new Date(iso));
}

/** Whole days left until `iso` (negative once past): what the refresh-token warnings count. */
export function daysLeft(iso: string, now: Date): number {
  return Math.floor((Date.parse(iso) - now.getTime()) / DAY);
}

/** A duration in seconds as the emulator's lifetimes are set: "90 zile", "2 ore", "45 s". */
export function formatSeconds(seconds: number, lang: Lang): string {
  for (const [unit, ms] of UNITS) {
    const n = (seconds * 1000) / ms;
    if (Number.isInteger(n) && n >= 1) return lang === 'ro' ? roCount(n, unit) : enCount(n, unit);
  }
  return `${seconds} s`;
}
