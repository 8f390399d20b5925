import type { TestProject } from 'vitest/node';
import { startMoto, type MotoServer } from '../../local/moto.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** One moto endpoint per worker slot: VITEST_POOL_ID n uses entry n - 1 (see startTestStack). */
    motoEndpoints: string[];
  }
}

/**
 * vitest globalSetup of the stack tests: one single-threaded moto per worker slot, started once for the
 * run instead of once per file (a Python start costs seconds of CPU). A file has its worker's moto to
 * itself while it runs, and startTestStack resets it (moto's `POST /moto-api/reset`) before the file's
 * stack bootstraps, so every file still starts from an empty moto.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const workers = Math.max(1, Number(project.config.maxWorkers) || 1);
  const started = await Promise.allSettled(Array.from({ length: workers }, () => startMoto()));
  const motos = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const stopAll = async () => {
    await Promise.all(motos.map((moto: MotoServer) => moto.stop()));
  };
  const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) {
    await stopAll();
    throw failed.reason;
  }
  project.provide('motoEndpoints', motos.map((moto) => moto.endpoint));
  return stopAll;
}
