import { afterEach, describe, expect, it } from 'vitest';
import { METRICS } from '../../../infra/constructs/monitoring.js';
import { METRICS_NAMESPACE, createMetrics } from '../../../shared/runtime/metrics.js';

/* The EMF lines the alarms of infra/constructs/monitoring.ts read: namespace, `service` dimension, names. */

const saved = process.env.POWERTOOLS_METRICS_DISABLED;
afterEach(() => {
  if (saved === undefined) delete process.env.POWERTOOLS_METRICS_DISABLED;
  else process.env.POWERTOOLS_METRICS_DISABLED = saved;
});

function recorded() {
  const lines: any[] = [];
  return { lines, metrics: createMetrics(METRICS.service, (line) => lines.push(JSON.parse(line))) };
}

describe('EMF metrics', () => {
  it('writes an invocation’s counts in one line at flush, with the service dimension, and nothing when none', () => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    const { lines, metrics } = recorded();
    metrics.flush();
    metrics.count(METRICS.refreshed);
    metrics.count(METRICS.refreshed);
    metrics.count(METRICS.refreshFailed, 3);
    expect(lines).toEqual([]);
    metrics.flush();
    metrics.flush();
    expect(METRICS_NAMESPACE).toBe(METRICS.namespace);
    expect(lines).toEqual([
      {
        _aws: {
          Timestamp: expect.any(Number),
          CloudWatchMetrics: [{ Namespace: METRICS.namespace, Dimensions: [['service']], Metrics: [{ Name: 'Refreshed', Unit: 'Count' }, { Name: 'RefreshFailed', Unit: 'Count' }] }],
        },
        service: METRICS.service,
        Refreshed: [1, 1],
        RefreshFailed: 3,
      },
    ]);
  });

  it('writes a gauge at once, in a line of its own with its extra dimensions', () => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    const { lines, metrics } = recorded();
    metrics.gauge(METRICS.tokensByStatus, 4, { status: 'reauth-required' });
    expect(lines).toEqual([
      {
        _aws: { Timestamp: expect.any(Number), CloudWatchMetrics: [{ Namespace: METRICS.namespace, Dimensions: [['service', 'status']], Metrics: [{ Name: 'TokensByStatus', Unit: 'Count' }] }] },
        service: METRICS.service,
        status: 'reauth-required',
        TokensByStatus: 4,
      },
    ]);
  });

  it('writes nothing when POWERTOOLS_METRICS_DISABLED is set (the local stack)', () => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    const { lines, metrics } = recorded();
    metrics.count(METRICS.refreshed);
    metrics.gauge(METRICS.expiring, 1);
    metrics.flush();
    expect(lines).toEqual([]);
  });
});
