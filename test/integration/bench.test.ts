import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COLUMNS } from '../../local/bench/table.js';
import { FUNCTION_NAMES } from '../../shared/http/routes.js';

/*
 * `npm run bench -- --quick` end to end (one repeat, ten tokens, a one-second load), so the harness does
 * not rot: the table's structure is checked, never a timing (speed is measured, not asserted).
 */

const ROOT = resolve(import.meta.dirname, '../..');
let dir: string;
let page: string;
let rows: string[][];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bench-test-'));
  const out = join(dir, 'results.md');
  const stdout = await new Promise<string>((done, fail) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'local/bench/main.ts', '--quick', `--out=${out}`, '--note=bench test'],
      { cwd: ROOT, timeout: 280_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => (error ? fail(new Error(`${error.message}\n${stderr.slice(-4000)}`)) : done(stdout)),
    );
  });
  page = await readFile(out, 'utf8');
  expect(stdout).toBe(page);
  rows = page
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| section'))
    .map((line) => line.slice(2, -2).split(' | '));
}, 300_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const measures = (section: string) => rows.filter((r) => r[0] === section).map((r) => r[1]!);

describe('npm run bench -- --quick', () => {
  it('heads the table with the machine, the Node version, the commit and the note', () => {
    expect(page).toMatch(/^- commit: [0-9a-f]{7,} /m);
    expect(page).toContain(`${cpus().length} cores`);
    expect(page).toContain(`Node ${process.version}`);
    expect(page).toContain('- note: bench test');
    expect(page).toContain(`| ${COLUMNS.join(' | ')} |`);
  });

  it('every row has every column, a figure and, where a goal is given, whether it is met', () => {
    for (const row of rows) {
      expect(row, row.join(' | ')).toHaveLength(COLUMNS.length);
      expect(row[2], row.join(' | ')).toMatch(/^-?\d+(\.\d+)?(×| ms| KB| MB| \/s| count)$/);
      if (row[5]) expect(row[6], row.join(' | ')).toMatch(/^(yes|\*\*no\*\*)$/);
    }
  });

  it('cold start and size for every function, against a bare node', () => {
    expect(measures('cold start')).toEqual(['bare node (process start → trivial handler answered)', ...[...FUNCTION_NAMES].sort().map((fn) => `${fn} ÷ bare node`)]);
    expect(measures('bundle size')).toEqual([...FUNCTION_NAMES].sort().map((fn) => `${fn} (minified .mjs)`));
  });

  it('overhead of the callback, the access-token route and the manual refresh', () => {
    expect(measures('overhead')).toEqual(['oauth-callback', 'access-token-get', 'manual-refresh'].map((fn) => `${fn}: server time ÷ unavoidable round trips`));
  });

  it('sweep throughput against the ideal, items read against due tokens, memory', () => {
    const sweep = measures('sweep').join('\n');
    for (const part of ['throughput ÷ ideal', 'due-index items read ÷ due tokens', 'peak RSS of the sweep process', 'seeding']) expect(sweep).toContain(part);
  });

  it('load: throughput, p50, p99, errors and duplicate refreshes', () => {
    expect(measures('load').map((m) => m.split(': ')[1])).toEqual(['throughput', 'p50 latency', 'p99 latency', 'errors', 'duplicate refreshes']);
  });
});
