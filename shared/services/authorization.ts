import { AnafError } from '../domain/anaf-errors.js';
import { BrokerError } from '../domain/errors.js';
import { expToIso, readTokenClaims } from '../domain/jwt.js';
import type { ConnectSession, TokenRecord } from '../domain/model.js';
import { computeDueAt } from '../domain/refresh-policy.js';
import {
  STATE_TTL_SECONDS,
  hashState,
  isWellFormedSessionId,
  isWellFormedState,
  newSessionId,
  newState,
  newTokenId,
} from '../domain/state.js';
import { buildAnafAuthorizeUrl, buildConnectUrl, isAllowedReturnUrl } from '../domain/urls.js';
import type { ServiceDeps } from './deps.js';
import { recordEvent } from './audit.js';
import { requireRegisteredCompanies } from './companies.js';
import { requireTenant } from './tenants.js';

export const DEFAULT_SESSION_TTL_SECONDS = 1800;
export const MAX_SESSION_TTL_SECONDS = 7 * 86_400;
export const MIN_SESSION_TTL_SECONDS = 60;

/**
 * Mints a connect session for registered companies. Steps: check the tenant, the return URL against
 * the allow-list and every CUI; store the session; answer the URL to send to the certificate holder.
 */
export async function createConnectSession(
  deps: ServiceDeps,
  input: { tenantId: string; cuis: string[]; returnUrl?: string; ttlSeconds?: number },
): Promise<{ sessionId: string; authorizeUrl: string; expiresAt: string }> {
  await requireTenant(deps, input.tenantId);
  if (input.returnUrl !== undefined && !isAllowedReturnUrl(input.returnUrl, deps.settings.returnUrlAllowlist)) {
    throw new BrokerError('INVALID_RETURN_URL', 'returnUrl must be an http(s) URL on an allowed origin');
  }
  const cuis = await requireRegisteredCompanies(deps, input.tenantId, input.cuis);
  const now = deps.clock.now();
  const ttl = input.ttlSeconds ?? DEFAULT_SESSION_TTL_SECONDS;
  const session: ConnectSession = {
    sessionId: newSessionId(),
    tenantId: input.tenantId,
    cuis,
    returnUrl: input.returnUrl ?? null,
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + ttl * 1000).toISOString(),
    completedAt: null,
    tokenId: null,
  };
  await deps.sessions.create(session);
  return {
    sessionId: session.sessionId,
    authorizeUrl: buildConnectUrl(deps.settings.publicBaseUrl, session.sessionId),
    expiresAt: session.expiresAt,
  };
}

/** Why a browser flow ended without a connection; each has a page and, with a returnUrl, a redirect. */
export type FlowFailure =
  | 'INVALID_SESSION'
  | 'INVALID_STATE'
  | 'SESSION_EXPIRED'
  | 'ACCESS_DENIED'
  | 'ANAF_REJECTED'
  | 'ANAF_UNAVAILABLE';

/** What the browser should see next. `returnUrl` is set only when the session is known and has one. */
export type FlowOutcome =
  | { kind: 'redirect-to-anaf'; location: string }
  | { kind: 'connected'; tokenId: string; cuis: string[]; returnUrl: string | null }
  | { kind: 'failed'; reason: FlowFailure; returnUrl: string | null };

const isOpen = (session: ConnectSession, now: Date) => !session.completedAt && Date.parse(session.expiresAt) > now.getTime();

/**
 * Opens a connect session: each opening mints a new single-use state (10 minutes) bound to the session
 * and answers ANAF's authorize URL. A session can be opened again until it expires or completes.
 */
export async function startAuthorization(deps: ServiceDeps, sessionId: string): Promise<FlowOutcome> {
  if (!isWellFormedSessionId(sessionId)) return { kind: 'failed', reason: 'INVALID_SESSION', returnUrl: null };
  const session = await deps.sessions.get(sessionId);
  if (!session) return { kind: 'failed', reason: 'INVALID_SESSION', returnUrl: null };
  const now = deps.clock.now();
  if (!isOpen(session, now)) return { kind: 'failed', reason: 'SESSION_EXPIRED', returnUrl: session.returnUrl };
  const tenant = await deps.tenants.get(session.tenantId);
  if (!tenant) return { kind: 'failed', reason: 'INVALID_SESSION', returnUrl: null };
  const state = newState();
  const stateExpiry = Math.min(now.getTime() + STATE_TTL_SECONDS * 1000, Date.parse(session.expiresAt));
  await deps.sessions.putState({
    stateHash: hashState(state),
    sessionId,
    tenantId: session.tenantId,
    expiresAt: new Date(stateExpiry).toISOString(),
  });
  const location = buildAnafAuthorizeUrl({
    oauthBaseUrl: deps.settings.anafOauthBaseUrl,
    clientId: tenant.clientId,
    redirectUri: tenant.redirectUri,
    state,
  });
  return { kind: 'redirect-to-anaf', location };
}

/**
 * Completes an authorization on ANAF's redirect. Steps: consume the state (once); check the session;
 * turn ANAF's error into a reason; exchange the code at once (ANAF allows 60 s); store the pair and
 * link the session's companies; record `connected`. Nothing is stored on any failure.
 */
export async function completeAuthorization(
  deps: ServiceDeps,
  query: { state?: string; code?: string; error?: string },
): Promise<FlowOutcome> {
  const state = query.state ?? '';
  if (!isWellFormedState(state)) return { kind: 'failed', reason: 'INVALID_STATE', returnUrl: null };
  const record = await deps.sessions.consumeState(hashState(state));
  const now = deps.clock.now();
  if (!record || Date.parse(record.expiresAt) <= now.getTime()) {
    return { kind: 'failed', reason: 'INVALID_STATE', returnUrl: null };
  }
  const session = await deps.sessions.get(record.sessionId);
  if (!session || session.tenantId !== record.tenantId) return { kind: 'failed', reason: 'INVALID_STATE', returnUrl: null };
  const fail = (reason: FlowFailure): FlowOutcome => ({ kind: 'failed', reason, returnUrl: session.returnUrl });
  if (!isOpen(session, now)) return fail('SESSION_EXPIRED');
  if (query.error) {
    deps.logger.info('ANAF denied the authorization', { tenantId: session.tenantId, anafError: query.error.slice(0, 64) });
    return fail(query.error === 'access_denied' ? 'ACCESS_DENIED' : 'ANAF_REJECTED');
  }
  if (!query.code) return fail('ANAF_REJECTED');

  const tenant = await deps.tenants.get(session.tenantId);
  const clientSecret = tenant ? await deps.secrets.getClientSecret(session.tenantId) : null;
  if (!tenant || !clientSecret) return { kind: 'failed', reason: 'INVALID_SESSION', returnUrl: null };
  let pair;
  try {
    pair = await deps.anaf.exchangeCode({ clientId: tenant.clientId, clientSecret, code: query.code, redirectUri: tenant.redirectUri });
  } catch (error) {
    if (!(error instanceof AnafError)) throw error;
    deps.logger.warn('code exchange failed', { tenantId: session.tenantId, kind: error.kind, status: error.details.status });
    return fail(error.kind === 'unavailable' || error.kind === 'timeout' ? 'ANAF_UNAVAILABLE' : 'ANAF_REJECTED');
  }
  let token: TokenRecord;
  try {
    token = await storeAuthorization(deps, {
      tenantId: session.tenantId,
      accessToken: pair.accessToken,
      refreshToken: pair.refreshToken,
      cuis: session.cuis,
      sessionId: session.sessionId,
    });
  } catch (error) {
    // Another callback of the same session completed first: this one is late, like an expired link.
    if (error instanceof BrokerError && error.code === 'CONFLICT') return fail('SESSION_EXPIRED');
    throw error;
  }
  return { kind: 'connected', tokenId: token.tokenId, cuis: session.cuis, returnUrl: session.returnUrl };
}

const disconnectedMeanwhile = async (deps: ServiceDeps, token: TokenRecord) =>
  (await deps.tokens.get(token.tenantId, token.tokenId).catch(() => null))?.status === 'disconnected';

/**
 * Stores a fresh pair from a callback or an import. A pair from a certificate (`serial`) that already
 * has a live token in this tenant updates that token and keeps its links; otherwise a new token is
 * made. Write order: the secret first (a token record never points at a missing pair), then the
 * metadata, links and session completion in one transaction. Retries when a racing callback of the
 * same certificate created the token first, or when the token was disconnected meanwhile (a disconnected
 * token is never revived: the retry makes a new one).
 */
export async function storeAuthorization(
  deps: ServiceDeps,
  input: { tenantId: string; accessToken: string; refreshToken: string; cuis: string[]; sessionId?: string },
): Promise<TokenRecord> {
  const access = readTokenClaims(input.accessToken);
  const refresh = readTokenClaims(input.refreshToken);
  if (!access || !refresh) throw new BrokerError('VALIDATION_ERROR', 'the token pair is not made of JWTs with an exp claim');
  const serial = access.serial ?? refresh.serial;
  for (let attempt = 0; ; attempt++) {
    const now = deps.clock.now().toISOString();
    // A company deleted since the session was minted is skipped rather than failing the connection.
    const present = await Promise.all(input.cuis.map((cui) => deps.companies.get(input.tenantId, cui)));
    const cuis = input.cuis.filter((_, i) => present[i]);
    const existing = serial ? await deps.tokens.findBySerial(input.tenantId, serial) : null;
    const base = {
      tenantId: input.tenantId,
      status: 'active' as const,
      serial,
      clientAppId: access.clientAppId ?? refresh.clientAppId,
      accessExpiresAt: expToIso(access.exp),
      refreshExpiresAt: expToIso(refresh.exp),
      lastError: null,
      failedAttempts: 0,
      warningsSent: [],
      leaseOwner: null,
      leaseExpiresAt: null,
      updatedAt: now,
    };
    const token: TokenRecord = existing
      ? { ...existing, ...base, version: existing.version + 1, dueAt: null }
      : { ...base, tokenId: newTokenId(), version: 1, lastRefreshAt: null, createdAt: now, dueAt: null };
    token.dueAt = computeDueAt(token, deps.settings.refreshMarginDays);
    try {
      await deps.secrets.putTokenPair(input.tenantId, token.tokenId, {
        accessToken: input.accessToken,
        refreshToken: input.refreshToken,
        version: token.version,
      });
    } catch (error) {
      // AWS refuses a write to the secret of a token disconnected meanwhile: connect anew.
      if (existing && attempt < 2 && (await disconnectedMeanwhile(deps, existing))) continue;
      throw error;
    }
    try {
      await deps.tokens.connect({
        token,
        isNew: !existing,
        expectedVersion: existing?.version,
        cuis,
        sessionId: input.sessionId,
        completedAt: now,
      });
    } catch (error) {
      // The pair just written must not outlive a failed connect: a new token's secret has no record, and
      // a token disconnected meanwhile stays disconnected (the retry connects anew).
      if (!existing || (await disconnectedMeanwhile(deps, existing))) {
        await deps.secrets.deleteTokenPair(input.tenantId, token.tokenId).catch(() => undefined);
      }
      if (error instanceof BrokerError && error.code === 'CONFLICT' && attempt < 2) continue;
      throw error;
    }
    const linked = (await deps.companies.listByToken(input.tenantId, token.tokenId)).map((c) => c.cui);
    await recordEvent(deps, {
      tenantId: input.tenantId,
      type: 'connected',
      tokenId: token.tokenId,
      cuis: linked,
      at: now,
      details: { serial, reauthorization: Boolean(existing), source: input.sessionId ? 'callback' : 'import' },
    });
    return token;
  }
}

