/**
 * `npm run refresh -- --tenant <tenantId> (--cui <cui> | --token <tokenId>)`: a manual refresh from the
 * command line. It calls the manual-refresh Lambda handler in this process, with the same configuration
 * a Lambda gets from its environment (TABLE_NAME, SECRET_PREFIX, EVENT_BUS_NAME, ANAF_OAUTH_BASE_URL and
 * the AWS SDK's own variables), so it works against real AWS with credentials, and against the moto
 * server of a running `npm run dev` when AWS_ENDPOINT_URL points at it (the local resource names are
 * then the defaults). Prints the token metadata (never a token) as JSON; exit code 0 on success, 1 when
 * the service answered an error, 2 on bad usage.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { LOCAL_DEFAULTS } from './defaults.js';

const USAGE = 'usage: npm run refresh -- --tenant <tenantId> (--cui <cui> | --token <tokenId>)';

/** Runs the CLI with `argv` (without node and script); answers the exit code. */
export async function main(argv: string[], print: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): Promise<number> {
  let values: { tenant?: string; cui?: string; token?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { tenant: { type: 'string' }, cui: { type: 'string' }, token: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }));
  } catch (error) {
    print(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help || !values.tenant || !values.cui === !values.token) {
    print(USAGE);
    return values.help ? 0 : 2;
  }
  if (!useLocalDefaults(process.env)) {
    print('AWS_ENDPOINT_URL points at a local stack but ANAF_OAUTH_BASE_URL is not set: the refresh would go to the real ANAF.\n'
      + 'Set ANAF_OAUTH_BASE_URL to the emulator (npm run dev prints it: <emulator>/anaf-oauth2/v1).');
    return 2;
  }
  const { handler } = await import('../functions/manual-refresh/handler.js');
  const answer = await handler(values.cui ? { tenantId: values.tenant, cui: values.cui } : { tenantId: values.tenant, tokenId: values.token });
  print(JSON.stringify(answer, null, 2));
  return 'error' in answer ? 1 : 0;
}

/**
 * Against a local endpoint (moto of `npm run dev`), fills what the dev stack uses and AWS would not need.
 * Answers false when the local setup would send a local token to the real ANAF (which would refuse it and
 * mark the token reauth-required).
 */
function useLocalDefaults(env: NodeJS.ProcessEnv): boolean {
  const endpoint = env.AWS_ENDPOINT_URL;
  if (!endpoint || !/^https?:\/\/(127\.0\.0\.1|localhost)[:/]/.test(endpoint)) return true;
  if (!env.ANAF_OAUTH_BASE_URL) return false;
  env.TABLE_NAME ||= LOCAL_DEFAULTS.tableName;
  env.SECRET_PREFIX ||= LOCAL_DEFAULTS.secretPrefix;
  env.EVENT_BUS_NAME ||= LOCAL_DEFAULTS.eventBusName;
  env.AWS_REGION ||= LOCAL_DEFAULTS.region;
  env.AWS_ACCESS_KEY_ID ||= 'local';
  env.AWS_SECRET_ACCESS_KEY ||= 'local';
  env.POWERTOOLS_LOG_LEVEL ||= 'ERROR';
  env.POWERTOOLS_METRICS_DISABLED ||= 'true';
  return true;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
