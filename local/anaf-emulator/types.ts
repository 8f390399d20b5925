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

export interface EmulatorControl {
  /** Default 'approve' for `startAnafEmulator`; `main.ts` defaults to 'interactive'. */
  setAuthorizeMode(mode: AuthorizeMode): void;
  /** Certificate used by 'approve' mode (and preselected on the interactive page). */
  setCertificate(cert: EmulatorCertificate): void;
  /** The next `count` (default 1) `/token` calls fail this way; calls queue up in order. */
  failNext(kind: TokenFailureKind, count?: number): void;
  /** Delay before answering `/token` and e-Factura calls. */
  setLatency(ms: number): void;
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
  /** Every access and refresh token string ever issued (leak tests search logs for these). */
  issuedTokens(): string[];
  /** Refresh tokens that were spent by a rotation (presenting one again = invalid_grant). */
  spentRefreshTokens(): string[];
  /** Whether a refresh token is the current (unspent, unexpired) one of its grant chain. */
  isRefreshTokenLive(refreshToken: string): boolean;
  /** Back to defaults: clears codes, tokens, uploads, stats, failures; keeps only the start-up clients. */
  reset(): void;
}

export interface AnafEmulator {
  /** `http://host:port`, no trailing slash. */
  url: string;
  /** `${url}/anaf-oauth2/v1`: append `/authorize` and `/token`. */
  oauthBaseUrl: string;
  /** `${url}/prod/FCTEL/rest` (`/test/FCTEL/rest` is served too). */
  apiBaseUrl: string;
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
