import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { answerOf, startHost } from './host.js';
import type { Invocation } from './invocations.js';
import { pairedRatios, spread } from './stats.js';
import type { Row } from './table.js';

/** The trivial handler a bare `node` runs in the same host: the cost of a process that does nothing. */
const BARE_MODULE = "export const handler = async () => ({ statusCode: 200, body: '{}' });\n";

export interface ColdStartInput {
  bundles: Map<string, string>;
  invocations: Record<string, Invocation>;
  envFor: (fn: string) => Record<string, string>;
  repeats: number;
  dir: string;
  log: (line: string) => void;
}

/** Process start → handler loaded and first invocation answered, in ms (the event is ready before). */
async function coldStart(module: string, env: Record<string, string>, event: unknown, label: string): Promise<{ total: number; handler: number; answer: any }> {
  const started = performance.now();
  const host = startHost(module, env);
  try {
    const reply = await host.invoke(event);
    const total = performance.now() - started;
    return { total, handler: reply.ms, answer: answerOf(reply, host, label) };
  } finally {
    await host.close();
  }
}

/**
 * Section 1. Per repeat and per function: a bare `node` host, then the function's bundle in the same
 * host, each a fresh process; the ratio is taken per pair. Also each bundle's size on disk.
 */
export async function coldStartSection(input: ColdStartInput): Promise<Row[]> {
  const bare = join(input.dir, 'bare.mjs');
  await writeFile(bare, BARE_MODULE);
  const names = [...input.bundles.keys()].sort();
  const totals = new Map<string, number[]>(names.map((name) => [name, []]));
  const firsts = new Map<string, number[]>(names.map((name) => [name, []]));
  const bares = new Map<string, number[]>(names.map((name) => [name, []]));
  for (let r = 0; r < input.repeats; r++) {
    for (const name of names) {
      const invocation = input.invocations[name]!;
      const event = await invocation.prepare();
      const env = input.envFor(name);
      const baseline = await coldStart(bare, env, {}, 'bare node');
      const subject = await coldStart(input.bundles.get(name)!, env, event, name);
      invocation.check(subject.answer);
      bares.get(name)!.push(baseline.total);
      totals.get(name)!.push(subject.total);
      firsts.get(name)!.push(subject.handler);
    }
    input.log(`cold start: repeat ${r + 1}/${input.repeats} done`);
  }
  const rows: Row[] = [];
  const allBare = [...bares.values()].flat();
  rows.push({ section: 'cold start', measure: 'bare node (process start → trivial handler answered)', figure: spread(allBare), unit: 'ms' });
  for (const name of names) {
    const s = spread(totals.get(name)!);
    const first = spread(firsts.get(name)!);
    rows.push({
      section: 'cold start',
      measure: `${name} ÷ bare node`,
      figure: spread(pairedRatios(totals.get(name)!, bares.get(name)!)),
      unit: '×',
      goal: { op: '<=', value: 1.5 },
      note: `${s.median.toFixed(0)} ms (first invocation ${first.median.toFixed(0)} ms of it) vs ${spread(bares.get(name)!).median.toFixed(0)} ms`,
    });
  }
  for (const name of names) {
    const size = (await stat(input.bundles.get(name)!)).size / 1024;
    rows.push({ section: 'bundle size', measure: `${name} (minified .mjs)`, figure: spread([size]), unit: 'KB', goal: { op: '<=', value: 250 } });
  }
  return rows;
}
