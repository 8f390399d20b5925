import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { build } from 'esbuild';
import { esbuildOptionsFor, FUNCTION_ENV_EXTRA } from '../infra/constructs/broker-function.js';
import { functionEnvironment } from '../infra/service-stack.js';
import { resolveStageConfig } from '../infra/stages.js';
import { ENV } from '../shared/config/env-names.js';
import { FUNCTION_NAMES } from '../shared/http/routes.js';
import { apiGatewayEvent, matchRoute } from './gateway.js';

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
        const result = await build({ ...esbuildOptionsFor(join(ROOT, 'functions', name, 'handler.ts'), outfile, name), logLevel: 'silent', metafile: true });
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

/** Where the local stack runs, as the service stack's environment needs it. */
export interface LocalTargets {
  apiUrl: string;
  motoEndpoint: string;
  anafOauthBaseUrl: string;
  anafApiBaseUrl: string;
  anafPublicApiBaseUrl: string;
}

/**
 * The environment CDK gives every function (functionEnvironment + the construct's extra), with the
 * local stack's resources (read from process.env, where startLocalStack wrote them) and what the Lambda
 * runtime itself sets; add AWS_LAMBDA_FUNCTION_NAME per function. Used by `npm run bench`.
 */
export function bundleEnvironment(targets: LocalTargets): Record<string, string> {
  const config = resolveStageConfig((key) => (key === 'stage' ? 'dev' : undefined));
  return {
    ...functionEnvironment(
      {
        ...config,
        anafOauthBaseUrl: targets.anafOauthBaseUrl,
        anafApiBaseUrl: targets.anafApiBaseUrl,
        anafPublicApiBaseUrl: targets.anafPublicApiBaseUrl,
        secretPrefix: process.env[ENV.secretPrefix]!,
      },
      {
        tableName: process.env[ENV.tableName]!,
        eventBusName: process.env[ENV.eventBusName]!,
        secretsKmsKeyId: process.env[ENV.secretsKmsKeyId]!,
        invoiceBucketName: process.env[ENV.invoiceBucketName]!,
        publicBaseUrl: targets.apiUrl,
        returnUrlAllowlist: new URL(targets.apiUrl).origin,
      },
    ),
    ...FUNCTION_ENV_EXTRA,
    AWS_REGION: process.env.AWS_REGION!,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL: targets.motoEndpoint,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    TZ: 'UTC',
  };
}

/** The payload-v2 event API Gateway sends the function of the route that serves `method path?query` (JSON or a string body). */
export function routeEvent(apiUrl: string, method: string, pathAndQuery: string, body?: unknown, contentType = 'application/json'): APIGatewayProxyEventV2 {
  const url = new URL(pathAndQuery, apiUrl);
  const route = matchRoute(method, url.pathname);
  if (!route) throw new Error(`no route for ${method} ${url.pathname}`);
  const headers: Record<string, string> = { host: url.host, 'user-agent': 'bundle-run' };
  if (body !== undefined) headers['content-type'] = contentType;
  return apiGatewayEvent(route, { url, headers, body: body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)) });
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
