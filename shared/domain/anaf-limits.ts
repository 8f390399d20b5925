/**
 * ANAF's published call limits as counters: which counters a call takes one unit from, the window each
 * counts in, and what to tell a caller who hit one. Pure: the time is passed in, the store is a port
 * (LimitStore in shared/ports.ts).
 *
 * - Every call takes one unit of `calls-per-minute` (ANAF: 1,000 a minute per app, HTTP 429 above).
 *   Fixed minutes, on the clock (Romania's offset is whole hours, so its minutes are UTC's).
 * - Per-day counters reset at midnight Europe/Bucharest (the day ANAF's "in cursul zilei" means): 23 h
 *   on the last Sunday of March, 25 h on the last Sunday of October.
 * - Per message: `stareMesaj` and `descarcare` name only the message's id, so the counter is keyed by it
 *   (not by the CUI of the route it came through). Per CUI: the two list calls, and RASP uploads (other
 *   uploads have no daily limit).
 */
import { romaniaDay } from './romania-time.js';

export type LimitName =
  | 'calls-per-minute'
  | 'status-per-message-per-day'
  | 'downloads-per-message-per-day'
  | 'lists-per-cui-per-day'
  | 'paged-lists-per-cui-per-day'
  | 'rasp-per-cui-per-day';

/** One call about to be made to ANAF, described by what its limits depend on. */
export type AnafCall =
  | { kind: 'upload'; cui: string; standard: 'UBL' | 'CN' | 'CII' | 'RASP' }
  | { kind: 'status'; cui: string; uploadId: string }
  | { kind: 'download'; cui: string; downloadId: string }
  | { kind: 'list'; cui: string }
  | { kind: 'paged-list'; cui: string }
  | { kind: 'validate' }
  | { kind: 'pdf' };

export interface LimitConfig {
  callsPerMinute: number;
  statusPerMessagePerDay: number;
  downloadsPerMessagePerDay: number;
  listsPerCuiPerDay: number;
  pagedListsPerCuiPerDay: number;
  raspPerCuiPerDay: number;
}

/** ANAF's published values (its limits file); the ANAF_LIMIT_* variables override them. */
export const DEFAULT_LIMITS: LimitConfig = {
  callsPerMinute: 1000,
  statusPerMessagePerDay: 100,
  downloadsPerMessagePerDay: 10,
  listsPerCuiPerDay: 1500,
  pagedListsPerCuiPerDay: 100_000,
  raspPerCuiPerDay: 1000,
};

/**
 * One counter of one window. `key` names the counter and its window (so a new window is a new
 * counter, whatever the store's TTL has not yet deleted); it holds ids only (CUI, message ids), no secret.
 */
export interface LimitCounter {
  name: LimitName;
  key: string;
  limit: number;
  /** When the window ends (epoch ms): the counter is fresh from then on. */
  windowEndsAt: number;
}

/**
 * The scope of the calls made without a tenant's token (`validate`, `pdf` on ANAF's public host). ANAF
 * cannot count those per app, so they do not spend a tenant's budget; they share one deployment-wide
 * minute counter instead, so that the broker never floods the public host either. Not a valid tenantId
 * (`~`), so it can never be a tenant's scope.
 */
export const PUBLIC_SCOPE = '~public';

const MINUTE_MS = 60_000;

/** Ids go into keys as they are, but `#` (the key's separator) and anything unusual is escaped. */
const part = (value: string) => encodeURIComponent(value);

/** The counters `call` takes one unit from, at `nowMs`: always the minute counter, then its daily one if any. */
export function limitsFor(call: AnafCall, nowMs: number, config: LimitConfig): LimitCounter[] {
  const minuteStart = Math.floor(nowMs / MINUTE_MS) * MINUTE_MS;
  const minute = new Date(minuteStart).toISOString().slice(0, 16);
  const counters: LimitCounter[] = [
    { name: 'calls-per-minute', key: `calls-per-minute#${minute}`, limit: config.callsPerMinute, windowEndsAt: minuteStart + MINUTE_MS },
  ];
  const day = romaniaDay(nowMs);
  const daily = (name: LimitName, subject: string, limit: number) =>
    counters.push({ name, key: `${name}#${part(subject)}#${day.date}`, limit, windowEndsAt: day.endsAt });
  switch (call.kind) {
    case 'upload':
      if (call.standard === 'RASP') daily('rasp-per-cui-per-day', call.cui, config.raspPerCuiPerDay);
      break;
    case 'status':
      daily('status-per-message-per-day', call.uploadId, config.statusPerMessagePerDay);
      break;
    case 'download':
      daily('downloads-per-message-per-day', call.downloadId, config.downloadsPerMessagePerDay);
      break;
    case 'list':
      daily('lists-per-cui-per-day', call.cui, config.listsPerCuiPerDay);
      break;
    case 'paged-list':
      daily('paged-lists-per-cui-per-day', call.cui, config.pagedListsPerCuiPerDay);
      break;
    case 'validate':
    case 'pdf':
      break;
  }
  return counters;
}

/** Whole seconds until the counter's window ends (at least 1): the Retry-After of a refused call. */
export function retryAfterSeconds(counter: LimitCounter, nowMs: number): number {
  return Math.max(1, Math.ceil((counter.windowEndsAt - nowMs) / 1000));
}

/** The message of the 429 RATE_LIMITED answer: names the limit, its value and when to retry. */
export function limitMessage(counter: LimitCounter, nowMs: number): string {
  return `ANAF limit ${counter.name} (${counter.limit}) reached; retry after ${retryAfterSeconds(counter, nowMs)} s`;
}
