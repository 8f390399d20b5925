/** Entities as services see them. Records never hold a secret: secrets live in the SecretStore. */

/** ANAF's e-Factura host of a tenant: `/test/` (ANAF's test environment) or `/prod/`. */
export type AnafEnvironment = 'test' | 'prod';

export type TokenStatus = 'active' | 'reauth-required' | 'disconnected';
/** A company never reads as disconnected: without a live token it is not connected. */
export type CompanyStatus = 'not-connected' | Exclude<TokenStatus, 'disconnected'>;

export interface TenantClient {
  tenantId: string;
  clientId: string;
  redirectUri: string;
  /** The ERP's name as the accountant knows it, shown on the result pages (absent on clients stored before it existed). */
  displayName?: string | null;
  /** Which e-Factura host the tenant's calls go to; absent or null: the stage's default. */
  anafEnvironment?: AnafEnvironment | null;
  createdAt: string;
  updatedAt: string;
}

/**
 * Whether the company's token holder has SPV rights on it, as ANAF's answers taught us (the token lists
 * no CUIs): `unknown` until an e-Factura call for it answered.
 */
export type SpvRights = 'unknown' | 'covered' | 'not-covered';

export interface CompanyRecord {
  tenantId: string;
  cui: string;
  name: string | null;
  tokenId: string | null;
  /** Absent on companies no e-Factura call has touched yet (reads as unknown). */
  spvRights?: SpvRights;
  /** When spvRights was last learned. */
  spvRightsAt?: string | null;
  createdAt: string;
  updatedAt: string;
}

/**
 * An upload's Idempotency-Key, kept a day: `in-flight` while the first request runs, then `done` (ANAF's
 * index) or `uncertain` (ANAF may have accepted it: never sent again under this key).
 */
export interface UploadKeyRecord {
  tenantId: string;
  key: string;
  /** sha256 of what was asked (company, standard, flags, body): the same key for another request is refused. */
  requestHash: string;
  state: 'in-flight' | 'done' | 'uncertain';
  uploadId: string | null;
  createdAt: string;
  expiresAt: string;
}

/** Metadata of one authorization (one certificate holder). The pair itself is in Secrets Manager. */
export interface TokenRecord {
  tenantId: string;
  tokenId: string;
  status: TokenStatus;
  serial: string | null;
  clientAppId: string | null;
  accessExpiresAt: string;
  refreshExpiresAt: string;
  /** True when the expiry did not come from the token's own `exp` (opaque token: `expires_in` or ANAF's documented lifetime). */
  accessExpiryEstimated: boolean;
  refreshExpiryEstimated: boolean;
  /** When the current access token was stored (its lifetime is accessExpiresAt − this). */
  accessIssuedAt: string | null;
  /**
   * The Secrets Manager version (a ClientRequestToken we chose) that holds the pair of `version`: reads
   * ask for exactly it, so an eventually consistent read can never hand back an older, spent pair.
   * Null only for records written before versions were pinned.
   */
  secretVersionId: string | null;
  /** When a manual refresh last tried ANAF for this reauth-required token (once per cool-down). */
  recoveryAttemptedAt: string | null;
  /** Times (ISO) of the rotations in the last 24 hours, oldest first (MAX_ROTATIONS_PER_DAY). */
  rotations: string[];
  /**
   * Rotations of this authorization at ANAF since its login (ANAF_ROTATION_CAP): 0 after a callback, +1 per
   * rotation. Absent on items written before it was counted: read as 0, a lower bound (earlier rotations are unknown).
   */
  rotationCount?: number;
  lastRefreshAt: string | null;
  lastError: string | null;
  /** Consecutive failed refresh attempts since the last success. */
  failedAttempts: number;
  /**
   * Bumped on every stored pair (the secret carries the same number: crash recovery compares them) and
   * on the disconnect, so that a write prepared before the disconnect can never land after it.
   */
  version: number;
  /** Next time the sweep must look at this token (ISO); null when it never needs to (not active). */
  dueAt: string | null;
  /** Refresh-token expiry warnings already sent, in days (30, 14, 7, 1). */
  warningsSent: number[];
  leaseOwner: string | null;
  leaseExpiresAt: string | null;
  createdAt: string;
  updatedAt: string;
  /** Set by the disconnect (absent on tokens disconnected before it was recorded, and on live ones). */
  disconnection?: Disconnection | null;
}

/**
 * Why a token was disconnected: the ERP asked (DELETE), the sweep found no company using it, or a
 * `reauth-required` token's companies all moved to another certificate's token through its link (a
 * renewed certificate: nothing is left for it to do).
 */
export type DisconnectReason = 'REQUESTED' | 'UNUSED' | 'REPLACED';

/**
 * What a disconnect did and what of it is done, so that a repeated DELETE (or the sweep) finishes an
 * interrupted one: the `disconnected` event goes to each sink once.
 */
export interface Disconnection {
  at: string;
  reason: DisconnectReason;
  /** Companies linked when the token was disconnected (the event names them). */
  cuis: string[];
  /** REPLACED only: the token its companies moved to (the event names it). */
  replacedByTokenId?: string;
  /** When the event reached the audit trail; null until it did. */
  auditedAt: string | null;
  /** When the event reached the bus; null until it did. */
  publishedAt: string | null;
}

export interface ConnectSession {
  /** Known only to whoever holds the link: the store keys the session by its hash and never stores it. */
  sessionId: string;
  tenantId: string;
  cuis: string[];
  returnUrl: string | null;
  createdAt: string;
  expiresAt: string;
  completedAt: string | null;
  tokenId: string | null;
  /**
   * The token whose certificate holder this session restores (a warning's link, or the ERP's `tokenId`):
   * another certificate completing it moves no company. Absent or null: any certificate may take the CUIs.
   */
  forTokenId?: string | null;
  /** The last failed attempt of this session (absent on sessions stored before it was recorded). */
  lastError?: ConnectFailureReason | null;
  lastErrorAt?: string | null;
}

/** Why an attempt of a known session failed: the `reason` of the redirect, the session and the `connect-failed` event. */
export type ConnectFailureReason = 'ACCESS_DENIED' | 'ANAF_REJECTED' | 'ANAF_UNAVAILABLE' | 'SESSION_EXPIRED';

/** A connect session as the ERP sees it: `open` until it completes or expires (by timestamp). */
export type ConnectSessionStatus = 'open' | 'completed' | 'expired';

export interface ConnectSessionView {
  sessionId: string;
  status: ConnectSessionStatus;
  cuis: string[];
  expiresAt: string;
  /** Set once completed. */
  tokenId?: string;
  /** The last failed attempt, while the session is not completed. */
  lastError?: ConnectFailureReason;
}

export interface OAuthStateRecord {
  stateHash: string;
  /** The session's id sealed with the state (`sealSessionId`): the table never holds it in clear. */
  sealedSessionId: string;
  tenantId: string;
  expiresAt: string;
  /**
   * Set (instead of deleting the record) when a callback uses the state, so that a reload of the callback
   * URL is told apart from an unknown state: it is still refused, but can say the session completed.
   */
  consumedAt?: string | null;
}

export type LifecycleEventType =
  | 'connected'
  | 'connect-failed'
  | 'refreshed'
  | 'refresh-failed'
  | 'reauth-required'
  | 'recovered'
  | 'relinked'
  | 'expiring'
  | 'disconnected'
  | 'token-issued';

export interface AuditEvent {
  tenantId: string;
  type: LifecycleEventType;
  tokenId: string | null;
  cuis: string[];
  at: string;
  connectUrl?: string;
  /** Metadata only (serial, error code, reason); never a token or secret. */
  details?: Record<string, string | number | boolean | null>;
}

/** The access/refresh pair, kept only in the SecretStore. */
export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  /** Matches TokenRecord.version of the metadata written after it. */
  version: number;
}

/** A company as the API shows it. */
export interface CompanyView {
  cui: string;
  name: string | null;
  tokenId: string | null;
  status: CompanyStatus;
  accessExpiresAt: string | null;
  refreshExpiresAt: string | null;
  spvRights: SpvRights;
}

/** A token as the API shows it. */
export interface TokenView {
  tokenId: string;
  status: TokenStatus;
  serial: string | null;
  cuis: string[];
  accessExpiresAt: string;
  refreshExpiresAt: string;
  lastRefreshAt: string | null;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
}
