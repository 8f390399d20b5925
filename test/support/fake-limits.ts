/**
 * An in-memory LimitStore for unit tests, with the DynamoDB adapter's semantics: counters per scope and
 * key, a take is all or none, a counter at its limit refuses (and names itself), and each take yields
 * to the event loop first so that concurrent callers interleave. Checks and increments run in one
 * synchronous step, which is what makes it atomic, as the adapter's transaction is.
 */
import type { LimitCounter } from '../../shared/domain/anaf-limits.js';
import type { LimitStore } from '../../shared/ports.js';

export interface FakeLimitStore extends LimitStore {
  /** The units taken from a counter of a scope (0 when never taken). */
  count(scope: string, key: string): number;
  /** Every take, in order, with its answer. */
  readonly takes: Array<{ scope: string; counters: LimitCounter[]; ok: boolean }>;
}

export function createFakeLimitStore(): FakeLimitStore {
  const counts = new Map<string, number>();
  const id = (scope: string, key: string) => `${scope}\u0000${key}`;
  const takes: FakeLimitStore['takes'] = [];
  return {
    takes,
    count: (scope, key) => counts.get(id(scope, key)) ?? 0,
    async take(scope, counters) {
      await new Promise((resolve) => setImmediate(resolve));
      const full = counters.find((c) => (counts.get(id(scope, c.key)) ?? 0) >= c.limit);
      takes.push({ scope, counters, ok: !full });
      if (full) return { ok: false, counter: full };
      for (const c of counters) counts.set(id(scope, c.key), (counts.get(id(scope, c.key)) ?? 0) + 1);
      return { ok: true };
    },
  };
}
