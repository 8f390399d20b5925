import { vi } from 'vitest';

/**
 * Runs `fn` with the timers in `toFake` faked and moved on 50 ms per turn of the event loop, so that
 * waits of seconds (backoff sleeps, the join wait on another run's lease) take milliseconds. Faking
 * `Date` too moves `Date.now()` deadlines with the sleeps.
 */
export async function withFastSleeps<R>(fn: () => Promise<R>, toFake: Array<'setTimeout' | 'Date'> = ['setTimeout']): Promise<R> {
  vi.useFakeTimers({ toFake });
  try {
    const promise = fn();
    let settled = false;
    promise.then(
      () => (settled = true),
      () => (settled = true),
    );
    while (!settled) {
      await new Promise((resolve) => setImmediate(resolve));
      vi.advanceTimersByTime(50);
    }
    return await promise;
  } finally {
    vi.useRealTimers();
  }
}
