import type {
  AnafOAuthClient,
  AuditStore,
  Clock,
  CompanyStore,
  EventPublisher,
  Logger,
  Metrics,
  PairEscrow,
  SecretStore,
  SessionStore,
  TenantStore,
  TokenStore,
} from '../ports.js';

/** Settings services need (a subset of Config, so tests can build them by hand). */
export interface ServiceSettings {
  publicBaseUrl: string;
  callbackUrl: string;
  anafOauthBaseUrl: string;
  returnUrlAllowlist: string[];
  refreshMarginDays: number;
  accessTokenMinValiditySeconds: number;
  sweepConcurrency: number;
  manualRefreshCooldownSeconds: number;
  maxRotationsPerDay: number;
  anafTimeoutMs: number;
}

/** Everything a service may use; built once per container by the runtime, or by tests with fakes. */
export interface ServiceDeps {
  tenants: TenantStore;
  companies: CompanyStore;
  tokens: TokenStore;
  sessions: SessionStore;
  audit: AuditStore;
  events: EventPublisher;
  secrets: SecretStore;
  escrow: PairEscrow;
  anaf: AnafOAuthClient;
  clock: Clock;
  logger: Logger;
  /** Optional so that unit tests may leave it out. */
  metrics?: Metrics;
  settings: ServiceSettings;
}
