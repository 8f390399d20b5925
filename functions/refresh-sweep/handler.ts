import type { Context, ScheduledEvent } from 'aws-lambda';
import { getRuntime } from '../../shared/runtime/runtime.js';
import { sweep, type SweepSummary } from '../../shared/services/sweep.js';

/** EventBridge schedule target: refreshes every due token, stopping before the Lambda's time runs out. */
export async function handler(_event: ScheduledEvent | Record<string, never>, context?: Context): Promise<SweepSummary> {
  const { deps } = getRuntime();
  try {
    const summary = await sweep(deps, { remainingMs: () => context?.getRemainingTimeInMillis?.() ?? Number.POSITIVE_INFINITY });
    deps.metrics?.count('SweepDue', summary.due);
    if (summary.stoppedEarly) deps.metrics?.count('SweepStoppedEarly');
    return summary;
  } finally {
    deps.metrics?.flush();
  }
}
