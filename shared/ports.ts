/**
 * The interfaces services depend on. Adapters (DynamoDB, Secrets Manager, ANAF over HTTP, EventBridge)
 * implement them; tests use in-memory fakes of the same interfaces.
 */
import type {
  AnafEnvironment,
  AuditEvent,
  CompanyRecord,
  ConnectFailureReason,
  ConnectSession,
  OAuthStateRecord,
  SpvRights,
  TenantClient,
  TokenPair,
  TokenRecord,
  UploadKeyRecord,
} from './domain/model.js';
import type { LimitCounter } from './domain/anaf-limits.js';
import type { MessagePage, Parsed, PublicStandard, UploadStandard, UploadState } from './domain/efactura.js';

/** A pair as read back, with the id of the secret version it came from. */
export type StoredPair = TokenPair & { versionId: string };

export interface Clock {
  now(): Date;
}

export interface TenantStore {
  get(tenantId: string): Promise<TenantClient | null>;
  put(client: TenantClient): Promise<void>;
}

export interface CompanyStore {
  get(tenantId: string, cui: string): Promise<CompanyRecord | null>;
  list(tenantId: string): Promise<CompanyRecord[]>;
  /** Creates or updates name/tokenId; keeps createdAt of an existing record. */
  put(company: CompanyRecord): Promise<CompanyRecord>;
  delete(tenantId: string, cui: string): Promise<void>;
  /** Companies of the tenant linked to tokenId. */
  listByToken(tenantId: string, tokenId: string): Promise<CompanyRecord[]>;
  /** Records what ANAF's answers taught about the token holder's rights on the company (a no-op when it is gone). */
  setSpvRights(tenantId: string, cui: string, rights: SpvRights, at: string): Promise<void>;
  /** Clears the company's link if it still points at tokenId (a no-op otherwise, or when the company is gone). */
  unlinkToken(tenantId: string, cui: string, tokenId: string, at: string): Promise<void>;
}

/** Everything written when an authorization completes, applied atomically. */
export type ConnectWrite = {
  token: TokenRecord;
  /** Companies to link to token.tokenId; each must still exist. */
  cuis: string[];
  /** Session to mark completed; must not be completed already. */
  sessionId?: string;
  completedAt: string;
} & (
  /** A new token: the serial must not already point at another token. */
  | { isNew: true }
  /**
   * An update of an existing token, made under its refresh lease: the stored record must still have
   * `expectedVersion` and `leaseOwner`; `token` carries no lease, so the same write releases it.
   */
  | { isNew: false; expectedVersion: number; leaseOwner: string }
);

export interface TokenStore {
  /** Strongly consistent read. */
  get(tenantId: string, tokenId: string): Promise<TokenRecord | null>;
  /**
   * Strongly consistent reads of many records in few round trips (the sweep's reconciliation): one
   * answer per key, in the keys' order, null where there is no record.
   */
  getMany(keys: ReadonlyArray<{ tenantId: string; tokenId: string }>): Promise<Array<TokenRecord | null>>;
  list(tenantId: string): Promise<TokenRecord[]>;
  /** The tenant's non-disconnected token for a certificate serial, if any. */
  findBySerial(tenantId: string, serial: string): Promise<TokenRecord | null>;
  /**
   * Atomic: token put/update, serial pointer, company links, session completion. Throws CONFLICT on a
   * lost race; an update never lands on a token that is disconnected meanwhile.
   */
  connect(write: ConnectWrite): Promise<void>;
  /**
   * Replaces the record if its stored version is `expectedVersion` and (when `leaseOwner` is given)
   * the lease is still held by that owner. Returns false when the condition failed.
   */
  replace(record: TokenRecord, condition: { expectedVersion: number; leaseOwner?: string }): Promise<boolean>;
  /** Takes the refresh lease unless another live lease exists; returns the record as stored after. */
  acquireLease(tenantId: string, tokenId: string, owner: string, now: Date, leaseSeconds: number): Promise<TokenRecord | null>;
  releaseLease(tenantId: string, tokenId: string, owner: string): Promise<void>;
  /**
   * Moves the lease's end to now + leaseSeconds if `owner` still holds it; false when it does not (the
   * lease outlived its term and another run may hold it): that run must not call ANAF.
   */
  extendLease(tenantId: string, tokenId: string, owner: string, now: Date, leaseSeconds: number): Promise<boolean>;
  /**
   * Writes `disconnected` (the record as the disconnect leaves it) if the stored version is still
   * `current.version`, and drops the serial pointer, atomically. Throws CONFLICT on a lost race.
   */
  disconnect(current: TokenRecord, disconnected: TokenRecord): Promise<void>;
  /** Counts for the health gauges (index queries): active and reauth-required tokens, nearest refresh-token end. */
  healthStats(): Promise<{ active: number; reauthRequired: number; nearestRefreshExpiry: string | null }>;
  /** Tokens whose dueAt ≤ now, oldest first, one page (index query, eventually consistent). */
  queryDue(now: Date, limit: number, cursor?: string): Promise<{ items: Array<{ tenantId: string; tokenId: string }>; cursor?: string }>;
}

export interface SessionStore {
  create(session: ConnectSession): Promise<void>;
  get(sessionId: string): Promise<ConnectSession | null>;
  putState(state: OAuthStateRecord): Promise<void>;
  /**
   * Marks the state record used at `at` and returns it; atomic, so of two callbacks racing with one state
   * only one gets `firstUse: true`. A state used before comes back with `firstUse: false`; null when unknown.
   */
  consumeState(stateHash: string, at: string): Promise<{ record: OAuthStateRecord; firstUse: boolean } | null>;
  /**
   * Records a failed attempt on a session that is not completed; with `once`, only when `reason` is not
   * already its lastError. Returns whether it was written (false: completed, unknown, or a repeat).
   */
  recordFailure(sessionId: string, failure: { reason: ConnectFailureReason; at: string }, options?: { once?: boolean }): Promise<boolean>;
  /**
   * Closes (marks completed at `at` by `completedBy`, default `tokenId`) every open session minted for
   * `tokenId` but `exceptSessionId`; answers how many it closed. Sessions minted without a token are not found.
   */
  closeOpenFor(tenantId: string, tokenId: string, exceptSessionId: string | undefined, at: string, completedBy?: string): Promise<number>;
}

export interface AuditStore {
  /** Appends an entry; with `id`, an entry with that id is stored at most once (a repeat is a no-op). */
  append(event: AuditEvent, options?: { id?: string }): Promise<void>;
  list(tenantId: string, limit: number, cursor?: string): Promise<{ events: AuditEvent[]; nextCursor: string | null }>;
}

/** Counters of ANAF's call limits, shared by every Lambda (shared/domain/anaf-limits.ts decides which). */
export interface LimitStore {
  /**
   * Takes one unit from every counter, all or none, atomically: a counter at its limit never goes over,
   * and of callers racing for a last unit exactly one gets it. `scope` separates the budgets (a tenantId,
   * or PUBLIC_SCOPE); on refusal, answers the counter that was full.
   */
  take(scope: string, counters: LimitCounter[]): Promise<{ ok: true } | { ok: false; counter: LimitCounter }>;
}

/** Idempotency-Keys of uploads (tenant-scoped, kept a day). */
export interface UploadKeyStore {
  /** Stores `record` unless the tenant has a live record for its key (atomic); answers that record if so. */
  claim(record: UploadKeyRecord, now: Date): Promise<{ claimed: true } | { claimed: false; existing: UploadKeyRecord }>;
  /** The first request's outcome: ANAF's index, or `uncertain`. */
  settle(tenantId: string, key: string, outcome: { state: 'done'; uploadId: string } | { state: 'uncertain' }): Promise<void>;
  /** Frees the key after a failure ANAF cannot have acted on, so the same key may be sent again. */
  release(tenantId: string, key: string): Promise<void>;
}

export interface EventPublisher {
  publish(event: AuditEvent): Promise<void>;
}

export interface SecretStore {
  putClientSecret(tenantId: string, clientSecret: string): Promise<void>;
  getClientSecret(tenantId: string): Promise<string | null>;
  /**
   * Writes the pair as the current version of the token's secret (creating the secret if needed), under
   * the caller's `versionId` (a UUID): retrying with the same id is idempotent.
   */
  putTokenPair(tenantId: string, tokenId: string, pair: TokenPair, versionId: string): Promise<void>;
  /**
   * With `versionId`: exactly that version, or null while it is not visible (or the secret is gone).
   * Without: the current version, which an eventually consistent store may answer with an older one.
   */
  getTokenPair(tenantId: string, tokenId: string, versionId?: string): Promise<StoredPair | null>;
  /**
   * When the token's secret was created (ISO, as `listTokenSecrets` says it), or null when there is no
   * such secret or it is scheduled for deletion.
   */
  tokenSecretCreatedAt(tenantId: string, tokenId: string): Promise<string | null>;
  /** Schedules the token's secret for deletion; a secret already gone or scheduled is not an error. */
  deleteTokenPair(tenantId: string, tokenId: string): Promise<void>;
  /**
   * One page of the token secrets under the prefix, including those scheduled for deletion (`deleted`);
   * `createdAt` is when the secret was created (ISO). Pass the answered cursor for the next page.
   */
  listTokenSecrets(cursor?: string): Promise<{ secrets: TokenSecretInfo[]; cursor?: string }>;
}

/** A token secret as listed (no value). */
export interface TokenSecretInfo {
  tenantId: string;
  tokenId: string;
  createdAt: string;
  deleted: boolean;
}

/**
 * A second durable place for a rotated pair whose secret write failed (KMS-encrypted, in the table):
 * the next run writes it to the secret and deletes it.
 */
export interface PairEscrow {
  put(tenantId: string, tokenId: string, pair: TokenPair, versionId: string): Promise<void>;
  /** The escrowed pair with the version id it was meant to get, or null. */
  get(tenantId: string, tokenId: string): Promise<StoredPair | null>;
  /** Deletes the escrow item if it still holds `versionId`. */
  delete(tenantId: string, tokenId: string, versionId: string): Promise<void>;
}

/**
 * What ANAF's /token endpoint answered with a 2xx, as it came: the tokens need not be JWTs, and a refresh
 * answer may carry no refresh token (the stored one is then kept, RFC 6749 §6).
 */
export interface AnafTokenResponse {
  accessToken: string;
  refreshToken?: string;
  /** `expires_in` when present: only used when the access token has no readable `exp`. */
  expiresInSeconds?: number;
}

export interface AnafOAuthClient {
  exchangeCode(input: { clientId: string; clientSecret: string; code: string; redirectUri: string }): Promise<AnafTokenResponse>;
  refresh(input: { clientId: string; clientSecret: string; refreshToken: string }): Promise<AnafTokenResponse>;
}


/** What every authenticated e-Factura call carries; `timeoutMs` is what is left of the request's budget. */
export interface EfacturaCall {
  accessToken: string;
  environment: AnafEnvironment;
  timeoutMs: number;
}

export interface UploadInput {
  cif: string;
  standard: UploadStandard;
  /** `uploadb2c` instead of `upload`. */
  b2c: boolean;
  /** ANAF's `extern=DA` (buyer outside Romania), `autofactura=DA` (self-billed), `executare=DA` (enforcement). */
  extern: boolean;
  selfBilled: boolean;
  enforcement: boolean;
  xml: Uint8Array;
}

/**
 * ANAF's e-Factura REST API. Every answer, failures included, comes back typed (shared/domain/efactura.ts);
 * nothing throws but a bug. A failure the request may have survived at ANAF is marked `uncertain`.
 */
export interface EfacturaClient {
  upload(call: EfacturaCall, input: UploadInput): Promise<Parsed<{ uploadId: string }>>;
  status(call: EfacturaCall, uploadId: string): Promise<Parsed<{ state: UploadState; downloadId?: string }>>;
  listMessages(call: EfacturaCall, input: { cif: string; days: number; filter?: string }): Promise<Parsed<MessagePage>>;
  listMessagesPaged(call: EfacturaCall, input: { cif: string; startMs: number; endMs: number; page: number; filter?: string }): Promise<Parsed<MessagePage>>;
  download(call: EfacturaCall, downloadId: string): Promise<Parsed<Uint8Array>>;
  /** On the public host (no token; production only). */
  validate(input: { standard: PublicStandard; xml: Uint8Array; timeoutMs: number }): Promise<Parsed<{ valid: boolean; messages: string[] }>>;
  pdf(input: { standard: PublicStandard; xml: Uint8Array; validate: boolean; timeoutMs: number }): Promise<Parsed<Uint8Array>>;
}

/** What reading an uploaded invoice found (larger than `maxBytes`: its body is not read). */
export type StoredObject = { kind: 'missing' } | { kind: 'too-large'; sizeBytes: number } | { kind: 'found'; bytes: Uint8Array };

/** The invoice objects bucket (S3): presigned PUTs for the ERP, then the upload route's read and delete. */
export interface InvoiceObjectStore {
  /** A URL the ERP PUTs the XML to, without credentials, for `expiresInSeconds`. */
  presignPut(key: string, expiresInSeconds: number): Promise<string>;
  read(key: string, maxBytes: number): Promise<StoredObject>;
  /** Deleting a missing object is no error. */
  delete(key: string): Promise<void>;
}

export interface Logger {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

/** Names of the CloudWatch metrics the service emits (namespace AnafBroker); alarms are set on these. */
export type MetricName =
  | 'Connected'
  | 'ConnectFailed'
  | 'Refreshed'
  | 'RefreshFailed'
  | 'ReauthRequired'
  | 'Relinked'
  | 'Expiring'
  | 'Disconnected'
  | 'TokenIssued'
  | 'SweepDue'
  | 'SweepStoppedEarly'
  | 'TokensByStatus'
  | 'DaysToRefreshExpiryMin'
  | 'Recovered'
  | 'ExpiryEstimated'
  | 'PairWriteFailed'
  | 'PairEscrowed'
  | 'RefreshRateLimited'
  | 'SweepReauthRequired';

export interface Metrics {
  count(name: MetricName, value?: number): void;
  /** A point-in-time value, written at once, with extra dimensions (e.g. {status}). */
  gauge(name: MetricName, value: number, dimensions?: Record<string, string>): void;
  /** Writes the buffered metrics (EMF log lines); called once at the end of an invocation. */
  flush(): void;
}
