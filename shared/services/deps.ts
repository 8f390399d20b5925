import type { LimitConfig } from '../domain/anaf-limits.js';
import type { AnafEnvironment } from '../domain/model.js';
import type {
  AnafOAuthClient,
  EfacturaClient,
  InvoiceObjectStore,
  LimitStore,
  UploadKeyStore,
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
  /** Rotations ANAF is assumed to allow per authorization (ANAF_ROTATION_CAP); null: no cap assumed. */
  rotationCap: number | null;
  anafTimeoutMs: number;
  /** A tenant's e-Factura environment unless it chose one: the `/prod/` or `/test/` of ANAF_API_BASE_URL. */
  defaultAnafEnvironment: AnafEnvironment;
  /** What one e-Factura request may spend waiting on ANAF (ANAF_EFACTURA_TIMEOUT_MS). */
  efacturaTimeoutMs: number;
  /** ANAF's published limits (ANAF_LIMIT_*), taken before every e-Factura call. */
  anafLimits: LimitConfig;
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
  /** ANAF's e-Factura API (authenticated calls and the public validare / transformare). */
  efactura: EfacturaClient;
  /** ANAF's limit counters, shared by every Lambda. */
  limits: LimitStore;
  uploadKeys: UploadKeyStore;
  /** Invoices over the inline limit, PUT by the ERP to a presigned URL. */
  invoiceObjects: InvoiceObjectStore;
  clock: Clock;
  logger: Logger;
  /** Optional so that unit tests may leave it out. */
  metrics?: Metrics;
  settings: ServiceSettings;
}
