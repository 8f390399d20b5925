/** Runs each variant in a child process of its own and collects their results. */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SimulationOptions } from './options.js';
import type { SimulationResult } from './run.js';

const VARIANT = fileURLToPath(new URL('./variant.ts', import.meta.url));

export interface Progress {
  /** Simulated days done over all runs, of `total`. */
  done: number;
  total: number;
  variants: number;
}

/** Runs the variants, `parallel` at a time (each child runs its own moto and emulator); results in variant order. */
export async function simulateVariants(variants: SimulationOptions[], onProgress?: (p: Progress) => void, parallel = 2): Promise<SimulationResult[]> {
  const results: SimulationResult[] = [];
  const days = new Array<number>(variants.length).fill(0);
  const total = variants.reduce((sum, v) => sum + v.days, 0);
  let next = 0;
  const worker = async () => {
    while (next < variants.length) {
      const i = next++;
      results[i] = await runChild(i, variants[i]!, (day) => {
        days[i] = day;
        onProgress?.({ done: days.reduce((a, b) => a + b, 0), total, variants: variants.length });
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, variants.length) }, worker));
  return results;
}

function runChild(i: number, options: SimulationOptions, onDay: (day: number) => void): Promise<SimulationResult> {
  return new Promise<SimulationResult>((resolve, reject) => {
    const child = fork(VARIANT, [JSON.stringify(options)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    let settled = false;
    child.on('message', (message: { day?: number; result?: SimulationResult; error?: string }) => {
      if (message.day !== undefined) onDay(message.day + 1);
      if (message.result) {
        settled = true;
        resolve(message.result);
      }
      if (message.error) {
        settled = true;
        reject(new Error(`simulation run ${i + 1} failed: ${message.error}`));
      }
    });
    child.on('exit', (code) => {
      if (!settled) reject(new Error(`simulation run ${i + 1} exited with ${code}`));
    });
  });
}
