import { describe, expect, it } from 'vitest';
import { defaultOptions, variantsOf } from '../../local/simulate/options.js';
import { goalsOf, variantName } from '../../local/simulate/report.js';
import { simulateVariants } from '../../local/simulate/simulate.js';

/**
 * The short run of `npm run simulate` (its own moto and emulator per run, in child processes): the real
 * sweep handler, access-token and manual-refresh services and connect links on a virtual clock. Two
 * runs in parallel, each with its own moto: 188 s measured on two cores under a load of ~4 before the
 * sweep's batched reconciliation and moto's partition-only queries and plain answers; README, "A
 * simulated year", has the figures since (one run of 50 tokens × 60 days: 162 s → 68 s under a load of
 * ~17). The timeout is generous for a loaded machine.
 */
describe('a simulated run (50 tokens, 120 days, a 10-day outage, both refresh-window behaviours)', () => {
  it('loses no company-day by our fault, and warns every loss a person must prevent ≥ 30 days ahead with a link that works', async () => {
    const base = {
      ...defaultOptions(50, 120, 7),
      outages: [{ startDay: 40, days: 10 }],
      // Kept lean: no slow days and no timeouts (each costs ANAF_TIMEOUT_MS per call). Certificate renewals
      // stay in (the default share): a renewal is learnt when ANAF refuses the sweep's refresh, which comes
      // by the last daily sweep before the access token would have less than REFRESH_MARGIN_DAYS left, so
      // its warning is more than 30 days ahead of the loss.
      slowRate: 0,
      blipRate: 0,
    };
    const results = await simulateVariants(variantsOf({ base, refreshWindows: ['rolling', 'fixed'], rotationCaps: [64], outDir: '', json: false }));
    // Renewed certificates were met (reconnected, or lost after their warning) and held to the same goals.
    const renewals = results.reduce(
      (n, r) => n + r.reconnectedBy.renewedEventLink + r.reconnectedBy.renewedFreshLink + r.episodes.filter((e) => e.cause === 'certificate-renewed').length,
      0,
    );
    expect(renewals).toBeGreaterThan(0);
    for (const result of results) {
      const goals = goalsOf(result);
      expect(goals.causedByUs, variantName(result)).toBe(0);
      expect(goals.late, variantName(result)).toEqual([]);
      expect(goals.brokenLink, variantName(result)).toEqual([]);
      expect(result.days).toHaveLength(120);
      expect(result.totals.rotations).toBeGreaterThan(0);
      // A sweep invocation that failed is counted, not the end of the run: none may fail here.
      expect(result.totals.sweepFailures, variantName(result)).toBe(0);
    }
    // With the window fixed from the first login some authorizations near their end within the run: they
    // are warned and reconnected through the links (a loss is left only where nobody reconnects in time).
    const fixed = results[1]!;
    expect(fixed.options.refreshWindow).toBe('fixed');
    expect(fixed.events.expiring ?? 0).toBeGreaterThan(0);
    expect(fixed.totals.reconnects).toBeGreaterThan(0);
    // The accountants reconnect through the warning's own link (it lives until a week after the loss).
    expect(fixed.reconnectedBy.eventLink).toBeGreaterThan(0);
    expect(fixed.events.connected ?? 0).toBeGreaterThan(0);
  }, 1_200_000);
});
