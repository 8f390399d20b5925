import { execFile } from 'node:child_process';
import type { Server } from 'node:http';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { CUIS } from '../../test/support/stack.js';
import { createGateway } from '../gateway.js';
import { connectedTenant, type BenchStack } from './invocations.js';
import { quantile, spread } from './stats.js';
import type { Row } from './table.js';

const CLIENT_SCRIPT = fileURLToPath(new URL('./load-client.mjs', import.meta.url));

export interface LoadInput {
  stack: BenchStack;
  apiKey: string;
  bundles: Map<string, string>;
  clients: number;
  durationMs: number;
  /** Companies (one token each) the clients ask for, in turn; fresh ones per repeat. */
  tokens: number;
  repeats: number;
  log: (line: string) => void;
}

interface LoadResult {
  latencies: number[];
  statuses: Record<string, number>;
  transportErrors: number;
  elapsedMs: number;
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}`)));
}

interface LoadRun {
  throughput: number;
  p50: number;
  p99: number;
  errors: number;
  duplicates: number;
  byStatus: string;
  transportErrors: number;
  rotations: number;
  rotated: number;
  refused: number;
}

/**
 * Section 4. A gateway of its own that mounts the built bundles (not the TypeScript), `clients`
 * concurrent loops in a separate process on the access-token route for `durationMs`, `repeats` times.
 * Each repeat connects `tokens` fresh tokens whose access tokens are issued with a lifetime of one
 * second and have expired when the load starts, so each needs exactly one refresh during the run:
 * rotations beyond one per rotated token are duplicates.
 */
export async function loadSection(input: LoadInput): Promise<Row[]> {
  const gateway = createGateway({
    apiKey: input.apiKey,
    loadHandler: async (fn) => ((await import(pathToFileURL(input.bundles.get(fn)!).href)) as { handler: any }).handler,
  });
  const url = await listen(gateway);
  const runs: LoadRun[] = [];
  try {
    for (let r = 0; r < input.repeats; r++) {
      const run = await loadRun(input, url);
      input.log(`load ${r + 1}/${input.repeats}: ${run.throughput.toFixed(1)}/s (${run.byStatus}), ${run.rotations} rotations, ${run.errors} errors, ${run.duplicates} duplicates`);
      runs.push(run);
    }
  } finally {
    await new Promise<void>((resolve) => {
      gateway.close(() => resolve());
      gateway.closeAllConnections();
    });
  }
  const tag = `${input.clients} clients, ${(input.durationMs / 1000).toFixed(0)} s, ${input.tokens} tokens`;
  const each = (describe: (run: LoadRun) => string) => runs.map(describe).join('; ');
  return [
    { section: 'load', measure: `${tag}: throughput`, figure: spread(runs.map((x) => x.throughput)), unit: '/s', note: 'access-token route, gateway serving the bundles' },
    { section: 'load', measure: `${tag}: p50 latency`, figure: spread(runs.map((x) => x.p50)), unit: 'ms' },
    { section: 'load', measure: `${tag}: p99 latency`, figure: spread(runs.map((x) => x.p99)), unit: 'ms' },
    {
      section: 'load',
      measure: `${tag}: errors`,
      figure: spread(runs.map((x) => x.errors)),
      unit: 'count',
      goal: { op: '==', value: 0, every: true },
      note: `answers by status, per repeat: ${each((x) => `${x.byStatus}, transport errors ${x.transportErrors}`)}`,
    },
    {
      section: 'load',
      measure: `${tag}: duplicate refreshes`,
      figure: spread(runs.map((x) => x.duplicates)),
      unit: 'count',
      goal: { op: '==', value: 0, every: true },
      note: `per repeat: ${each((x) => `${x.rotations} rotations at the emulator, ${x.rotated} of the ${input.tokens} tokens rotated, ${x.refused} spent refresh tokens presented`)} (each token needed one)`,
    },
  ];
}

/** One repeat: fresh tokens whose access tokens have expired, then the clients for `durationMs`. */
async function loadRun(input: LoadInput, url: string): Promise<LoadRun> {
  const { stack } = input;
  const control = stack.emulator.control;
  control.setTokenLifetimes({ accessSeconds: 1 });
  const tenants: Array<{ tenantId: string; tokenId: string }> = [];
  try {
    for (let i = 0; i < input.tokens; i++) tenants.push(await connectedTenant(stack.api, 'load'));
  } finally {
    // The refreshed tokens live 90 days: one refresh per token, then none.
    control.setTokenLifetimes({ accessSeconds: 90 * 86_400 });
  }
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  const urls = tenants.map(({ tenantId }) => `${url}/v1/tenants/${tenantId}/companies/${CUIS[0]}/access-token`);
  const lastRefresh = () => Promise.all(tenants.map(async (t) => (await stack.api.get(`/v1/tenants/${t.tenantId}/tokens/${t.tokenId}`)).body?.lastRefreshAt ?? null));
  const refreshedBefore = await lastRefresh();
  const before = control.stats();
  const result = await new Promise<LoadResult>((resolve, reject) => {
    execFile(
      process.execPath,
      [CLIENT_SCRIPT, JSON.stringify(urls), input.apiKey, String(input.clients), String(input.durationMs)],
      { maxBuffer: 64 * 1024 * 1024, timeout: input.durationMs + 120_000 },
      (error, stdout, stderr) => (error ? reject(new Error(`load client: ${error.message}\n${stderr}`)) : resolve(JSON.parse(stdout) as LoadResult)),
    );
  });
  const after = control.stats();
  const rotations = after.tokenCalls.refresh_token - before.tokenCalls.refresh_token;
  const refused = after.refusedRefreshes - before.refusedRefreshes;
  // A token whose record moved on was rotated at least once; every rotation beyond that is a duplicate.
  const rotated = (await lastRefresh()).filter((at, i) => at !== refreshedBefore[i]).length;
  const answered = Object.values(result.statuses).reduce((a, b) => a + b, 0);
  return {
    throughput: (answered / result.elapsedMs) * 1000,
    p50: quantile(result.latencies, 0.5),
    p99: quantile(result.latencies, 0.99),
    errors: answered - (result.statuses['200'] ?? 0) + result.transportErrors,
    duplicates: rotations - rotated,
    byStatus: Object.entries(result.statuses).map(([status, count]) => `${status}: ${count}`).join(', '),
    transportErrors: result.transportErrors,
    rotations,
    rotated,
    refused,
  };
}
