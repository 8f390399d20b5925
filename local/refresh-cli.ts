/**
 * `npm run refresh -- --tenant <tenantId> (--cui <cui> | --token <tokenId>)`: a manual refresh from the
 * command line. It calls the manual-refresh Lambda handler in this process, with the same configuration
 * a Lambda gets from its environment (TABLE_NAME, SECRET_PREFIX, EVENT_BUS_NAME, ANAF_OAUTH_BASE_URL and
 * the AWS SDK's own variables), so it works against real AWS with credentials, and against the moto
 * server of a running `npm run dev` when AWS_ENDPOINT_URL points at it (the local resource names are
 * then the defaults). Prints the token metadata (never a token) as JSON; exit code 0 on success, 1 when
 * the service answered an error, 2 on bad usage or configuration (one line saying what to set, never a
 * stack trace).
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, parseConfig } from '../shared/config/config.js';
import { ENV } from '../shared/config/env-names.js';
import { LOCAL_DEFAULTS } from './defaults.js';

const USAGE = 'usage: npm run refresh -- --tenant <tenantId> (--cui <cui> | --token <tokenId>)';
const PASTE_THE_LINE = 'paste the line npm run dev prints (export AWS_ENDPOINT_URL=… ANAF_OAUTH_BASE_URL=…) into this terminal first';

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
  const env = process.env;
  // The machines run Node 20 and Lambda runs Node 22: the SDK's Node-version notice is not news here.
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ||= 'true';
  if (!env.AWS_ENDPOINT_URL && !env[ENV.tableName]) {
    print(`npm run refresh: no stack to talk to: ${PASTE_THE_LINE}; for a deployed stack set ${ENV.tableName}, ${ENV.secretPrefix}, ${ENV.eventBusName} and AWS credentials.`);
    return 2;
  }
  if (!useLocalDefaults(env)) {
    print('npm run refresh: AWS_ENDPOINT_URL points at a local stack but ANAF_OAUTH_BASE_URL is not set: the refresh would go to the real ANAF.\n'
      + `Set ANAF_OAUTH_BASE_URL to the emulator: ${PASTE_THE_LINE}.`);
    return 2;
  }
  try {
    parseConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    print(`npm run refresh: ${error.message}. Against npm run dev: ${PASTE_THE_LINE}.`);
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
  env.SECRETS_KMS_KEY_ID ||= LOCAL_DEFAULTS.kmsAlias;
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
