import { join, resolve } from 'node:path';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { build } from 'esbuild';
import { esbuildOptionsFor, FUNCTION_ENV_EXTRA } from '../infra/constructs/broker-function.js';
import { functionEnvironment } from '../infra/service-stack.js';
import { resolveStageConfig } from '../infra/stages.js';
import { ENV } from '../shared/config/env-names.js';
import { FUNCTION_NAMES } from '../shared/http/routes.js';
import { apiGatewayEvent, matchRoute } from './gateway.js';

/*
 * The deployed code, built and started the way Lambda starts it: the bundles test and `npm run bench`
 * both build every function with the esbuild options of infra/constructs/broker-function.ts and run
 * each bundle with the environment the service stack gives it, pointed at the local parts.
 */

const ROOT = resolve(import.meta.dirname, '..');

/** Builds each function's bundle (`<dir>/<name>/index.mjs`, the construct's options); answers name → file. */
export async function buildBundles(dir: string, names: readonly string[] = FUNCTION_NAMES): Promise<Map<string, string>> {
  const bundles = new Map<string, string>();
  // All at once: esbuild runs them in parallel itself.
  await Promise.all(
    names.map(async (name) => {
      const outfile = join(dir, name, 'index.mjs');
      await build({ ...esbuildOptionsFor(join(ROOT, 'functions', name, 'handler.ts'), outfile), logLevel: 'silent' });
      bundles.set(name, outfile);
    }),
  );
  return bundles;
}

/** Where the local stack runs, as the service stack's environment needs it. */
export interface LocalTargets {
  apiUrl: string;
  motoEndpoint: string;
  anafOauthBaseUrl: string;
  anafApiBaseUrl: string;
}

/**
 * The environment CDK gives every function (functionEnvironment + the construct's extra), with the
 * local stack's resources (read from process.env, where startLocalStack wrote them) and what the Lambda
 * runtime itself sets; add AWS_LAMBDA_FUNCTION_NAME per function.
 */
export function bundleEnvironment(targets: LocalTargets): Record<string, string> {
  const config = resolveStageConfig((key) => (key === 'stage' ? 'dev' : undefined));
  return {
    ...functionEnvironment(
      {
        ...config,
        // The stack's own values: the emulator instead of ANAF, the prefix the local stack uses.
        anafOauthBaseUrl: targets.anafOauthBaseUrl,
        anafApiBaseUrl: targets.anafApiBaseUrl,
        secretPrefix: process.env[ENV.secretPrefix]!,
      },
      {
        tableName: process.env[ENV.tableName]!,
        eventBusName: process.env[ENV.eventBusName]!,
        secretsKmsKeyId: process.env[ENV.secretsKmsKeyId]!,
        publicBaseUrl: targets.apiUrl,
        returnUrlAllowlist: new URL(targets.apiUrl).origin,
      },
    ),
    ...FUNCTION_ENV_EXTRA,
    // What the Lambda runtime sets, with moto's endpoint for every AWS client.
    AWS_REGION: process.env.AWS_REGION!,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL: targets.motoEndpoint,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    TZ: 'UTC',
  };
}

/** The payload-v2 event API Gateway sends the function of the route that serves `method path?query`. */
export function routeEvent(apiUrl: string, method: string, pathAndQuery: string, body?: unknown): APIGatewayProxyEventV2 {
  const url = new URL(pathAndQuery, apiUrl);
  const route = matchRoute(method, url.pathname);
  if (!route) throw new Error(`no route for ${method} ${url.pathname}`);
  const headers: Record<string, string> = { host: url.host, 'user-agent': 'bundle-run' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  return apiGatewayEvent(route, { url, headers, body: body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)) });
}
