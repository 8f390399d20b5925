import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { esbuildOptionsFor } from '../infra/constructs/broker-function.js';
import { FUNCTION_NAMES } from '../shared/http/routes.js';

const ROOT = resolve(import.meta.dirname, '..');

/** The npm package a metafile input belongs to (undefined for the project's own files). */
const packageOf = (path: string) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1];

/** Every function's bundle, as `cdk synth` builds it: one `index.mjs` per function under `dir`. */
export interface FunctionBundles {
  dir: string;
  /** Function name → its bundle file. */
  files: ReadonlyMap<string, string>;
  /** Function name → the npm packages its bundle holds (from esbuild's metafile). */
  packages: ReadonlyMap<string, ReadonlySet<string>>;
  /** Function name → bytes of the minified bundle each npm package (or `project`) takes, largest first. */
  weights: ReadonlyMap<string, ReadonlyArray<readonly [string, number]>>;
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
  const weights = new Map<string, [string, number][]>();
  try {
    await Promise.all(
      names.map(async (name) => {
        const outfile = join(dir, name, 'index.mjs');
        const result = await build({ ...esbuildOptionsFor(join(ROOT, 'functions', name, 'handler.ts'), outfile), logLevel: 'silent', metafile: true });
        files.set(name, outfile);
        const held = Object.keys(result.metafile.inputs).map(packageOf);
        packages.set(name, new Set(held.filter((p): p is string => p !== undefined)));
        const by = new Map<string, number>();
        const output = Object.values(result.metafile.outputs).find((o) => o.entryPoint !== undefined)!;
        for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) by.set(packageOf(path) ?? 'project', (by.get(packageOf(path) ?? 'project') ?? 0) + bytesInOutput);
        weights.set(name, [...by].sort((a, b) => b[1] - a[1]));
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
    weights,
    load: async <T>(name: string) => {
      const file = files.get(name);
      if (!file) throw new Error(`no bundle for ${name}`);
      return ((await import(pathToFileURL(file).href)) as { handler: T }).handler;
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * `npx tsx local/bundles.ts --analyze [function…]`: each bundle's size and what each package takes of
 * it (esbuild's metafile), to see what a dependency costs before choosing it (README "Performance").
 */
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv.includes('--analyze')) {
  const asked = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const bundles = await buildFunctionBundles(asked.length > 0 ? asked : FUNCTION_NAMES);
  const kb = (bytes: number) => (bytes / 1024).toFixed(1).padStart(6);
  for (const [name, file] of [...bundles.files].sort()) {
    console.log(`${name}: ${kb((await stat(file)).size)} KB`);
    for (const [pkg, bytes] of bundles.weights.get(name)!) if (bytes >= 512) console.log(`  ${kb(bytes)}  ${pkg}`);
  }
  await bundles.remove();
}
