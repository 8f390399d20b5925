/**
 * `npm run bench`: sweep throughput against the real local parts (moto + the ANAF emulator over HTTP,
 * with a fixed ANAF latency). Reports medians over repeats and ratios against the sequential sweep
 * (concurrency 1) measured in the same run, so the figures do not depend on the machine's speed.
 */
import { getRuntime } from '../../shared/runtime/runtime.js';
import { ALL_ADAPTERS } from '../../shared/runtime/adapters/index.js';
import { sweep } from '../../shared/services/sweep.js';
import { cuiFrom } from '../../test/support/refresh-helpers.js';
import { apiClient, connect, setupTenant } from '../../test/support/stack.js';
import { startLocalStack } from '../stack.js';

const TOKENS = Number(process.env.BENCH_TOKENS ?? 24);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const ANAF_LATENCY_MS = Number(process.env.BENCH_ANAF_LATENCY_MS ?? 100);
const CONCURRENCIES = [1, 4, 8];

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

const stack = await startLocalStack({
  env: { PORT: '0', ANAF_EMULATOR_AUTHORIZE_MODE: 'approve', POWERTOOLS_LOG_LEVEL: 'ERROR', LOCAL_API_KEY: 'bench-key-0123456789abcdef' },
});
try {
  const api = apiClient(stack);
  const control = stack.emulator!.control;
  // Access tokens of 10 days sit inside the 30-day margin, so every sweep refreshes every token again.
  control.setTokenLifetimes({ accessSeconds: 10 * 86_400 });
  // One company per token: the sweep disconnects a due token that no company uses instead of refreshing it.
  const cuis = Array.from({ length: TOKENS }, (_, i) => cuiFrom(3_000_000 + i));
  await setupTenant(api, 'bench', cuis);
  for (let i = 0; i < TOKENS; i++) {
    control.setCertificate({ serial: `be:0c:00:${i.toString(16).padStart(2, "0")}`, holder: `Bench ${i}` });
    await connect(api, 'bench', [cuis[i]!]);
  }
  control.setLatency(ANAF_LATENCY_MS);
  const runtime = getRuntime(...ALL_ADAPTERS);
  const timings = new Map<number, number[]>(CONCURRENCIES.map((c) => [c, []]));
  for (let r = 0; r < REPEATS; r++) {
    for (const concurrency of CONCURRENCIES) {
      const deps = { ...runtime.deps, settings: { ...runtime.deps.settings, sweepConcurrency: concurrency } };
      const started = performance.now();
      const summary = await sweep(deps, { remainingMs: () => Number.POSITIVE_INFINITY });
      const elapsed = performance.now() - started;
      if (summary.refreshed !== TOKENS - 1 && summary.refreshed !== TOKENS) {
        throw new Error(`sweep refreshed ${summary.refreshed} of ${TOKENS}: ${JSON.stringify(summary)}`);
      }
      timings.get(concurrency)!.push(elapsed);
    }
  }
  const baseline = median(timings.get(1)!);
  process.stdout.write(`sweep of ${TOKENS} due tokens, ANAF latency ${ANAF_LATENCY_MS} ms, ${REPEATS} repeats (median):\n`);
  for (const concurrency of CONCURRENCIES) {
    const m = median(timings.get(concurrency)!);
    process.stdout.write(
      `  concurrency ${concurrency}: ${m.toFixed(0)} ms per sweep, ${(m / TOKENS).toFixed(1)} ms per token, speed-up ×${(baseline / m).toFixed(2)} vs sequential\n`,
    );
  }
  const rss = process.memoryUsage().rss / 1024 / 1024;
  process.stdout.write(`  process RSS after the run: ${rss.toFixed(0)} MB\n`);
} finally {
  await stack.stop();
}
