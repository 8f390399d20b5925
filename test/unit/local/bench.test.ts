import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BENCH_OPTIONS, BENCH_USAGE, parseBenchOptions, wantsHelp } from '../../../local/bench/options.js';
import { pairedRatios, quantile, spread } from '../../../local/bench/stats.js';
import { COLUMNS, formatValue, meets, renderResults, type Row } from '../../../local/bench/table.js';

describe('bench figures', () => {
  it.each([
    { values: [3, 1, 2], median: 2, min: 1, max: 3 },
    { values: [4, 1, 3, 2], median: 2.5, min: 1, max: 4 },
    { values: [7], median: 7, min: 7, max: 7 },
  ])('spread of $values', ({ values, median, min, max }) => {
    expect(spread(values)).toEqual({ median, min, max, n: values.length });
  });

  it('an empty spread is NaN, shown as a dash', () => {
    expect(spread([]).n).toBe(0);
    expect(formatValue(spread([]).median, 'ms')).toBe('–');
  });

  it('ratios pair samples one by one and refuse unpaired ones', () => {
    expect(pairedRatios([2, 9], [1, 3])).toEqual([2, 3]);
    expect(() => pairedRatios([1], [1, 2])).toThrow(/unpaired/);
  });

  it.each([
    { q: 0.5, expected: 50 },
    { q: 0.99, expected: 99 },
    { q: 1, expected: 100 },
  ])('quantile $q of 1..100 is $expected (nearest rank)', ({ q, expected }) => {
    expect(quantile(Array.from({ length: 100 }, (_, i) => i + 1), q)).toBe(expected);
  });
});

describe('bench options', () => {
  it('defaults: every section, 15 repeats, sweep sizes 500 and 5000, 200 clients for 20 s, bench/results.md', () => {
    expect(parseBenchOptions([])).toMatchObject({
      only: ['cold-start', 'overhead', 'sweep', 'load'],
      repeats: 15,
      sweepSizes: [500, 5000],
      loadClients: 200,
      loadSeconds: 20,
      loadRepeats: 3,
      out: 'bench/results.md',
    });
  });

  it('--quick is a smoke test that writes nothing unless told', () => {
    expect(parseBenchOptions(['--quick'])).toMatchObject({ quick: true, repeats: 1, sweepRepeats: 1, loadRepeats: 1, out: null });
    expect(parseBenchOptions(['--quick', '--out=x.md']).out).toBe('x.md');
  });

  it('--only keeps the run order; sizes and counts are checked', () => {
    expect(parseBenchOptions(['--only=load,cold-start']).only).toEqual(['cold-start', 'load']);
    expect(parseBenchOptions(['--sweep-sizes=500,5000,50000']).sweepSizes).toEqual([500, 5000, 50000]);
    expect(() => parseBenchOptions(['--only=warp'])).toThrow(/unknown section warp/);
    expect(() => parseBenchOptions(['--repeats=0'])).toThrow(/positive integer/);
    expect(() => parseBenchOptions(['--fast'])).toThrow(/unknown option --fast/);
  });

  it('--help (or -h) asks for the usage, which names every option the parser takes', () => {
    expect([wantsHelp(['--help']), wantsHelp(['--quick', '-h']), wantsHelp(['--quick'])]).toEqual([true, true, false]);
    for (const [name] of BENCH_OPTIONS) expect(BENCH_USAGE).toContain(`--${name}`);
    // Every option the usage names (but --help) parses; the rest are refused.
    const samples: Record<string, string> = { only: 'sweep', repeats: '2', 'sweep-sizes': '10', 'sweep-repeats': '1', 'load-clients': '1', 'load-seconds': '1', 'load-repeats': '2', out: 'x.md', note: 'n' };
    for (const [spec] of BENCH_OPTIONS.filter(([name]) => name !== 'help')) {
      const name = spec.split('=')[0]!;
      expect(() => parseBenchOptions([samples[name] ? `--${name}=${samples[name]}` : `--${name}`]), name).not.toThrow();
    }
  });

  it('npm run bench -- --help prints the usage and exits 0 without starting anything', async () => {
    const root = resolve(import.meta.dirname, '../../..');
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
      const child = execFile(process.execPath, ['--import', 'tsx', 'local/bench/main.ts', '--help'], { cwd: root, timeout: 30_000 }, (_, stdout, stderr) => done({ code: child.exitCode, stdout, stderr }));
    });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toBe(BENCH_USAGE);
  }, 30_000);
});

describe('bench table', () => {
  const row = (median: number, goal?: Row['goal']): Row => ({ section: 'overhead', measure: 'm', figure: { median, min: median, max: median, n: 3 }, unit: '×', goal });

  it.each([
    { goal: { op: '<=', value: 1.15 } as const, median: 1.1, met: true },
    { goal: { op: '<=', value: 1.15 } as const, median: 1.2, met: false },
    { goal: { op: '>=', value: 0.85 } as const, median: 0.85, met: true },
    { goal: { op: '==', value: 1 } as const, median: 1.01, met: false },
    { goal: undefined, median: 5, met: null },
  ])('median $median against $goal: $met', ({ goal, median, met }) => {
    expect(meets(row(median, goal))).toBe(met);
  });

  it('a goal for every repeat is met only when the min and the max meet it, and says so in its column', () => {
    const counts = (min: number, median: number, max: number): Row => ({
      section: 'load',
      measure: 'errors',
      figure: { median, min, max, n: 3 },
      unit: 'count',
      goal: { op: '==', value: 0, every: true },
    });
    expect(meets(counts(0, 0, 0))).toBe(true);
    expect(meets(counts(0, 0, 4))).toBe(false);
    expect(meets({ ...counts(0, 0, 4), goal: { op: '==', value: 0 } })).toBe(true);
    const page = renderResults({ commit: 'c', date: 'd', cores: 2, cpu: 'x', node: 'v20', loadAverage: [0, 0], options: 'o' }, [counts(0, 0, 4)]);
    expect(page).toContain('| = 0 count (every repeat) | **no** |');
  });

  it('one table under the machine, the commit and the options; a missed goal is marked', () => {
    const page = renderResults(
      { commit: 'abc123 subject', date: '2026-12-01T00:00:00Z', cores: 2, cpu: 'cpu', node: 'v20.0.0', loadAverage: [1, 2], options: 'quick', note: 'a loaded machine' },
      [row(2, { op: '<=', value: 1.15 })],
    );
    const lines = page.split('\n');
    expect(lines).toContain('- commit: abc123 subject');
    expect(lines).toContain('- note: a loaded machine');
    expect(lines).toContain(`| ${COLUMNS.join(' | ')} |`);
    expect(lines).toContain('| overhead | m | 2.00× | 2.00× – 2.00× | 3 | ≤ 1.15× | **no** |  |');
  });
});
