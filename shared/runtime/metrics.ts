import { MetricUnit, Metrics as PowertoolsMetrics } from '@aws-lambda-powertools/metrics';
import type { Metrics } from '../ports.js';

export const METRICS_NAMESPACE = 'AnafBroker';

/**
 * CloudWatch metrics as EMF log lines through Powertools. Locally they are switched off with
 * POWERTOOLS_METRICS_DISABLED (the local stack sets it).
 */
export function createMetrics(serviceName = 'anaf-broker'): Metrics {
  const metrics = new PowertoolsMetrics({ namespace: METRICS_NAMESPACE, serviceName });
  return {
    count: (name, value = 1) => metrics.addMetric(name, MetricUnit.Count, value),
    gauge: (name, value, dimensions = {}) => {
      const single = metrics.singleMetric();
      for (const [key, dimension] of Object.entries(dimensions)) single.addDimension(key, dimension);
      single.addMetric(name, MetricUnit.Count, value);
    },
    flush: () => {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    },
  };
}
