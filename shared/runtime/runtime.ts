import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { getConfig, type Config } from '../config/config.js';
import type { Logger, Metrics } from '../ports.js';
import type { ServiceDeps } from '../services/deps.js';
import { createLogger } from './logger.js';

export interface Runtime {
  config: Config;
  logger: Logger;
  deps: ServiceDeps;
  /**
   * Every AWS SDK client the adapters send through, once an adapter kit built it. Exposed for the IAM
   * grants test, which attaches a recording middleware to each: a client built outside this record would
   * make calls no test sees.
   */
  clients: Partial<AwsClients>;
}

export interface AwsClients {
  dynamodb: DynamoDBDocumentClient;
  secretsManager: SecretsManagerClient;
  eventBridge: EventBridgeClient;
  kms: KMSClient;
  s3: S3Client;
}

/** What a kit builds its adapters from: the parsed configuration and the container's shared SDK clients. */
export interface KitContext {
  config: Config;
  /** The container's one client of that kind, built by `make` on first use (two kits share one DynamoDB client). */
  client<K extends keyof AwsClients>(kind: K, make: () => AwsClients[K]): AwsClients[K];
}

/**
 * An adapter kit: the ports one AWS client (or ANAF) serves. Each kit lives in its own module under
 * shared/runtime/adapters/, so that a function's bundle holds only the SDK clients of the kits its
 * handler names (see `getRuntime`).
 */
export interface AdapterKit {
  name: string;
  build(context: KitContext): Partial<ServiceDeps>;
}

type AdapterPort = 'tenants' | 'companies' | 'tokens' | 'sessions' | 'audit' | 'events' | 'secrets' | 'escrow' | 'anaf' | 'efactura' | 'limits' | 'uploadKeys' | 'invoiceObjects';
const ADAPTER_PORTS: readonly AdapterPort[] = ['tenants', 'companies', 'tokens', 'sessions', 'audit', 'events', 'secrets', 'escrow', 'anaf', 'efactura', 'limits', 'uploadKeys', 'invoiceObjects'];

/** A port no kit of this function provides: any use fails loudly, naming the kit to add. */
function notWired(port: AdapterPort): object {
  return new Proxy(
    {},
    {
      get: (_, member) => {
        if (member === 'then' || typeof member === 'symbol') return undefined;
        throw new Error(`deps.${port}.${String(member)}: no adapter kit of this function provides "${port}" (add it where the handler names its kits)`);
      },
    },
  );
}

/**
 * Metrics of a function without the metrics kit: a count or a gauge throws, naming the kit (a metric an
 * alarm watches is never dropped unseen); the flush at the end of every invocation has nothing to write.
 */
const METRICS_NOT_WIRED: Metrics = {
  count: (name) => {
    throw new Error(`deps.metrics.count: no adapter kit of this function provides "metrics" (add cloudWatchMetrics where the handler names its kits; counting ${name})`);
  },
  gauge: (name) => {
    throw new Error(`deps.metrics.gauge: no adapter kit of this function provides "metrics" (add cloudWatchMetrics where the handler names its kits; gauge ${name})`);
  },
  flush: () => undefined,
};

/**
 * Composition root: the parsed configuration, logs and settings, and the ports of the kits installed
 * (`install`); every other port throws on use (metrics: see METRICS_NOT_WIRED). AWS endpoints come from
 * the SDK's own settings (`AWS_ENDPOINT_URL` points them at moto locally).
 */
export function createRuntime(config: Config, kits: readonly AdapterKit[] = [], logger: Logger = createLogger()): Runtime & { install(kits: readonly AdapterKit[]): void } {
  const clients: Partial<AwsClients> = {};
  const installed = new Set<string>();
  const deps = {
    ...Object.fromEntries(ADAPTER_PORTS.map((port) => [port, notWired(port)])),
    clock: { now: () => new Date() },
    logger,
    metrics: METRICS_NOT_WIRED,
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
      rotationCap: config.anafRotationCap,
      anafTimeoutMs: config.anafTimeoutMs,
      defaultAnafEnvironment: /\/test\/FCTEL\/rest$/.test(config.anafApiBaseUrl) ? 'test' : 'prod',
      efacturaTimeoutMs: config.anafEfacturaTimeoutMs,
      anafLimits: config.anafLimits,
    },
  } as ServiceDeps;
  const context: KitContext = {
    config,
    client: (kind, make) => (clients[kind] ??= make()) as AwsClients[typeof kind],
  };
  const install = (more: readonly AdapterKit[]) => {
    for (const kit of more) {
      if (installed.has(kit.name)) continue;
      installed.add(kit.name);
      Object.assign(deps, kit.build(context));
    }
  };
  install(kits);
  return { config, logger, deps, clients, install };
}

let runtime: ReturnType<typeof createRuntime> | undefined;

/**
 * The container's runtime, built on first use, with `kits` installed. Per-function composition: each
 * handler names the kits its code path uses (`httpHandler(run, { adapters: [...] })`, or
 * `getRuntime(...)` in a non-HTTP handler), so its bundle loads only those SDK clients. In Lambda one
 * process runs one function; where several handlers share a process (the local stack, the tests), each
 * adds its kits to the one runtime. test/integration/bundles.test.ts checks that each bundle holds the
 * clients its IAM grants name, no more, no fewer.
 */
export function getRuntime(...kits: AdapterKit[]): Runtime {
  runtime ??= createRuntime(getConfig());
  runtime.install(kits);
  return runtime;
}
