import { Tags, type App } from 'aws-cdk-lib';
import { fileURLToPath } from 'node:url';
import { DataStack } from './data-stack.js';
import { ServiceStack } from './service-stack.js';
import type { StageConfig } from './stages.js';

/** The repository root (holds package-lock.json and functions/). */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');

export interface BrokerStacks {
  data: DataStack;
  service: ServiceStack;
}

/**
 * Adds one stage's two stacks to `app` (data: table + key; service: everything stateless).
 * Shared by infra/app.ts and the infra tests, which both add the cdk-nag checks to the app.
 */
export function addBrokerStacks(
  app: App,
  config: StageConfig,
  options: { entryFor?: (name: string) => string; env?: { account?: string; region?: string } } = {},
): BrokerStacks {
  const prefix = `AnafBroker-${config.stage}`;
  const common = { env: options.env, terminationProtection: config.retainData };
  const data = new DataStack(app, `${prefix}-Data`, {
    ...common,
    config,
    description: `anaf-broker ${config.stage}: DynamoDB table, the KMS key of the token secrets, the invoice upload bucket`,
  });
  const service = new ServiceStack(app, `${prefix}-Service`, {
    ...common,
    config,
    table: data.table,
    secretsKey: data.secretsKey,
    projectRoot: PROJECT_ROOT,
    entryFor: options.entryFor,
    description: `anaf-broker ${config.stage}: HTTP API, functions, sweep schedule, event bus, alarms`,
  });
  Tags.of(data).add('app', 'anaf-broker');
  Tags.of(service).add('app', 'anaf-broker');
  Tags.of(data).add('stage', config.stage);
  Tags.of(service).add('stage', config.stage);
  return { data, service };
}
