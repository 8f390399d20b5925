import type { Context, ScheduledEvent } from 'aws-lambda';
import { PAIR_WRITING } from '../../shared/runtime/adapters/pair-writing.js';
import { getRuntime } from '../../shared/runtime/runtime.js';
import { reportHealth, sweep, type SweepSummary, type TokenHealth } from '../../shared/services/sweep.js';

/**
 * EventBridge schedule target: refreshes every due token, stopping before the Lambda's time runs out,
 * then reports the token health gauges. Answers the sweep summary and the health figures.
 */
export async function handler(
  _event: ScheduledEvent | Record<string, never>,
  context?: Context,
): Promise<SweepSummary & { health: TokenHealth | null }> {
  const { deps, logger } = getRuntime(...PAIR_WRITING);
  try {
    const summary = await sweep(deps, { remainingMs: () => context?.getRemainingTimeInMillis?.() ?? Number.POSITIVE_INFINITY });
    deps.metrics?.count('SweepDue', summary.due);
    if (summary.stoppedEarly) deps.metrics?.count('SweepStoppedEarly');
    // The gauges are worth less than the refreshes: a failure here is logged, not raised.
    const health = await reportHealth(deps).catch((error: unknown) => {
      logger.error('token health report failed', { errorName: (error as Error)?.name });
      return null;
    });
    return { ...summary, health };
  } finally {
    deps.metrics?.flush();
  }
}
