import { ConfigError, configProblem, parseConfig } from '../shared/config/config.js';
import { ENV } from '../shared/config/env-names.js';
import { AUTHORIZE_MODES, parseClientsEnv, type AuthorizeMode } from './anaf-emulator/server.js';
import { LOCAL_DEFAULTS } from './defaults.js';

/** `LOCAL_LOG` values: `warnings` (default: warnings, errors and the banner) or `requests` (also a line per request). */
export const LOCAL_LOG_LEVELS = ['warnings', 'requests'] as const;

/** What the local stack reads from its environment before it starts anything. */
export interface LocalSettings {
  port: number;
  apiKey: string | undefined;
  /** The emulator's authorize page at start-up (it can be switched later through its admin API). */
  authorizeMode: AuthorizeMode;
  emulatorClients: Record<string, string>;
  /** Per-request lines (gateway handlers and emulator) besides warnings and the banner. */
  logRequests: boolean;
}

/**
 * Checks the whole environment of `npm run dev` at once, before moto or anything else starts: the
 * runtime configuration (with the local resource names filled in as the stack will) and the local-only
 * variables. Throws one ConfigError naming every problem.
 */
export function parseLocalSettings(env: Record<string, string | undefined>): LocalSettings {
  const problems: string[] = [];
  let port = 0;
  let apiKey: string | undefined;
  try {
    const config = parseConfig({
      ...env,
      [ENV.tableName]: env[ENV.tableName] || LOCAL_DEFAULTS.tableName,
      [ENV.secretPrefix]: env[ENV.secretPrefix] || LOCAL_DEFAULTS.secretPrefix,
    });
    ({ port, localApiKey: apiKey } = config);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }

  const mode = env.ANAF_EMULATOR_AUTHORIZE_MODE || 'interactive';
  if (!(AUTHORIZE_MODES as readonly string[]).includes(mode)) {
    problems.push(configProblem('ANAF_EMULATOR_AUTHORIZE_MODE', `must be one of ${AUTHORIZE_MODES.join(', ')}`, mode));
  }
  let emulatorClients: Record<string, string> = {};
  try {
    emulatorClients = parseClientsEnv(env.ANAF_EMULATOR_CLIENTS);
  } catch {
    // The value holds client secrets: name the shape, never echo it.
    problems.push('ANAF_EMULATOR_CLIENTS: must look like id:secret,id2:secret2');
  }
  const log = env.LOCAL_LOG || 'warnings';
  if (!(LOCAL_LOG_LEVELS as readonly string[]).includes(log)) {
    problems.push(configProblem('LOCAL_LOG', `must be one of ${LOCAL_LOG_LEVELS.join(', ')}`, log));
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return { port, apiKey, authorizeMode: mode as AuthorizeMode, emulatorClients, logRequests: log === 'requests' };
}
