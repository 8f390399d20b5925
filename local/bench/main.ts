/**
 * `npm run bench`: cold start and size of every function's bundle, request overhead against the
 * unavoidable round trips, sweep throughput and reads, and load on the access-token route, all against
 * the local stack's real parts (single-threaded moto, the ANAF emulator over HTTP) and always on the
 * built bundles (local/bundles.ts). One table, printed and written to bench/results.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ENV } from '../../shared/config/env-names.js';
import { NON_HTTP_FUNCTIONS } from '../../shared/http/routes.js';
import { apiClient } from '../../test/support/stack.js';
import { buildFunctionBundles, bundleEnvironment } from '../bundles.js';
import { startLocalStack } from '../stack.js';
import { coldStartSection } from './cold-start.js';
import { successInvocations, type BenchStack } from './invocations.js';
import { loadSection } from './load.js';
import { BENCH_USAGE, describeOptions, parseBenchOptions, wantsHelp, type BenchOptions } from './options.js';
import { overheadSection } from './overhead.js';
import { sweepSection } from './sweep.js';
import { renderResults, type Row } from './table.js';

const ROOT = resolve(import.meta.dirname, '../..');
/** What the repeated runs need that a deployment does not: no cool-down, no daily rotation cap in reach. */
const REPEATABLE = { [ENV.manualRefreshCooldownSeconds]: '0', [ENV.maxRotationsPerDay]: '1000' };
const ANAF_LATENCY_MS = 50;
const SWEEP_CONCURRENCY = 8;

function commit(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = git('status', '--porcelain', '--untracked-files=no') ? ' (with uncommitted changes)' : '';
    return `${git('rev-parse', '--short', 'HEAD')} ${git('log', '-1', '--format=%s')}${dirty}`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

async function runBench(options: BenchOptions, log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Promise<string> {
  const loadStart = loadavg()[0]!;
  // The code measured is the code at the start (edits made while a long run goes on are not in it).
  const measured = commit();
  const dir = await mkdtemp(join(tmpdir(), 'bench-'));
  const stack = await startLocalStack({ env: { PORT: '0', ANAF_EMULATOR_AUTHORIZE_MODE: 'approve', POWERTOOLS_LOG_LEVEL: 'ERROR', ...REPEATABLE } });
  const rows: Row[] = [];
  const stops: Array<() => Promise<void>> = [];
  try {
    log('building the bundles…');
    const built = await buildFunctionBundles();
    stops.push(() => built.remove());
    const bundles = new Map(built.files);
    const base = { ...bundleEnvironment({ apiUrl: stack.apiUrl, motoEndpoint: stack.moto.endpoint, anafOauthBaseUrl: stack.emulator!.oauthBaseUrl, anafApiBaseUrl: stack.emulator!.apiBaseUrl, anafPublicApiBaseUrl: stack.emulator!.publicApiBaseUrl }), ...REPEATABLE };
    const envFor = (fn: string) => ({ ...base, AWS_LAMBDA_FUNCTION_NAME: fn });
    const bench: BenchStack = { apiUrl: stack.apiUrl, api: apiClient(stack), emulator: stack.emulator! };
    if (options.only.includes('cold-start')) {
      log('cold start…');
      rows.push(...(await coldStartSection({ bundles, invocations: await successInvocations(bench), envFor, repeats: options.repeats, dir, log })));
    }
    if (options.only.includes('overhead')) {
      log('request overhead…');
      rows.push(...(await overheadSection({ stack: bench, motoEndpoint: stack.moto.endpoint, bundles, envFor, repeats: options.repeats, log })));
    }
    if (options.only.includes('sweep')) {
      log('sweep…');
      rows.push(
        ...(await sweepSection({
          stack: bench,
          motoEndpoint: stack.moto.endpoint,
          bundle: bundles.get(NON_HTTP_FUNCTIONS.sweep)!,
          envFor,
          sizes: options.sweepSizes,
          repeats: options.sweepRepeats,
          concurrency: SWEEP_CONCURRENCY,
          anafLatencyMs: ANAF_LATENCY_MS,
          baselineMs: options.quick ? 500 : 3000,
          log,
        })),
      );
    }
    if (options.only.includes('load')) {
      log('load…');
      rows.push(...(await loadSection({ stack: bench, apiKey: stack.apiKey, bundles, clients: options.loadClients, durationMs: options.loadSeconds * 1000, tokens: options.quick ? 2 : 20, repeats: options.loadRepeats, log })));
    }
  } finally {
    await stack.stop();
    for (const stop of stops) await stop();
    await rm(dir, { recursive: true, force: true });
  }
  const cpu = cpus();
  return renderResults(
    {
      commit: measured,
      date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      cores: cpu.length,
      cpu: cpu[0]?.model.trim() ?? 'unknown',
      node: process.version,
      loadAverage: [loadStart, loadavg()[0]!],
      options: describeOptions(options),
      note: options.note,
    },
    rows,
  );
}

if (wantsHelp(process.argv.slice(2))) {
  process.stdout.write(BENCH_USAGE);
  process.exit(0);
}
const options = parseBenchOptions(process.argv.slice(2));
const page = await runBench(options);
process.stdout.write(page);
if (options.out) {
  const out = resolve(process.cwd(), options.out);
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, page);
  process.stderr.write(`written to ${options.out}\n`);
}
