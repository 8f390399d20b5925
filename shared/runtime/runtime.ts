import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createEfacturaClient } from '../adapters/anaf/efactura-client.js';
import { createAnafOAuthClient } from '../adapters/anaf/oauth-client.js';
import { createDynamoAuditStore } from '../adapters/dynamodb/audit-store.js';
import { createDocumentClient } from '../adapters/dynamodb/client.js';
import { createDynamoCompanyStore } from '../adapters/dynamodb/company-store.js';
import { createDynamoLimitStore } from '../adapters/dynamodb/limit-store.js';
import { createDynamoSessionStore } from '../adapters/dynamodb/session-store.js';
import { createDynamoTenantStore } from '../adapters/dynamodb/tenant-store.js';
import { createDynamoTokenStore } from '../adapters/dynamodb/token-store.js';
import { createDynamoUploadKeyStore } from '../adapters/dynamodb/upload-key-store.js';
import { createKmsPairEscrow } from '../adapters/escrow/kms-escrow.js';
import { createEventBridgePublisher } from '../adapters/eventbridge/event-publisher.js';
import { createSecretsManagerStore } from '../adapters/secrets-manager/secret-store.js';
import { awsClientSettings } from '../config/aws-calls.js';
import { getConfig, type Config } from '../config/config.js';
import type { Logger } from '../ports.js';
import type { ServiceDeps } from '../services/deps.js';
import { createLogger } from './logger.js';
import { createMetrics } from './metrics.js';

export interface Runtime {
  config: Config;
  logger: Logger;
  deps: ServiceDeps;
  /**
   * Every AWS SDK client the adapters send through. Exposed for the IAM grants test, which attaches a
   * recording middleware to each: a client built outside this record would make calls no test sees.
   */
  clients: AwsClients;
}

export interface AwsClients {
  dynamodb: DynamoDBDocumentClient;
  secretsManager: SecretsManagerClient;
  eventBridge: EventBridgeClient;
  kms: KMSClient;
}

/**
 * Composition root: the real adapters, built once per container from the parsed configuration.
 * AWS endpoints come from the SDK's own settings (`AWS_ENDPOINT_URL` points them at moto locally).
 */
export function createRuntime(config: Config, logger: Logger = createLogger()): Runtime {
  const doc = createDocumentClient();
  const secretsManager = new SecretsManagerClient(awsClientSettings());
  const eventBridge = new EventBridgeClient(awsClientSettings());
  const kms = new KMSClient(awsClientSettings());
  const table = config.tableName;
  const deps: ServiceDeps = {
    tenants: createDynamoTenantStore({ doc, table }),
    companies: createDynamoCompanyStore({ doc, table }),
    tokens: createDynamoTokenStore({ doc, table }),
    sessions: createDynamoSessionStore({ doc, table }),
    audit: createDynamoAuditStore({ doc, table }),
    events: createEventBridgePublisher({ client: eventBridge, busName: config.eventBusName }),
    secrets: createSecretsManagerStore({ client: secretsManager, prefix: config.secretPrefix, kmsKeyId: config.secretsKmsKeyId }),
    escrow: createKmsPairEscrow({ doc, kms, table, kmsKeyId: config.secretsKmsKeyId }),
    anaf: createAnafOAuthClient({ oauthBaseUrl: config.anafOauthBaseUrl, timeoutMs: config.anafTimeoutMs }),
    efactura: createEfacturaClient({ apiBaseUrl: config.anafApiBaseUrl, publicApiBaseUrl: config.anafPublicApiBaseUrl }),
    limits: createDynamoLimitStore({ doc, table }),
    uploadKeys: createDynamoUploadKeyStore({ doc, table }),
    clock: { now: () => new Date() },
    logger,
    metrics: createMetrics(),
    settings: {
      publicBaseUrl: config.publicBaseUrl,
      callbackUrl: config.callbackUrl,
      anafOauthBaseUrl: config.anafOauthBaseUrl,
      returnUrlAllowlist: config.returnUrlAllowlist,
      refreshMarginDays: config.refreshMarginDays,
      accessTokenMinValiditySeconds: config.accessTokenMinValiditySeconds,
      sweepConcurrency: config.sweepConcurrency,
      manualRefreshCooldownSeconds: config.manualRefreshCooldownSeconds,
      maxRotationsPerDay: config.maxRotationsPerDay,
      anafTimeoutMs: config.anafTimeoutMs,
      defaultAnafEnvironment: /\/test\/FCTEL\/rest$/.test(config.anafApiBaseUrl) ? 'test' : 'prod',
      efacturaTimeoutMs: config.anafEfacturaTimeoutMs,
      anafLimits: config.anafLimits,
    },
  };
  return { config, logger, deps, clients: { dynamodb: doc, secretsManager, eventBridge, kms } };
}

let runtime: Runtime | undefined;

/** The container's runtime, built on first use. */
export function getRuntime(): Runtime {
  runtime ??= createRuntime(getConfig());
  return runtime;
}
