/**
 * The options of `npm run simulate` and their defaults. A scenario is the set of ANAF behaviours and
 * failures one run meets; `variantsOf` expands "both" switches into the runs a command makes.
 */
import { createRng } from './prng.js';

export type RefreshWindow = 'rolling' | 'fixed';

export interface Outage {
  /** First day (0-based) the token endpoint answers 503 to every call. */
  startDay: number;
  days: number;
}

/** Days from the first warning to the accountant's reconnect (null: never), with a weight. */
export interface ReconnectDelay {
  days: number | null;
  weight: number;
}

export interface SimulationOptions {
  tokens: number;
  days: number;
  seed: number;
  refreshWindow: RefreshWindow;
  /** Rotations ANAF allows per authorization (emulator switch); null: no cap. */
  rotationCap: number | null;
  /** What a spent or expired refresh token gets. */
  refusedRefreshError: 'invalid_grant' | 'invalid_request';
  outages: Outage[];
  /** Share of days with a single-day failure of every token call (half 5xx, half timeouts). */
  blipRate: number;
  /** Share of days ANAF answers slowly, and how slowly. */
  slowRate: number;
  slowLatencyMs: number;
  /** Share of tokens whose certificate is renewed during the run (their refresh starts failing). */
  renewalShare: number;
  reconnect: ReconnectDelay[];
  /** The day the vendor's client secret is rotated at ANAF (the tenants get the new one the next day); null: never. */
  secretRotationDay: number | null;
  /** Share of refresh calls whose answer is lost in flight after ANAF rotated (the unclosable window). */
  lostAnswerRate: number;
  /** Share of company-days with an access-token read by the ERP. */
  readShare: number;
  /** Share of token-days with a manual refresh ("Refresh Token" button). */
  manualShare: number;
  /** The initial logins are spread over this many days before the first simulated day. */
  historyDays: number;
  /**
   * Added to every AWS call of the sweep, in ms: a slower machine. 0 in a run of its own; the seed
   * test sets it to show that a year does not depend on the machine's speed.
   */
  sweepCallDelayMs: number;
}

export interface CommandOptions {
  base: Omit<SimulationOptions, 'refreshWindow' | 'rotationCap'>;
  refreshWindows: RefreshWindow[];
  rotationCaps: Array<number | null>;
  outDir: string;
  json: boolean;
}

export const DEFAULT_RECONNECT: ReconnectDelay[] = [
  { days: 1, weight: 3 },
  { days: 5, weight: 3 },
  { days: 12, weight: 2 },
  { days: 25, weight: 1 },
  { days: 45, weight: 1 },
  { days: null, weight: 1 },
];

export function defaultOptions(tokens = 1000, days = 400, seed = 1): Omit<SimulationOptions, 'refreshWindow' | 'rotationCap'> {
  const rng = createRng(seed ^ 0x5eed);
  const outageDays = 10;
  return {
    tokens,
    days,
    seed,
    refusedRefreshError: 'invalid_grant',
    outages: days > outageDays + 20 ? [{ startDay: rng.int(10, days - outageDays - 10), days: outageDays }] : [],
    blipRate: 0.03,
    slowRate: 0.05,
    slowLatencyMs: 300,
    renewalShare: 0.05,
    reconnect: DEFAULT_RECONNECT,
    secretRotationDay: days > 30 ? rng.int(5, days - 5) : null,
    lostAnswerRate: 0.002,
    readShare: 0.005,
    manualShare: 0.003,
    historyDays: 330,
    sweepCallDelayMs: 0,
  };
}

const USAGE = `npm run simulate -- [--tokens=1000] [--days=400] [--seed=1] [--refresh-window=both|rolling|fixed]
  [--rotation-cap=64|off|both] [--refused-error=invalid_grant|invalid_request] [--outage=START:DAYS,…|none]
  [--blip-rate=0.03] [--slow-rate=0.05] [--slow-ms=300] [--renewals=0.05] [--reconnect=1:3,5:3,12:2,25:1,45:1,never:1]
  [--secret-rotation-day=N|none] [--lost-rate=0.002] [--read-share=0.005] [--manual-share=0.003]
  [--history-days=330] [--out=bench] [--json]`;

export class UsageError extends Error {
  override name = 'UsageError';
  constructor(message: string) {
    super(`${message}\n${USAGE}`);
  }
}

/** Parses `--name=value` arguments over the defaults; throws UsageError naming the bad one. */
export function parseArgs(argv: string[]): CommandOptions {
  const given = new Map<string, string>();
  for (const arg of argv) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match) throw new UsageError(`unknown argument ${arg}`);
    given.set(match[1]!, match[2] ?? 'true');
  }
  const take = (name: string) => {
    const value = given.get(name);
    given.delete(name);
    return value;
  };
  const int = (name: string, fallback: number, min = 0) => {
    const raw = take(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) throw new UsageError(`--${name} must be an integer ≥ ${min} (got ${raw})`);
    return value;
  };
  const share = (name: string, fallback: number) => {
    const raw = take(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0 || value > 1) throw new UsageError(`--${name} must be a share from 0 to 1 (got ${raw})`);
    return value;
  };
  const tokens = int('tokens', 1000, 1);
  const days = int('days', 400, 1);
  const seed = int('seed', 1);
  const base = defaultOptions(tokens, days, seed);
  const window = take('refresh-window') ?? 'both';
  if (!['both', 'rolling', 'fixed'].includes(window)) throw new UsageError(`--refresh-window must be both, rolling or fixed (got ${window})`);
  const cap = take('rotation-cap') ?? '64';
  const rotationCaps = cap === 'both' ? [64, null] : cap === 'off' ? [null] : [Number(cap)];
  if (rotationCaps.some((c) => c !== null && !(Number.isInteger(c) && c > 0))) throw new UsageError(`--rotation-cap must be a number, off or both (got ${cap})`);
  const refused = take('refused-error') ?? base.refusedRefreshError;
  if (refused !== 'invalid_grant' && refused !== 'invalid_request') throw new UsageError(`--refused-error must be invalid_grant or invalid_request`);
  const outage = take('outage');
  let outages = base.outages;
  if (outage !== undefined) {
    outages =
      outage === 'none'
        ? []
        : outage.split(',').map((part) => {
            const [start, length] = part.split(':').map(Number);
            if (!Number.isInteger(start) || !Number.isInteger(length) || start! < 0 || length! < 1) throw new UsageError(`--outage must be START:DAYS,… or none (got ${outage})`);
            return { startDay: start!, days: length! };
          });
  }
  const reconnectRaw = take('reconnect');
  const reconnect = reconnectRaw === undefined ? base.reconnect : parseReconnect(reconnectRaw);
  const rotation = take('secret-rotation-day');
  const secretRotationDay = rotation === undefined ? base.secretRotationDay : rotation === 'none' ? null : Number(rotation);
  if (secretRotationDay !== null && !(Number.isInteger(secretRotationDay) && secretRotationDay >= 0)) throw new UsageError(`--secret-rotation-day must be a day or none`);
  const options: CommandOptions = {
    base: {
      ...base,
      refusedRefreshError: refused,
      outages,
      blipRate: share('blip-rate', base.blipRate),
      slowRate: share('slow-rate', base.slowRate),
      slowLatencyMs: int('slow-ms', base.slowLatencyMs),
      renewalShare: share('renewals', base.renewalShare),
      reconnect,
      secretRotationDay,
      lostAnswerRate: share('lost-rate', base.lostAnswerRate),
      readShare: share('read-share', base.readShare),
      manualShare: share('manual-share', base.manualShare),
      historyDays: int('history-days', base.historyDays),
      sweepCallDelayMs: base.sweepCallDelayMs,
    },
    refreshWindows: window === 'both' ? ['rolling', 'fixed'] : [window as RefreshWindow],
    rotationCaps,
    outDir: take('out') ?? 'bench',
    json: take('json') === 'true',
  };
  if (given.size > 0) throw new UsageError(`unknown option --${[...given.keys()][0]}`);
  return options;
}

/** `1:3,5:3,never:1`: days after the first warning (or never), each with a weight. */
export function parseReconnect(raw: string): ReconnectDelay[] {
  const delays = raw.split(',').map((part) => {
    const [days, weight] = part.split(':');
    const w = Number(weight);
    const d = days === 'never' ? null : Number(days);
    if (!(Number.isFinite(w) && w > 0) || (d !== null && !(Number.isInteger(d) && d >= 0))) {
      throw new UsageError(`--reconnect must look like 1:3,5:3,never:1 (days:weight; got ${raw})`);
    }
    return { days: d, weight: w };
  });
  return delays;
}

/** Every run a command makes: each refresh-window behaviour with each rotation cap. */
export function variantsOf(command: CommandOptions): SimulationOptions[] {
  return command.refreshWindows.flatMap((refreshWindow) => command.rotationCaps.map((rotationCap) => ({ ...command.base, refreshWindow, rotationCap })));
}
