/**
 * The environment variable names shared by the runtime config parser and the CDK stacks,
 * so that infrastructure and code cannot drift apart.
 */
export const ENV = {
  port: 'PORT',
  localApiKey: 'LOCAL_API_KEY',
  publicBaseUrl: 'PUBLIC_BASE_URL',
  anafOauthBaseUrl: 'ANAF_OAUTH_BASE_URL',
  anafApiBaseUrl: 'ANAF_API_BASE_URL',
  anafPublicApiBaseUrl: 'ANAF_PUBLIC_API_BASE_URL',
  anafEfacturaTimeoutMs: 'ANAF_EFACTURA_TIMEOUT_MS',
  returnUrlAllowlist: 'RETURN_URL_ALLOWLIST',
  refreshMarginDays: 'REFRESH_MARGIN_DAYS',
  accessTokenMinValiditySeconds: 'ACCESS_TOKEN_MIN_VALIDITY_SECONDS',
  sweepConcurrency: 'SWEEP_CONCURRENCY',
  sweepIntervalSeconds: 'SWEEP_INTERVAL_SECONDS',
  anafTimeoutMs: 'ANAF_TIMEOUT_MS',
  manualRefreshCooldownSeconds: 'MANUAL_REFRESH_COOLDOWN_SECONDS',
  maxRotationsPerDay: 'MAX_ROTATIONS_PER_DAY',
  anafRotationCap: 'ANAF_ROTATION_CAP',
  tableName: 'TABLE_NAME',
  secretPrefix: 'SECRET_PREFIX',
  eventBusName: 'EVENT_BUS_NAME',
  secretsKmsKeyId: 'SECRETS_KMS_KEY_ID',
  invoiceBucketName: 'INVOICE_BUCKET_NAME',
  // ANAF's call limits, enforced before each e-Factura call (shared/domain/anaf-limits.ts).
  anafLimitCallsPerMinute: 'ANAF_LIMIT_CALLS_PER_MINUTE',
  anafLimitStatusPerMessagePerDay: 'ANAF_LIMIT_STATUS_PER_MESSAGE_PER_DAY',
  anafLimitDownloadsPerMessagePerDay: 'ANAF_LIMIT_DOWNLOADS_PER_MESSAGE_PER_DAY',
  anafLimitListsPerCuiPerDay: 'ANAF_LIMIT_LISTS_PER_CUI_PER_DAY',
  anafLimitPagedListsPerCuiPerDay: 'ANAF_LIMIT_PAGED_LISTS_PER_CUI_PER_DAY',
  anafLimitRaspPerCuiPerDay: 'ANAF_LIMIT_RASP_PER_CUI_PER_DAY',
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];

/** The KMS encryption-context `purpose` of every pair-escrow call; the IAM grant for it requires it. */
export const ESCROW_CONTEXT_PURPOSE = 'anaf-broker-pair-escrow';

/** Name of the sparse global secondary index the sweep queries for due tokens. */
export const DUE_INDEX_NAME = 'due';
/** Attributes the due index carries besides its keys (the health gauges read them). */
export const DUE_INDEX_ATTRIBUTES = ['refreshExpiresAt'] as const;

/** Attribute names of the single table's keys, TTL and due index (shared with the CDK stack). */
export const TABLE_KEYS = {
  partitionKey: 'pk',
  sortKey: 'sk',
  ttl: 'ttl',
  duePartitionKey: 'duePk',
  dueSortKey: 'dueAt',
} as const;
