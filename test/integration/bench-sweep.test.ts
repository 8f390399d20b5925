import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/*
 * The sweep section of `npm run bench` over several repeats: every repeat must find the due tokens where
 * the first did. A count, not a timing: the due query reads each due token once (1.00×) in every repeat,
 * not only in the first (a run used to find the previous run's refreshed tokens ahead of its cursor and
 * read them twice: 2.00× from the second repeat on).
 */

const ROOT = resolve(import.meta.dirname, '../..');

describe('npm run bench -- --only=sweep, several repeats', () => {
  it('due-index items read ÷ due tokens is 1.00× in every repeat', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bench-sweep-'));
    try {
      const out = join(dir, 'results.md');
      await new Promise<string>((done, fail) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', 'local/bench/main.ts', '--only=sweep', '--repeats=3', '--sweep-sizes=300', `--out=${out}`, '--note=bench sweep test'],
          { cwd: ROOT, timeout: 280_000, maxBuffer: 16 * 1024 * 1024 },
          (error, stdout, stderr) => (error ? fail(new Error(`${error.message}\n${stderr.slice(-4000)}`)) : done(stdout)),
        );
      });
      const page = await readFile(out, 'utf8');
      const row = page
        .split('\n')
        .filter((line) => line.startsWith('| sweep | ') && line.includes('due-index items read ÷ due tokens'))
        .map((line) => line.slice(2, -2).split(' | '));
      expect(row).toHaveLength(1);
      const [, measure, median, range, repeats] = row[0]!;
      expect(measure).toContain('300 tokens, 60 due');
      expect(repeats).toBe('3');
      expect([median, range]).toEqual(['1.00×', '1.00× – 1.00×']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
