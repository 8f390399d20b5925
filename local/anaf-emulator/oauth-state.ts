/**
 * The emulator's OAuth bookkeeping, free of HTTP: clients, single-use codes, grant chains with
 * refresh-token rotation, issued access tokens. Every decision reads the injected clock.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { EmulatorCertificate } from './types.js';

export const DEFAULT_ACCESS_SECONDS = 90 * 24 * 3600;
export const DEFAULT_REFRESH_SECONDS = 365 * 24 * 3600;
const ROLE = 'HELLO,EFACTURA,ETRANSPORT,SRV_EFACTURA';
const ISSUER = 'https://logincert.anaf.ro';

export interface ClientRecord {
  secret: string;
  /** Empty: any http(s) redirect_uri is accepted. */
  redirectUris: string[];
}

export interface OAuthErrorBody {
  error: string;
  error_description?: string;
}

export interface TokenResponseBody {
  access_token: string;
  /** Absent when the emulator is told to answer a refresh without one (RFC 6749 §6: keep the old one). */
  refresh_token?: string;
  token_type: 'Bearer';
  expires_in: number;
}

export type GrantResult = { ok: true; body: TokenResponseBody } | { ok: false; body: OAuthErrorBody };

interface CodeRecord {
  clientId: string;
  redirectUri: string;
  certificate: EmulatorCertificate;
  expiresAtMs: number;
}

interface RefreshRecord {
  chainId: string;
  clientId: string;
  certificate: EmulatorCertificate;
  exp: number;
}

/** One authorization (a code exchange and the rotations after it). */
interface ChainRecord {
  /** The refresh-token end of the first login: what `refreshWindow: 'fixed'` keeps for every rotation. */
  firstRefreshExp: number;
  rotations: number;
}

/** Why a refresh token would be refused now (`refreshVerdict`); 'answer-lost': the answer that rotated it was dropped. */
export type RefreshVerdict = 'live' | 'unknown' | 'spent' | 'answer-lost' | 'expired' | 'revoked' | 'rotation-cap';

interface AccessRecord {
  exp: number;
  certificate: EmulatorCertificate;
}

const b64json = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

/** A JWT-shaped token with ANAF's claims; the signature is 32 random bytes (nobody can verify it). */
export function mintToken(input: {
  use: 'access' | 'refresh';
  clientId: string;
  certificate: EmulatorCertificate;
  iat: number;
  exp: number;
}): string {
  const header = b64json({ alg: 'RS512', kid: 'emulator' });
  const payload = b64json({
    iss: ISSUER,
    clientappid: input.clientId,
    serial: input.certificate.serial,
    sub: input.certificate.serial.replaceAll(':', ''),
    role: ROLE,
    iat: input.iat,
    nbf: input.iat,
    exp: input.exp,
    jti: randomUUID(),
    token_use: input.use,
  });
  return `${header}.${payload}.${randomBytes(32).toString('base64url')}`;
}

const invalidGrant = (description: string): GrantResult => ({
  ok: false,
  body: { error: 'invalid_grant', error_description: description },
});

/**
 * Shapes of the token endpoint's answers, for the cases no public capture settles: opaque tokens (what
 * ANAF issues without `token_content_type=jwt`), a refresh answer without `refresh_token`, and the error
 * a spent or expired refresh token gets (`invalid_grant`, or `invalid_request` as a live probe answered).
 */
export interface TokenBehaviour {
  format: 'jwt' | 'opaque';
  omitRefreshToken: boolean;
  refusedRefreshError: 'invalid_grant' | 'invalid_request';
  /**
   * Whether a rotation restarts the refresh token's 365 days ('rolling') or keeps the end of the first
   * login ('fixed'): ANAF's behaviour is unconfirmed (`npm run simulate` runs both).
   */
  refreshWindow: 'rolling' | 'fixed';
  /** Rotations one authorization allows (one vendor claims ANAF stops at 64; unverified); null: no cap. */
  maxRotations: number | null;
}
export const DEFAULT_TOKEN_BEHAVIOUR: TokenBehaviour = {
  format: 'jwt',
  omitRefreshToken: false,
  refusedRefreshError: 'invalid_grant',
  refreshWindow: 'rolling',
  maxRotations: null,
};

export function createOAuthState(options: { now: () => number; codeTtlSeconds: number }) {
  const { now, codeTtlSeconds } = options;
  const nowSeconds = () => Math.floor(now() / 1000);

  const clients = new Map<string, ClientRecord>();
  const codes = new Map<string, CodeRecord>();
  const refreshTokens = new Map<string, RefreshRecord>();
  const liveByChain = new Map<string, string>();
  const accessTokens = new Map<string, AccessRecord>();
  const chains = new Map<string, ChainRecord>();
  /** Certificates renewed (revoked): their grants no longer refresh. */
  const revokedSerials = new Set<string>();
  /** Refresh tokens issued in an answer that was dropped before it reached the client. */
  const lostAnswers = new Set<string>();
  const issued: string[] = [];
  const spent: string[] = [];
  let lifetimes = { accessSeconds: DEFAULT_ACCESS_SECONDS, refreshSeconds: DEFAULT_REFRESH_SECONDS };
  let behaviour: TokenBehaviour = { ...DEFAULT_TOKEN_BEHAVIOUR };

  const mint = (input: Parameters<typeof mintToken>[0]) =>
    behaviour.format === 'jwt' ? mintToken(input) : randomBytes(32).toString('hex');

  /** A new pair; `keepRefresh` answers only a new access token and leaves the chain's refresh token live. */
  function issuePair(clientId: string, certificate: EmulatorCertificate, chainId: string, keepRefresh = false): TokenResponseBody {
    const iat = nowSeconds();
    const accessExp = iat + lifetimes.accessSeconds;
    const chain = chains.get(chainId) ?? { firstRefreshExp: iat + lifetimes.refreshSeconds, rotations: -1 };
    chain.rotations += 1;
    chains.set(chainId, chain);
    const refreshExp = behaviour.refreshWindow === 'fixed' ? chain.firstRefreshExp : iat + lifetimes.refreshSeconds;
    const accessToken = mint({ use: 'access', clientId, certificate, iat, exp: accessExp });
    accessTokens.set(accessToken, { exp: accessExp, certificate });
    issued.push(accessToken);
    const body: TokenResponseBody = { access_token: accessToken, token_type: 'Bearer', expires_in: lifetimes.accessSeconds };
    if (!keepRefresh) {
      const refreshToken = mint({ use: 'refresh', clientId, certificate, iat, exp: refreshExp });
      refreshTokens.set(refreshToken, { chainId, clientId, certificate, exp: refreshExp });
      liveByChain.set(chainId, refreshToken);
      issued.push(refreshToken);
      body.refresh_token = refreshToken;
    }
    return body;
  }
  const refusedRefresh = (description: string): GrantResult => ({
    ok: false,
    body: { error: behaviour.refusedRefreshError, error_description: description },
  });

  /** What a refresh with this token would meet now, without spending anything. */
  function refreshVerdict(refreshToken: string): RefreshVerdict {
    const record = refreshTokens.get(refreshToken);
    if (!record) return 'unknown';
    const live = liveByChain.get(record.chainId);
    if (live !== refreshToken) return live !== undefined && lostAnswers.has(live) ? 'answer-lost' : 'spent';
    if (record.exp <= nowSeconds()) return 'expired';
    if (revokedSerials.has(record.certificate.serial)) return 'revoked';
    const cap = behaviour.maxRotations;
    if (cap !== null && (chains.get(record.chainId)?.rotations ?? 0) >= cap) return 'rotation-cap';
    return 'live';
  }
  const REFUSALS: Record<Exclude<RefreshVerdict, 'live'>, string> = {
    unknown: 'Invalid refresh token',
    spent: 'Refresh token already used',
    'answer-lost': 'Refresh token already used',
    expired: 'Refresh token expired',
    revoked: 'The certificate of this authorization is no longer valid',
    'rotation-cap': 'Refresh token rotation limit reached',
  };

  return {
    clients,

    /** True when the pair names a registered client. */
    authenticate(clientId: string, secret: string): boolean {
      const client = clients.get(clientId);
      return client !== undefined && client.secret === secret;
    },

    /** Whether `redirectUri` is acceptable for a registered client (exact match when it registered some). */
    redirectUriAllowed(clientId: string, redirectUri: string): boolean {
      const client = clients.get(clientId);
      if (!client) return false;
      if (client.redirectUris.length > 0) return client.redirectUris.includes(redirectUri);
      try {
        const url = new URL(redirectUri);
        return (url.protocol === 'http:' || url.protocol === 'https:') && !url.hash;
      } catch {
        return false;
      }
    },

    /** A single-use code bound to the client, the redirect URI and the certificate. */
    issueCode(clientId: string, redirectUri: string, certificate: EmulatorCertificate): string {
      // Shaped like the code ANAF sent in a public issue thread (hex with a trailing '='), so that
      // callers that forget to URL-decode it fail here rather than in production.
      const code = `${randomBytes(12).toString('hex')}=`;
      codes.set(code, { clientId, redirectUri, certificate, expiresAtMs: now() + codeTtlSeconds * 1000 });
      return code;
    },

    /** grant_type=authorization_code. A code is consumed only by a successful exchange. */
    exchangeCode(clientId: string, code: string, redirectUri: string): GrantResult {
      const record = codes.get(code);
      if (!record) return invalidGrant('Invalid authorization code');
      if (now() >= record.expiresAtMs) {
        codes.delete(code);
        return invalidGrant('Authorization code expired');
      }
      if (record.clientId !== clientId) return invalidGrant('Authorization code was issued to another client');
      if (record.redirectUri !== redirectUri) return invalidGrant('Invalid redirect_uri');
      codes.delete(code);
      return { ok: true, body: issuePair(clientId, record.certificate, randomUUID()) };
    },

    /** grant_type=refresh_token: rotates both tokens; the presented refresh token is spent. */
    refresh(clientId: string, refreshToken: string): GrantResult {
      const record = refreshTokens.get(refreshToken);
      if (record && record.clientId !== clientId) return refusedRefresh('Refresh token was issued to another client');
      const verdict = refreshVerdict(refreshToken);
      if (verdict !== 'live' || !record) return refusedRefresh(REFUSALS[verdict === 'live' ? 'unknown' : verdict]);
      if (behaviour.omitRefreshToken) return { ok: true, body: issuePair(clientId, record.certificate, record.chainId, true) };
      spent.push(refreshToken);
      return { ok: true, body: issuePair(clientId, record.certificate, record.chainId) };
    },

    /** The certificate behind an unexpired access token issued here, else null. */
    accessTokenHolder(token: string): EmulatorCertificate | null {
      const record = accessTokens.get(token);
      return record && record.exp > nowSeconds() ? record.certificate : null;
    },

    /** The certificate serial a refresh token issued here belongs to, else null. */
    refreshTokenSerial(refreshToken: string): string | null {
      return refreshTokens.get(refreshToken)?.certificate.serial ?? null;
    },

    isRefreshTokenLive(refreshToken: string): boolean {
      return refreshVerdict(refreshToken) === 'live';
    },
    refreshVerdict,

    /** Every grant of this certificate stops refreshing (a renewed certificate needs a new authorization). */
    revokeCertificate(serial: string): void {
      revokedSerials.add(serial);
    },

    /** The answer carrying this refresh token never reached the client (`drop`). */
    noteAnswerLost(refreshToken: string): void {
      lostAnswers.add(refreshToken);
    },

    setLifetimes(l: { accessSeconds?: number; refreshSeconds?: number }): void {
      lifetimes = {
        accessSeconds: l.accessSeconds ?? lifetimes.accessSeconds,
        refreshSeconds: l.refreshSeconds ?? lifetimes.refreshSeconds,
      };
    },
    lifetimes: () => ({ ...lifetimes }),
    setBehaviour(b: Partial<TokenBehaviour>): void {
      behaviour = { ...behaviour, ...b };
    },
    behaviour: () => ({ ...behaviour }),
    issuedTokens: () => [...issued],
    spentRefreshTokens: () => [...spent],
    counts: () => ({
      pendingCodes: codes.size,
      issuedTokens: issued.length,
      spentRefreshTokens: spent.length,
      grantChains: liveByChain.size,
    }),

    /** Forgets codes and tokens and restores default lifetimes (clients are handled by the caller). */
    clearTokens(): void {
      codes.clear();
      refreshTokens.clear();
      liveByChain.clear();
      accessTokens.clear();
      chains.clear();
      revokedSerials.clear();
      lostAnswers.clear();
      issued.length = 0;
      spent.length = 0;
      lifetimes = { accessSeconds: DEFAULT_ACCESS_SECONDS, refreshSeconds: DEFAULT_REFRESH_SECONDS };
      behaviour = { ...DEFAULT_TOKEN_BEHAVIOUR };
    },
  };
}

export type OAuthState = ReturnType<typeof createOAuthState>;
