import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type { Logger } from '../ports.js';

/** Structured JSON logs through Powertools. Callers pass metadata only; nothing here sees a secret. */
export function createLogger(serviceName = 'anaf-broker'): Logger {
  const logger = new PowertoolsLogger({ serviceName });
  return {
    info: (message, extra) => logger.info(message, extra ?? {}),
    warn: (message, extra) => logger.warn(message, extra ?? {}),
    error: (message, extra) => logger.error(message, extra ?? {}),
  };
}
