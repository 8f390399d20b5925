import type { Metrics } from '../ports.js';

export const METRICS_NAMESPACE = 'AnafBroker';

/** EMF's limit of metrics per line (and of values per metric). */
const EMF_LIMIT = 100;

/**
 * CloudWatch metrics as EMF log lines (the Embedded Metric Format: one JSON line on stdout that
 * CloudWatch turns into metrics), in the shape Powertools Metrics wrote before: namespace AnafBroker, a
 * `service` dimension on every metric, unit Count, the counts of an invocation in one line, each gauge in
 * a line of its own with its extra dimensions (infra/constructs/monitoring.ts reads these). Written by
 * hand: Powertools Metrics is 10.5 KB of every bundle for these few lines (README "Performance"); the
 * logger stays Powertools. Locally they are switched off with POWERTOOLS_METRICS_DISABLED (the local
 * stack sets it).
 */
export function createMetrics(serviceName = 'anaf-broker', write: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): Metrics {
  const disabled = () => ['true', '1'].includes((process.env.POWERTOOLS_METRICS_DISABLED ?? '').toLowerCase());
  const stored = new Map<string, number[]>();

  const emit = (values: ReadonlyMap<string, readonly number[]>, dimensions: Record<string, string>) => {
    if (disabled() || values.size === 0) return;
    const all = { service: serviceName, ...dimensions };
    const line: Record<string, unknown> = {
      _aws: {
        Timestamp: Date.now(),
        CloudWatchMetrics: [{ Namespace: METRICS_NAMESPACE, Dimensions: [Object.keys(all)], Metrics: [...values.keys()].map((Name) => ({ Name, Unit: 'Count' })) }],
      },
      ...all,
    };
    for (const [name, list] of values) line[name] = list.length === 1 ? list[0] : [...list];
    write(JSON.stringify(line));
  };

  const flush = () => {
    emit(stored, {});
    stored.clear();
  };

  return {
    count: (name, value = 1) => {
      const list = stored.get(name) ?? [];
      if (!stored.has(name) && stored.size >= EMF_LIMIT) flush();
      list.push(value);
      stored.set(name, list);
      if (list.length >= EMF_LIMIT) flush();
    },
    gauge: (name, value, dimensions = {}) => emit(new Map([[name, [value]]]), dimensions),
    flush,
  };
}
