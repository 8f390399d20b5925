/** A small seeded PRNG (mulberry32): the same seed gives the same simulated year. */
export function createRng(seed: number) {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return {
    next,
    /** An integer in [min, max]. */
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    chance: (p: number) => next() < p,
    /** One of `items`, drawn by `weight`. */
    weighted<T>(items: ReadonlyArray<{ weight: number } & T>): T {
      const total = items.reduce((sum, item) => sum + item.weight, 0);
      let pick = next() * total;
      for (const item of items) {
        pick -= item.weight;
        if (pick < 0) return item;
      }
      return items[items.length - 1]!;
    },
  };
}

export type Rng = ReturnType<typeof createRng>;

/**
 * A stream of draws of its own for item `index` under `seed`. Draws made while the sweep's concurrent
 * refreshes run (a holder's reconnect delay, drawn when their warning is recorded) come in an order that
 * varies from run to run: from a shared stream they would land on different items each time.
 */
export const streamOf = (seed: number, index: number) => createRng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0);
