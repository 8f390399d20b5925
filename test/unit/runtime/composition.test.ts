import { describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../../shared/config/config.js';
import { cloudWatchMetrics } from '../../../shared/runtime/adapters/metrics.js';
import { PAIR_WRITING } from '../../../shared/runtime/adapters/pair-writing.js';
import { createRuntime } from '../../../shared/runtime/runtime.js';

const config = parseConfig({ TABLE_NAME: 'table', SECRET_PREFIX: 'anaf-broker/test/' });
const logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe('the composition root: metrics are a kit like the clients', () => {
  it('without the metrics kit a count or a gauge fails loudly, naming the kit; the end-of-invocation flush does nothing', () => {
    const { deps } = createRuntime(config, [], logger);
    expect(() => deps.metrics!.count('Connected')).toThrow(/deps\.metrics\.count: no adapter kit of this function provides "metrics"/);
    expect(() => deps.metrics!.gauge('TokensByStatus', 1)).toThrow(/cloudWatchMetrics/);
    expect(() => deps.metrics!.flush()).not.toThrow();
  });

  it('with the kit, counts reach Powertools and are written at the flush as one EMF line', () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const previous = process.env.POWERTOOLS_METRICS_DISABLED;
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    try {
      const { deps } = createRuntime(config, [cloudWatchMetrics], logger);
      deps.metrics!.count('Connected');
      deps.metrics!.flush();
      const lines = write.mock.calls.map(([chunk]) => String(chunk)).filter((line) => line.includes('"_aws"'));
      expect(lines).toHaveLength(1);
      const emf = JSON.parse(lines[0]!);
      expect(emf._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'AnafBroker', Metrics: [{ Name: 'Connected', Unit: 'Count' }] });
      expect(emf.Connected).toBe(1);
    } finally {
      write.mockRestore();
      if (previous === undefined) delete process.env.POWERTOOLS_METRICS_DISABLED;
      else process.env.POWERTOOLS_METRICS_DISABLED = previous;
    }
  });

  it('every function that may rotate or store a pair gets the metrics kit with the others', () => {
    expect(PAIR_WRITING).toContain(cloudWatchMetrics);
  });
});
