import * as z from 'zod/mini';
import { EFACTURA_TIMEOUT_MAX_MS } from '../shared/config/config.js';
import { DEFAULT_LIMITS, type LimitConfig } from '../shared/domain/anaf-limits.js';

/**
 * Per-stage deployment settings. `-c stage=dev|prod` picks the defaults below; a few values that differ
 * between ERP vendors can be overridden with context (`-c returnUrlOrigins=https://erp.example.com` or
 * the `context` block of cdk.json), and everything is validated once, with one message naming every
 * bad value, before any construct is built.
 */

export const STAGE_NAMES = ['dev', 'prod'] as const;
export type StageName = (typeof STAGE_NAMES)[number];

export const ANAF_OAUTH_BASE_URL = 'https://logincert.anaf.ro/anaf-oauth2/v1';
/** ANAF's public host (validare, transformare): production only. */
export const ANAF_PUBLIC_API_BASE_URL = 'https://webservicesp.anaf.ro/prod/FCTEL/rest';
export const ANAF_API_BASE_URLS = {
  test: 'https://api.anaf.ro/test/FCTEL/rest',
  prod: 'https://api.anaf.ro/prod/FCTEL/rest',
} as const;
export type AnafEnvironment = keyof typeof ANAF_API_BASE_URLS;

/** The ANAF timeout must leave the OAuth callback (28 s Lambda, 30 s API Gateway) room to store the pair. */
export const MAX_ANAF_TIMEOUT_MS = 12_000;

/** Retention periods CloudWatch Logs accepts (days). */
const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

export interface StageConfig {
  stage: StageName;
  /** `test` talks to api.anaf.ro/test (same OAuth host); `prod` to the production e-Factura API. */
  anafEnvironment: AnafEnvironment;
  anafApiBaseUrl: string;
  anafOauthBaseUrl: string;
  /** validare / transformare: production only, whatever the environment. */
  anafPublicApiBaseUrl: string;
  /** What one e-Factura request may spend on ANAF (ANAF_EFACTURA_TIMEOUT_MS), below API Gateway's 30 s. */
  anafEfacturaTimeoutMs: number;
  /** Origins the connect flow may send browsers back to (the ERP's web app). Empty: the API's own origin. */
  returnUrlOrigins: string[];
  /** Where browsers reach the API (a custom domain in front of it); default: the API's execute-api URL. */
  publicBaseUrl?: string;
  /** EventBridge schedule expression of the refresh sweep (UTC). */
  sweepSchedule: string;
  refreshMarginDays: number;
  accessTokenMinValiditySeconds: number;
  sweepConcurrency: number;
  anafTimeoutMs: number;
  manualRefreshCooldownSeconds: number;
  maxRotationsPerDay: number;
  /** Rotations ANAF is assumed to allow per authorization (ANAF_ROTATION_CAP); unset: no cap assumed. */
  anafRotationCap?: number;
  /** ANAF's call limits the functions enforce before calling (the ANAF_LIMIT_* variables); edit STAGE_DEFAULTS to change them. */
  anafLimits: LimitConfig;
  /** prod: RETAIN + deletion protection on table, key and logs; dev: DESTROY. */
  retainData: boolean;
  /** Name prefix of every secret the functions create (IAM is scoped to it). */
  secretPrefix: string;
  /** Optional address subscribed to the alarm topic (confirm the e-mail AWS sends). */
  alarmEmail?: string;
  logRetentionDays: number;
  /**
   * Per-route throttles (requests per second, burst). Each route has a bucket of its own, so a flood of
   * the public browser routes (`/v1/oauth/*`) answers 429 there and never on the ERP's service routes.
   */
  serviceThrottleRate: number;
  serviceThrottleBurst: number;
  publicThrottleRate: number;
  publicThrottleBurst: number;
  /**
   * Reserve Lambda concurrency for the access-token function and the sweep, so a flood elsewhere in the
   * account cannot leave them without capacity. Off by default: every reservation must leave the account
   * 100 unreserved, so on an account with a low concurrency limit (new accounts: 10) the deploy fails.
   * A reservation is also a cap: above it the function is throttled.
   */
  reservedConcurrency: boolean;
  accessTokenReservedConcurrency: number;
  sweepReservedConcurrency: number;
  /** Alarm thresholds. */
  alarms: { refreshFailures: number; reauthRequiredTokens: number; api5xx: number };
  /** Issue 10, secrets key policy (infra/data-stack.ts): a role that may decrypt every secret in an emergency. */
  breakGlassRoleArn?: string;
  /** Issue 10: a role that administers the secrets key besides the CDK deploy role (cannot use it). */
  keyAdminRoleArn?: string;
}

type StageDefaults = Omit<StageConfig, 'stage' | 'anafApiBaseUrl' | 'anafOauthBaseUrl' | 'anafPublicApiBaseUrl' | 'secretPrefix'> & {
  secretPrefix?: string;
};

const COMMON = {
  returnUrlOrigins: [],
  sweepSchedule: 'cron(0 3 * * ? *)',
  refreshMarginDays: 30,
  accessTokenMinValiditySeconds: 3600,
  sweepConcurrency: 4,
  anafTimeoutMs: 10_000,
  anafEfacturaTimeoutMs: 25_000,
  manualRefreshCooldownSeconds: 600,
  maxRotationsPerDay: 24,
  anafLimits: DEFAULT_LIMITS,
  reservedConcurrency: false,
  sweepReservedConcurrency: 2,
  alarms: { refreshFailures: 1, reauthRequiredTokens: 0, api5xx: 5 },
} satisfies Partial<StageDefaults>;

/** Edit these to change what `-c stage=…` deploys; context keys below override them per deployment. */
export const STAGE_DEFAULTS: Record<StageName, StageDefaults> = {
  dev: {
    ...COMMON,
    anafEnvironment: 'test',
    retainData: false,
    logRetentionDays: 14,
    serviceThrottleRate: 20,
    serviceThrottleBurst: 40,
    publicThrottleRate: 5,
    publicThrottleBurst: 10,
    accessTokenReservedConcurrency: 5,
  },
  prod: {
    ...COMMON,
    anafEnvironment: 'prod',
    retainData: true,
    logRetentionDays: 180,
    serviceThrottleRate: 100,
    serviceThrottleBurst: 200,
    // A person connects a certificate a few times a year; 10/s is far above any real use.
    publicThrottleRate: 10,
    publicThrottleBurst: 20,
    accessTokenReservedConcurrency: 50,
  },
};

/** Context keys that override a stage default (`-c key=value`; lists comma-separated). */
export const OVERRIDABLE_KEYS = [
  'anafEnvironment',
  'returnUrlOrigins',
  'publicBaseUrl',
  'sweepSchedule',
  'refreshMarginDays',
  'accessTokenMinValiditySeconds',
  'sweepConcurrency',
  'anafTimeoutMs',
  'manualRefreshCooldownSeconds',
  'maxRotationsPerDay',
  'anafRotationCap',
  'secretPrefix',
  'alarmEmail',
  'serviceThrottleRate',
  'serviceThrottleBurst',
  'publicThrottleRate',
  'publicThrottleBurst',
  'reservedConcurrency',
  'accessTokenReservedConcurrency',
  'sweepReservedConcurrency',
  'breakGlassRoleArn',
  'keyAdminRoleArn',
] as const;

/** Switches: `-c key=true|false` arrives as a string, cdk.json's context block as a boolean. */
const BOOLEAN_KEYS = new Set<string>(['reservedConcurrency']);

export class StageConfigError extends Error {
  override name = 'StageConfigError';
}

const isOrigin = (value: string) => {
  try {
    const url = new URL(value);
    const local = url.protocol === 'http:' && ['localhost', '127.0.0.1'].includes(url.hostname);
    return url.origin === value && (url.protocol === 'https:' || local);
  } catch {
    return false;
  }
};

const isHttpsUrl = (value: string) => {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' && !url.search && !url.hash && !url.username;
  } catch {
    return false;
  }
};

const int = (min: number, max: number) => {
  const message = `must be an integer from ${min} to ${max}`;
  return z.coerce.number(message).check(z.int(message), z.minimum(min, message), z.maximum(max, message));
};

const roleArn = z.string().check(z.regex(/^arn:aws[\w-]*:iam::\d{12}:role\/[\w+=,.@\/-]+$/, 'must be an IAM role ARN'));

const schema = z.object({
  stage: z.enum(STAGE_NAMES, `must be one of ${STAGE_NAMES.join(', ')}`),
  anafEnvironment: z.enum(['test', 'prod'], 'must be test or prod'),
  returnUrlOrigins: z.array(
    z.string().check(z.refine(isOrigin, 'must be an origin like https://erp.example.com (no path, no trailing slash)')),
  ),
  publicBaseUrl: z.optional(z.string().check(z.refine(isHttpsUrl, 'must be an https URL without query or fragment'))),
  sweepSchedule: z.string().check(
    z.regex(/^(cron\(\S+( \S+){5}\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\))$/, 'must be an EventBridge cron(…) or rate(…) expression'),
  ),
  refreshMarginDays: int(1, 80),
  accessTokenMinValiditySeconds: int(0, 86_400),
  sweepConcurrency: int(1, 32),
  anafTimeoutMs: int(1000, MAX_ANAF_TIMEOUT_MS),
  anafEfacturaTimeoutMs: int(1000, EFACTURA_TIMEOUT_MAX_MS),
  manualRefreshCooldownSeconds: int(0, 3600),
  maxRotationsPerDay: int(1, 1000),
  anafRotationCap: z.optional(int(1, 100_000)),
  anafLimits: z.object({
    callsPerMinute: int(1, 1_000_000),
    statusPerMessagePerDay: int(1, 1_000_000),
    downloadsPerMessagePerDay: int(1, 1_000_000),
    listsPerCuiPerDay: int(1, 1_000_000),
    pagedListsPerCuiPerDay: int(1, 1_000_000),
    raspPerCuiPerDay: int(1, 1_000_000),
  }),
  retainData: z.boolean(),
  secretPrefix: z.string().check(
    z.regex(/^[A-Za-z0-9/_+=.@-]{1,200}\/$/, 'must use secret-name characters only and end with "/"'),
  ),
  alarmEmail: z.optional(z.string().check(z.regex(/^[^@\s]+@[^@\s]+\.[^@\s]+$/, 'must be an e-mail address'))),
  logRetentionDays: z.number().check(
    z.refine((n) => (LOG_RETENTION_DAYS as readonly number[]).includes(n), 'must be a CloudWatch Logs retention period'),
  ),
  serviceThrottleRate: int(1, 10_000),
  serviceThrottleBurst: int(1, 5000),
  publicThrottleRate: int(1, 10_000),
  publicThrottleBurst: int(1, 5000),
  reservedConcurrency: z.boolean('must be true or false'),
  accessTokenReservedConcurrency: int(1, 1000),
  sweepReservedConcurrency: int(1, 1000),
  alarms: z.object({ refreshFailures: int(1, 100_000), reauthRequiredTokens: int(0, 100_000), api5xx: int(1, 100_000) }),
  breakGlassRoleArn: z.optional(roleArn),
  keyAdminRoleArn: z.optional(roleArn),
});

/**
 * Builds and validates the stage configuration from CDK context (`tryGetContext`).
 * Throws one StageConfigError naming every bad value.
 */
export function resolveStageConfig(context: (key: string) => unknown): StageConfig {
  const stage = String(context('stage') ?? 'dev');
  if (!(STAGE_NAMES as readonly string[]).includes(stage)) {
    throw new StageConfigError(
      `Invalid stage configuration: stage must be one of ${STAGE_NAMES.join(', ')} (got "${stage}"); pass -c stage=dev or -c stage=prod`,
    );
  }
  const defaults = STAGE_DEFAULTS[stage as StageName];
  const overrides: Record<string, unknown> = {};
  for (const key of OVERRIDABLE_KEYS) {
    const value = context(key);
    if (value === undefined || value === '') continue;
    overrides[key] =
      key === 'returnUrlOrigins' && typeof value === 'string'
        ? splitList(value)
        : BOOLEAN_KEYS.has(key) && typeof value === 'string'
          ? parseSwitch(value)
          : value;
  }
  const candidate = {
    ...defaults,
    secretPrefix: defaults.secretPrefix ?? `anaf-broker/${stage}/`,
    ...overrides,
    stage,
  };
  const result = z.safeParse(schema, candidate);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new StageConfigError(`Invalid stage configuration for "${stage}": ${problems.join('; ')}`);
  }
  const c = result.data;
  return {
    ...c,
    publicBaseUrl: c.publicBaseUrl?.replace(/\/+$/, ''),
    anafApiBaseUrl: ANAF_API_BASE_URLS[c.anafEnvironment],
    anafOauthBaseUrl: ANAF_OAUTH_BASE_URL,
    anafPublicApiBaseUrl: ANAF_PUBLIC_API_BASE_URL,
  };
}

/** `true`/`false` in any case; anything else is left as the string, for the schema to name. */
const parseSwitch = (value: string): boolean | string => {
  const v = value.trim().toLowerCase();
  return v === 'true' ? true : v === 'false' ? false : value;
};

const splitList = (value: string) =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
