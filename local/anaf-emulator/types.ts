/** Public types of the ANAF emulator (re-exported by `server.ts`). */

/** A fake qualified certificate; `serial` is colon-separated hex like ANAF's `serial` claim. */
export interface EmulatorCertificate {
  serial: string;
  holder: string;
}

/** How `GET /authorize` behaves: show the certificate + PIN page, or answer at once. */
export type AuthorizeMode = 'interactive' | 'approve' | 'deny';

/**
 * Failures `failNext` injects into `/token`:
 * `server_error` 500, `unavailable` 503 (HTML body, like a gateway), `rate_limited` 429 with
 * `Retry-After: 1`, `invalid_grant` / `invalid_request` / `invalid_client` 400 JSON without touching any state,
 * `hang` never answers (the grant is not processed), `drop` processes the grant fully (a refresh
 * rotates) and then destroys the socket without answering.
 */
export type TokenFailureKind =
  | 'server_error'
  | 'unavailable'
  | 'rate_limited'
  | 'invalid_grant'
  | 'invalid_request'
  | 'invalid_client'
  | 'hang'
  | 'drop';

export const TOKEN_FAILURE_KINDS: readonly TokenFailureKind[] = [
  'server_error',
  'unavailable',
  'rate_limited',
  'invalid_grant',
  'invalid_request',
  'invalid_client',
  'hang',
  'drop',
];

export const AUTHORIZE_MODES: readonly AuthorizeMode[] = ['interactive', 'approve', 'deny'];

/** The e-Factura calls (bearer host) and the public ones (`validare`, `transformare`, no token). */
export type ApiEndpoint =
  | 'upload'
  | 'uploadb2c'
  | 'stareMesaj'
  | 'listaMesajeFactura'
  | 'listaMesajePaginatieFactura'
  | 'descarcare'
  | 'validare'
  | 'transformare';

export const API_ENDPOINTS: readonly ApiEndpoint[] = [
  'upload',
  'uploadb2c',
  'stareMesaj',
  'listaMesajeFactura',
  'listaMesajePaginatieFactura',
  'descarcare',
  'validare',
  'transformare',
];

/**
 * Failures `failNext` injects into e-Factura and public calls (README "Making ANAF misbehave"):
 * `server_error` 500, `unavailable` 503 HTML, `rate_limited` 429, `unauthorized` 401 (token untouched),
 * `hang` never answers (not processed), `drop` processes the call (an upload is accepted!) and closes the
 * socket, `slow` answers normally after `ms`, `firewall` HTTP 200 text/html "The requested URL was
 * rejected", `text_plain_json` HTTP 200 text/plain JSON (the call's daily-limit text) even on XML calls,
 * `garbage` HTTP 200 in the call's content type with a body of no known shape, `technical_error` ANAF's
 * "A aparut o eroare tehnica" body in the call's shape.
 */
export type ApiFailureKind =
  | 'server_error'
  | 'unavailable'
  | 'rate_limited'
  | 'unauthorized'
  | 'hang'
  | 'drop'
  | 'slow'
  | 'firewall'
  | 'text_plain_json'
  | 'garbage'
  | 'technical_error';

export const API_FAILURE_KINDS: readonly ApiFailureKind[] = [
  'server_error',
  'unavailable',
  'rate_limited',
  'unauthorized',
  'hang',
  'drop',
  'slow',
  'firewall',
  'text_plain_json',
  'garbage',
  'technical_error',
];

/** Where a failure is queued: `/token` (the default), one API call, or `any` e-Factura/public call. */
export type FailureTarget = 'token' | 'any' | ApiEndpoint;

/** How an upload ends: `xml-errors` is "XML cu erori nepreluat de sistem" (no download, no message). */
export type UploadOutcome = 'ok' | 'nok' | 'xml-errors';
export const UPLOAD_OUTCOMES: readonly UploadOutcome[] = ['ok', 'nok', 'xml-errors'];

/** Kinds of seeded messages; `self-billed` lists twice (sent and received) with one `id_solicitare`. */
export type SeedMessageType = 'invoice-sent' | 'invoice-received' | 'errors' | 'buyer-message' | 'self-billed';
export const SEED_MESSAGE_TYPES: readonly SeedMessageType[] = ['invoice-sent', 'invoice-received', 'errors', 'buyer-message', 'self-billed'];

export interface SeedMessagesInput {
  cif: string;
  type: SeedMessageType;
  /** Default 1, at most 20000. */
  count?: number;
  /** The newest message's age in seconds on the emulator clock (default 60). */
  ageSeconds?: number;
  /** Seconds between consecutive messages, going back in time (default 60). */
  spacingSeconds?: number;
  /** The other party's CIF in `detalii` (default 3, like ANAF's examples). */
  counterpartCif?: string;
}

/** One seeded (or uploaded) message as the lists show it. */
export interface SeededMessage {
  id: string;
  id_solicitare: string;
  tip: string;
  data_creare: string;
}

/** ANAF's published limits, counted on the emulator clock (days are Romania days). */
export interface EmulatorLimits {
  /** All bearer calls per minute (then HTTP 429); default 1000. */
  callsPerMinute: number;
  statusPerMessagePerDay: number;
  downloadsPerMessagePerDay: number;
  listsPerCuiPerDay: number;
  pagedListsPerCuiPerDay: number;
  raspPerCuiPerDay: number;
  /** How an over-limit `stareMesaj` / RASP `upload` answers: ANAF's XML, or text/plain JSON (seen live). */
  xmlCallLimitAnswer: 'xml' | 'text-plain-json';
}

export const DEFAULT_LIMITS: EmulatorLimits = {
  callsPerMinute: 1000,
  statusPerMessagePerDay: 100,
  downloadsPerMessagePerDay: 10,
  listsPerCuiPerDay: 1500,
  pagedListsPerCuiPerDay: 100_000,
  raspPerCuiPerDay: 1000,
  xmlCallLimitAnswer: 'xml',
};

export interface EmulatorStats {
  /** Every `/token` request whose body named this grant type, failed or not (injected failures included). */
  tokenCalls: { authorization_code: number; refresh_token: number };
  /**
   * Refresh grants the emulator itself refused (a spent, expired, unknown or foreign refresh token;
   * injected failures excluded): a broker that never presents a spent token keeps this at 0.
   */
  refusedRefreshes: number;
  /** Every `GET /authorize` request, valid or not. */
  authorizeCalls: number;
}

/** Counts of the e-Factura and public calls (tests assert "ANAF was not called" with these). */
export interface EmulatorApiStats {
  /** Every request that reached the endpoint (401s, limit answers and injected failures included). */
  calls: Record<ApiEndpoint, number>;
  /** Calls refused with HTTP 429 by the per-minute limit. */
  rateLimited: number;
}

export interface EmulatorControl {
  /** Default 'approve' for `startAnafEmulator`; `main.ts` defaults to 'interactive'. */
  setAuthorizeMode(mode: AuthorizeMode): void;
  /** Certificate used by 'approve' mode (and preselected on the interactive page). */
  setCertificate(cert: EmulatorCertificate): void;
  /**
   * The next `count` (default 1) calls to `target` fail this way; calls queue up in order. Target
   * `token` (the default) takes a TokenFailureKind; an API endpoint or `any` takes an ApiFailureKind
   * (`ms` is the delay of `slow`). A call takes its endpoint's queue first, then `any`'s. With
   * `serial` (target `token` only) the failures wait for refresh calls presenting a refresh token of
   * that certificate, and such a call takes them before the general queue: which token fails does
   * not depend on the order the calls arrive in.
   */
  failNext(kind: TokenFailureKind | ApiFailureKind, count?: number, options?: { target?: FailureTarget; ms?: number; serial?: string }): void;
  /** Delay before answering `/token` and e-Factura calls. */
  setLatency(ms: number): void;
  /** Moves the emulator clock forward (tokens, processing, daily counters, 60-day rules); reset() rewinds it. */
  advanceClock(seconds: number): void;
  /** Which CIFs a certificate serial has SPV rights for; `null` = all (the default), `[]` = none. */
  setSpvRights(serial: string, cifs: string[] | null): void;
  /**
   * How uploads end and how long they stay "in prelucrare" (emulator-clock seconds): for one upload
   * (`index`), else the default for uploads from now on (default ok after 0 s). A marker in the XML
   * (`emulator:outcome=nok`, `emulator:processing-seconds=30`) wins over the default, not over `index`.
   */
  setUploadOutcome(o: { index?: string; outcome: UploadOutcome; processingSeconds?: number; errorMessage?: string }): void;
  /** Adds messages to a CIF's lists (downloadable); answers them newest first. */
  seedMessages(input: SeedMessagesInput): SeededMessage[];
  /** The message stays listed but `descarcare` answers "a trecut perioada de 60 de zile". */
  expireDownload(id: string): void;
  setLimits(l: Partial<EmulatorLimits>): void;
  /** Lifetimes of tokens issued from now on; defaults 90 days / 365 days. Zero or negative issues already-expired tokens. */
  setTokenLifetimes(l: { accessSeconds?: number; refreshSeconds?: number }): void;
  /**
   * Shapes of token answers from now on: `format: 'opaque'` issues 64-hex-character tokens instead of
   * JWTs; `omitRefreshToken` answers a refresh with a new access token only (the presented refresh token
   * stays live); `refusedRefreshError` is the OAuth error a spent, expired or unknown refresh token gets.
   * reset() restores JWTs, rotation and `invalid_grant`.
   */
  setTokenBehaviour(b: {
    format?: 'jwt' | 'opaque';
    omitRefreshToken?: boolean;
    refusedRefreshError?: 'invalid_grant' | 'invalid_request';
    /** 'fixed': every rotation keeps the first login's refresh-token end (default 'rolling': 365 days from each rotation). */
    refreshWindow?: 'rolling' | 'fixed';
    /** Rotations one authorization allows; past it a refresh gets `refusedRefreshError`. null (default): no cap. */
    maxRotations?: number | null;
  }): void;
  /** Sets the emulator's clock (epoch ms); it runs on from there. reset() returns to the injected clock. */
  setClock(nowMs: number): void;
  /** The emulator's time (epoch ms). */
  now(): number;
  /** While set, every `/token` call fails this way (after queued `failNext` ones); null ends the outage. */
  setTokenOutage(kind: TokenFailureKind | null): void;
  /** Drops the queued `failNext` failures. */
  clearFailures(): void;
  /** The certificate was renewed: its grants no longer refresh (answered with `refusedRefreshError`). */
  revokeCertificate(serial: string): void;
  /** What presenting this refresh token would meet now, spending nothing ('live' = it would rotate). */
  refreshVerdict(refreshToken: string): import('./oauth-state.js').RefreshVerdict;
  /** Registers (or replaces) a client; without redirect URIs it accepts any http(s) redirect_uri. */
  addClient(clientId: string, clientSecret: string, redirectUris?: string[]): void;
  stats(): EmulatorStats;
  apiStats(): EmulatorApiStats;
  /** Every access and refresh token string ever issued (leak tests search logs for these). */
  issuedTokens(): string[];
  /** Refresh tokens that were spent by a rotation (presenting one again = invalid_grant). */
  spentRefreshTokens(): string[];
  /** Whether a refresh token is the current (unspent, unexpired) one of its grant chain. */
  isRefreshTokenLive(refreshToken: string): boolean;
  /**
   * Back to defaults: clears codes, tokens, uploads, messages, counters, rights, limits, clock offset,
   * stats and failures; keeps only the start-up clients and re-seeds the real production ZIP.
   */
  reset(): void;
}

export interface AnafEmulator {
  /** `http://host:port`, no trailing slash. */
  url: string;
  /** `${url}/anaf-oauth2/v1`: append `/authorize` and `/token`. */
  oauthBaseUrl: string;
  /** `${url}/prod/FCTEL/rest` (`/test/FCTEL/rest` is served too). */
  apiBaseUrl: string;
  /** `${url}/public/prod/FCTEL/rest`: `validare` and `transformare` without a token (ANAF_PUBLIC_API_BASE_URL). */
  publicApiBaseUrl: string;
  control: EmulatorControl;
  /** Stops listening and destroys every open socket (hanging ones included). */
  close(): Promise<void>;
}

export interface StartAnafEmulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (a free port). */
  port?: number;
  /** Extra clients `{clientId: clientSecret}`, accepted with any http(s) redirect_uri; kept by reset(). */
  clients?: Record<string, string>;
  /** Default 'approve'. Also the mode reset() returns to. */
  authorizeMode?: AuthorizeMode;
  /** Clock in epoch milliseconds (tests move it forward to expire codes and tokens). Default Date.now. */
  now?: () => number;
  /** How long an authorization code can be exchanged; default 60 (ANAF's value). */
  codeTtlSeconds?: number;
  /** Receives one line per request (method, path, status; never a query string or token). Default: silent. */
  log?: (line: string) => void;
}
