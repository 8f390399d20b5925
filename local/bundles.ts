import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { esbuildOptionsFor } from '../infra/constructs/broker-function.js';
import { FUNCTION_NAMES } from '../shared/http/routes.js';

const ROOT = resolve(import.meta.dirname, '..');

/** Every function's bundle, as `cdk synth` builds it: one `index.mjs` per function under `dir`. */
export interface FunctionBundles {
  dir: string;
  /** Function name → its bundle file. */
  files: ReadonlyMap<string, string>;
  /** Function name → the npm packages its bundle holds (from esbuild's metafile). */
  packages: ReadonlyMap<string, ReadonlySet<string>>;
  /** Loads a function's bundle in this process (plain ESM, no tsx) and answers its `handler`. */
  load<T = unknown>(name: string): Promise<T>;
  remove(): Promise<void>;
}

/**
 * Builds every function's bundle with the esbuild options of infra/constructs/broker-function.ts (the
 * ones NodejsFunction runs), all at once (esbuild works in parallel), into a new temporary folder.
 * Used by `npm run dev --bundles` and test/integration/bundles.test.ts.
 */
export async function buildFunctionBundles(names: readonly string[] = FUNCTION_NAMES): Promise<FunctionBundles> {
  const dir = await mkdtemp(join(tmpdir(), 'anaf-broker-bundles-'));
  const files = new Map<string, string>();
  const packages = new Map<string, Set<string>>();
  try {
    await Promise.all(
      names.map(async (name) => {
        const outfile = join(dir, name, 'index.mjs');
        const result = await build({ ...esbuildOptionsFor(join(ROOT, 'functions', name, 'handler.ts'), outfile), logLevel: 'silent', metafile: true });
        files.set(name, outfile);
        const held = Object.keys(result.metafile.inputs).map((path) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1]);
        packages.set(name, new Set(held.filter((p): p is string => p !== undefined)));
      }),
    );
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    dir,
    files,
    packages,
    load: async <T>(name: string) => {
      const file = files.get(name);
      if (!file) throw new Error(`no bundle for ${name}`);
      return ((await import(pathToFileURL(file).href)) as { handler: T }).handler;
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
