/**
 * `npm run simulate`: a simulated year (or any number of days) of connections against ANAF's failures;
 * writes bench/simulation.md and bench/simulation.svg. A progress bar goes to stderr when it is a TTY (else a line per tenth of the days).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs, UsageError, variantsOf } from './options.js';
import { markdownReport, svgPicture } from './report.js';
import { simulateVariants, type Progress } from './simulate.js';

let command;
try {
  command = parseArgs(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  process.stderr.write(`npm run simulate: ${error.message}\n`);
  process.exit(2);
}
const variants = variantsOf(command);
// Not a terminal (a log, CI): a line at each tenth of the simulated days instead of the bar.
let tenth = 0;
const bar = process.stderr.isTTY
  ? (p: Progress) => {
      const filled = Math.round((p.done / p.total) * 40);
      process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(40 - filled)}] ${p.done}/${p.total} simulated days (${p.variants} runs)`);
    }
  : (p: Progress) => {
      if (Math.floor((p.done / p.total) * 10) <= tenth) return;
      tenth = Math.floor((p.done / p.total) * 10);
      process.stderr.write(`${p.done}/${p.total} simulated days (${p.variants} runs)\n`);
    };
const results = await simulateVariants(variants, bar);
if (process.stderr.isTTY) process.stderr.write('\n');
const args = process.argv.slice(2).filter((a) => a !== '--json');
const report = markdownReport(results, `npm run simulate${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`);
await mkdir(command.outDir, { recursive: true });
await writeFile(join(command.outDir, 'simulation.md'), report);
await writeFile(join(command.outDir, 'simulation.svg'), svgPicture(results));
if (command.json) process.stdout.write(`${JSON.stringify(results)}\n`);
else process.stdout.write(`${report}\n`);
