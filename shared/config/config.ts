import * as z from 'zod/mini';
import { DEFAULT_LIMITS, type LimitConfig } from '../domain/anaf-limits.js';
import { coercedNumber, describeIssue } from '../domain/validation.js';
import { ENV } from './env-names.js';

/** The shortest LOCAL_API_KEY accepted: a guessable key would open every tenant's tokens on the machine. */
export const LOCAL_API_KEY_MIN_LENGTH = 16;

const DEFAULT_ANAF_OAUTH_BASE_URL = 'https://logincert.anaf.ro/anaf-oauth2/v1';
const DEFAULT_ANAF_API_BASE_URL = 'https://api.anaf.ro/prod/FCTEL/rest';
const DEFAULT_ANAF_PUBLIC_API_BASE_URL = 'https://webservicesp.anaf.ro/prod/FCTEL/rest';
/**
 * What one e-Factura request may spend on ANAF (SPV answers can take over 10 s): below API Gateway's 30 s,
 * with room for our own store calls.
 */
export const EFACTURA_TIMEOUT_MAX_MS = 28_000;

const httpUrl = z.string().check(
  z.refine((value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL'),
);
/** An integer setting: one message with the allowed range, whatever is wrong with the value. */
const int = (min: number, fallback: number, max?: number, error = max === undefined ? `must be an integer of at least ${min}` : `must be an integer from ${min} to ${max}`) =>
  z._default(
    coercedNumber({ error }).check(z.int({ error }), z.minimum(min, { error }), ...(max === undefined ? [] : [z.maximum(max, { error })])),
    fallback,
  );

const schema = z.object({
  [ENV.port]: int(0, 3000, 65_535, 'must be a port number from 0 to 65535 (0 = any free port)'),
  [ENV.localApiKey]: z.optional(z.string().check(z.minLength(LOCAL_API_KEY_MIN_LENGTH, { error: `must be at least ${LOCAL_API_KEY_MIN_LENGTH} characters long` }))),
  [ENV.publicBaseUrl]: z.optional(httpUrl),
  [ENV.anafOauthBaseUrl]: z._default(httpUrl, DEFAULT_ANAF_OAUTH_BASE_URL),
  [ENV.anafApiBaseUrl]: z._default(httpUrl, DEFAULT_ANAF_API_BASE_URL),
  [ENV.anafPublicApiBaseUrl]: z._default(httpUrl, DEFAULT_ANAF_PUBLIC_API_BASE_URL),
  [ENV.anafEfacturaTimeoutMs]: int(1_000, 25_000, EFACTURA_TIMEOUT_MAX_MS),
  [ENV.returnUrlAllowlist]: z.optional(z.string()),
  [ENV.refreshMarginDays]: int(1, 30),
  [ENV.accessTokenMinValiditySeconds]: int(0, 3600),
  [ENV.sweepConcurrency]: int(1, 4),
  [ENV.sweepIntervalSeconds]: int(1, 60),
  [ENV.anafTimeoutMs]: int(100, 10_000),
  // Secrets Manager advises at most one PutSecretValue per secret every 10 minutes.
  [ENV.manualRefreshCooldownSeconds]: int(0, 600),
  [ENV.maxRotationsPerDay]: int(1, 24),
  // Unset: no cap assumed (ANAF documents none; one vendor claims 64 rotations per authorization).
  [ENV.anafRotationCap]: z.optional(
    coercedNumber({ error: 'must be an integer of at least 1' }).check(z.int({ error: 'must be an integer of at least 1' }), z.minimum(1, { error: 'must be an integer of at least 1' })),
  ),
  [ENV.tableName]: z.string().check(z.minLength(1)),
  [ENV.secretPrefix]: z.string().check(z.minLength(1)),
  [ENV.eventBusName]: z._default(z.string().check(z.minLength(1)), 'default'),
  [ENV.secretsKmsKeyId]: z.optional(z.string().check(z.minLength(1))),
  [ENV.invoiceBucketName]: z.optional(z.string().check(z.minLength(3))),
  [ENV.anafLimitCallsPerMinute]: int(1, DEFAULT_LIMITS.callsPerMinute),
  [ENV.anafLimitStatusPerMessagePerDay]: int(1, DEFAULT_LIMITS.statusPerMessagePerDay),
  [ENV.anafLimitDownloadsPerMessagePerDay]: int(1, DEFAULT_LIMITS.downloadsPerMessagePerDay),
  [ENV.anafLimitListsPerCuiPerDay]: int(1, DEFAULT_LIMITS.listsPerCuiPerDay),
  [ENV.anafLimitPagedListsPerCuiPerDay]: int(1, DEFAULT_LIMITS.pagedListsPerCuiPerDay),
  [ENV.anafLimitRaspPerCuiPerDay]: int(1, DEFAULT_LIMITS.raspPerCuiPerDay),
});

/** Runtime configuration, parsed once from the environment. */
export interface Config {
  port: number;
  localApiKey: string | undefined;
  publicBaseUrl: string;
  callbackUrl: string;
  anafOauthBaseUrl: string;
  anafApiBaseUrl: string;
  /** validare / transformare (no token, production only). */
  anafPublicApiBaseUrl: string;
  /** The budget of ANAF calls in one e-Factura request. */
  anafEfacturaTimeoutMs: number;
  returnUrlAllowlist: string[];
  refreshMarginDays: number;
  accessTokenMinValiditySeconds: number;
  sweepConcurrency: number;
  sweepIntervalSeconds: number;
  anafTimeoutMs: number;
  manualRefreshCooldownSeconds: number;
  maxRotationsPerDay: number;
  /** Rotations ANAF is assumed to allow per authorization; null: no cap assumed. */
  anafRotationCap: number | null;
  tableName: string;
  secretPrefix: string;
  eventBusName: string;
  secretsKmsKeyId: string | undefined;
  /** The bucket of invoices over the inline limit (set for the functions that use it). */
  invoiceBucketName: string | undefined;
  /** ANAF's call limits (ANAF_LIMIT_*), enforced before each e-Factura call. */
  anafLimits: LimitConfig;
}

/** Variables whose values never appear in a message. */
const SECRET_VARIABLES: ReadonlySet<string> = new Set([ENV.localApiKey]);

/** Bad configuration: `problems` holds one `NAME: what is wrong` each; the message joins them on one line. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`);
  }
}

/** `NAME: what is wrong (got "value")`; a secret's value is never shown, only its length. */
export function configProblem(name: string, what: string, value: string | undefined): string {
  if (value === undefined) return `${name}: ${what}`;
  const got = SECRET_VARIABLES.has(name) ? `${value.length} characters` : JSON.stringify(value.slice(0, 80));
  return `${name}: ${what} (got ${got})`;
}

const trimSlash = (url: string) => url.replace(/\/+$/, '');

/**
 * Parses configuration from an environment map; throws one ConfigError naming every bad variable.
 */
export function parseConfig(env: Record<string, string | undefined>): Config {
  const cleaned = Object.fromEntries(
    Object.values(ENV).map((name) => [name, env[name] === '' ? undefined : env[name]]),
  );
  const result = z.safeParse(schema, cleaned);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? '');
        return configProblem(name, describeIssue(issue, cleaned), cleaned[name]);
      }),
    );
  }
  const c = result.data;
  const publicBaseUrl = trimSlash(c[ENV.publicBaseUrl] ?? `http://localhost:${c[ENV.port]}`);
  const allowlist = (c[ENV.returnUrlAllowlist] ?? new URL(publicBaseUrl).origin)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const badOrigins = allowlist.filter((origin) => {
    try {
      return new URL(origin).origin !== origin;
    } catch {
      return true;
    }
  });
  if (badOrigins.length > 0) {
    throw new ConfigError([`${ENV.returnUrlAllowlist}: not origins (scheme://host[:port], no path): ${badOrigins.join(', ')}`]);
  }
  return {
    port: c[ENV.port],
    localApiKey: c[ENV.localApiKey],
    publicBaseUrl,
    callbackUrl: `${publicBaseUrl}/v1/oauth/callback`,
    anafOauthBaseUrl: trimSlash(c[ENV.anafOauthBaseUrl]),
    anafApiBaseUrl: trimSlash(c[ENV.anafApiBaseUrl]),
    anafPublicApiBaseUrl: trimSlash(c[ENV.anafPublicApiBaseUrl]),
    anafEfacturaTimeoutMs: c[ENV.anafEfacturaTimeoutMs],
    returnUrlAllowlist: allowlist,
    refreshMarginDays: c[ENV.refreshMarginDays],
    accessTokenMinValiditySeconds: c[ENV.accessTokenMinValiditySeconds],
    sweepConcurrency: c[ENV.sweepConcurrency],
    sweepIntervalSeconds: c[ENV.sweepIntervalSeconds],
    anafTimeoutMs: c[ENV.anafTimeoutMs],
    manualRefreshCooldownSeconds: c[ENV.manualRefreshCooldownSeconds],
    maxRotationsPerDay: c[ENV.maxRotationsPerDay],
    anafRotationCap: c[ENV.anafRotationCap] ?? null,
    tableName: c[ENV.tableName],
    secretPrefix: c[ENV.secretPrefix],
    eventBusName: c[ENV.eventBusName],
    secretsKmsKeyId: c[ENV.secretsKmsKeyId],
    invoiceBucketName: c[ENV.invoiceBucketName],
    anafLimits: {
      callsPerMinute: c[ENV.anafLimitCallsPerMinute],
      statusPerMessagePerDay: c[ENV.anafLimitStatusPerMessagePerDay],
      downloadsPerMessagePerDay: c[ENV.anafLimitDownloadsPerMessagePerDay],
      listsPerCuiPerDay: c[ENV.anafLimitListsPerCuiPerDay],
      pagedListsPerCuiPerDay: c[ENV.anafLimitPagedListsPerCuiPerDay],
      raspPerCuiPerDay: c[ENV.anafLimitRaspPerCuiPerDay],
    },
  };
}

let cached: Config | undefined;

/** The process's configuration, parsed on first use and kept. */
export function getConfig(): Config {
  cached ??= parseConfig(process.env);
  return cached;
}
