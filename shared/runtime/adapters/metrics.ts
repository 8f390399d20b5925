import { createMetrics } from '../metrics.js';
import type { AdapterKit } from '../runtime.js';

/**
 * CloudWatch metrics (EMF lines through Powertools): the functions whose paths count something, all of
 * which also announce on the bus or store a pair. The others leave Powertools Metrics (about 10 KB) out
 * of their bundles; a count there throws (see `createRuntime`).
 */
export const cloudWatchMetrics: AdapterKit = {
  name: 'metrics',
  build: () => ({ metrics: createMetrics() }),
};
