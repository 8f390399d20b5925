import { describe, expect, it } from 'vitest';
import { defaultOptions } from '../../local/simulate/options.js';
import type { SimulationResult } from '../../local/simulate/run.js';
import { simulateVariants } from '../../local/simulate/simulate.js';

/** A run's outcome without what the machine decides (wall time, where it went, how slow it was made). */
const outcome = ({ wallSeconds: _wall, profile: _profile, options: { sweepCallDelayMs: _delay, ...options }, ...rest }: SimulationResult) => ({
  options,
  ...rest,
});

/**
 * `npm run simulate --seed=N` promises one year per seed (README, "A simulated year"). The sweep
 * refreshes eight tokens at once, so its calls reach ANAF in an order that varies from run to run:
 * what the scenario injects must not depend on that order. Lost answers are the scenario's part that
 * lands on single calls, and a holder's reconnect delay is drawn when their warning is recorded: here
 * forty tokens fall due on the same day, three in ten lose the answer, and the next sweep warns
 * their holders at once. Before each token drew its own (the emulator's drop waiting for that token's
 * certificate, the holder's own stream), two such runs differed (one of two pairs on an idle machine).
 */
/**
 * Forty tokens, every login within two days before the start: they fall due together (around day 48,
 * and again around day 97), so one sweep refreshes them eight at a time, three in ten lose the answer,
 * and the next sweep learns of it. No outage, blips or slow days.
 */
const fortyDueTogether = (days: number) => ({
  ...defaultOptions(40, days, 3),
  outages: [],
  slowRate: 0,
  blipRate: 0,
  lostAnswerRate: 0.3,
  historyDays: 2,
  refreshWindow: 'rolling' as const,
  rotationCap: 64,
});

describe('one seed, one simulated year', () => {
  it('two runs of the same options (each with its own moto and emulator) give the same figures, episodes and days', async () => {
    const options = fortyDueTogether(64);
    const [first, second] = await simulateVariants([options, options]);
    // The scenario bites: lost answers turn tokens reauth-required, and their holders' draws decide when they reconnect.
    expect(first!.events['reauth-required'] ?? 0).toBeGreaterThan(3);
    expect(first!.totals.reconnects).toBeGreaterThan(3);
    expect(outcome(second!)).toEqual(outcome(first!));
  }, 600_000);

  it('a slower machine gives the same year: every AWS call of the sweep 60 ms slower, the same figures, episodes and days', async () => {
    // The same forty tokens, through their second due sweep (~day 97): each refresh of the first one sets
    // the due time of the second to the second of the sweep it ran at, and a slower sweep refreshes fewer
    // of them in its first second (README, "A simulated year": the clock stands still in the sweep).
    const options = fortyDueTogether(100);
    const [fast, slow] = await simulateVariants([options, { ...options, sweepCallDelayMs: 60 }]);
    expect(fast!.totals.rotations).toBeGreaterThan(40);
    expect(outcome(slow!)).toEqual(outcome(fast!));
  }, 600_000);
});
