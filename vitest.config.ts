import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/**
 * The files that take longest, started first so that no worker is left with one of them at the end.
 * vitest orders by the durations of the last run when it has them, which a clean clone (CI) has not: it
 * then starts the largest files first, and the simulation's file is a small one.
 */
const LONGEST_FIRST = [
  'test/integration/simulation.test.ts',
  // its beforeAll runs `npm run bench -- --quick` (a minute or more), which no test duration shows
  'test/integration/bench.test.ts',
  'test/integration/bench-sweep.test.ts',
  'test/integration/grants.test.ts',
  'test/integration/refresh-concurrency.test.ts',
  'test/integration/dev-command.test.ts',
];

class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (spec: TestSpecification) => {
      const index = LONGEST_FIRST.findIndex((file) => spec.moduleId.endsWith(file));
      return index === -1 ? LONGEST_FIRST.length : index;
    };
    const sorted = await super.sort(files);
    return sorted.map((spec, order) => ({ spec, order })).sort((a, b) => rank(a.spec) - rank(b.spec) || a.order - b.order).map(({ spec }) => spec);
  }
}

/** The files that start the local stack (moto, the emulator, the gateway) or processes that do. */
const STACK_FILES = ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // vitest's default on 2 cores is one worker (cores - 1): the files ran one after another. Most of a
    // stack file's time is waiting (on moto, the emulator's latencies, leases), so two files at a time
    // keep both cores busy.
    maxWorkers: 2,
    sequence: { sequencer: LongestFirstSequencer },
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: STACK_FILES } },
      {
        extends: true,
        // One moto per worker for the whole run, reset by each file's stack (test/support/moto-per-worker.ts);
        // a run of unit files alone starts none.
        test: { name: 'stack', include: STACK_FILES, globalSetup: ['test/support/moto-per-worker.ts'] },
      },
    ],
  },
});
