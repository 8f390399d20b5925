import { setTimeout as sleep } from 'node:timers/promises';
import { AnafError } from '../domain/anaf-errors.js';
import { BrokerError } from '../domain/errors.js';
import { readPairFacts, type PairFacts } from '../domain/pair-facts.js';
import type { ConnectSession, TokenRecord } from '../domain/model.js';
import { computeDueAt, rotationsInWindow } from '../domain/refresh-policy.js';
import {
  STATE_TTL_SECONDS,
  hashState,
  newSecretVersionId,
  isWellFormedSessionId,
  isWellFormedState,
  newSessionId,
  newState,
  newTokenId,
} from '../domain/state.js';
import { buildAnafAuthorizeUrl, buildConnectUrl, isAllowedReturnUrl } from '../domain/urls.js';
import type { AnafTokenResponse } from '../ports.js';
import type { ServiceDeps } from './deps.js';
import { recordEvent } from './audit.js';
import { requireRegisteredCompanies } from './companies.js';
import { JOIN_POLL_MS, leaseSecondsFor, newLeaseOwner, writePairDurably } from './refresh.js';
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
  const startedAt = deps.clock.now().getTime();
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
      pair,
      cuis: session.cuis,
      sessionId: session.sessionId,
      source: 'callback',
      replaceActive: true,
      leaseDeadline: startedAt + REAUTHORIZATION_WAIT_MS,
    });
  } catch (error) {
    // Another callback of the same session completed first: this one is late, like an expired link.
    if (error instanceof BrokerError && error.code === 'CONFLICT') return fail('SESSION_EXPIRED');
    // The token stayed under refresh past the wait. Nothing is stored: the new pair is a fresh grant
    // nobody holds, the old chain still works, and the session is still open for another try. The
    // reason is one the ERP already knows, and its page says to try again with the same link.
    if (error instanceof BrokerError && error.code === 'REFRESH_IN_PROGRESS') return fail('ANAF_UNAVAILABLE');
    throw error;
  }
  return { kind: 'connected', tokenId: token.tokenId, cuis: session.cuis, returnUrl: session.returnUrl };
}

const disconnectedMeanwhile = async (deps: ServiceDeps, token: TokenRecord) =>
  (await deps.tokens.get(token.tenantId, token.tokenId).catch(() => null))?.status === 'disconnected';

/**
 * How long a callback waits for the refresh lease of the certificate's existing token, counted from the
 * callback's start: the code exchange and the wait share these 20 s, so the browser gets its page
 * (after the writes) well inside API Gateway's 30 s. A refresh normally holds the lease for well under a
 * second; one stuck on a slow ANAF can hold it longer, and the page then says to try again.
 */
export const REAUTHORIZATION_WAIT_MS = 20_000;

/**
 * What a fresh pair's metadata says, whatever the tokens look like (a 2xx from ANAF is never refused):
 * the one place a callback or an import reads it. A JWT `exp` wins, else the expiry is estimated
 * (`expires_in`, ANAF's documented lifetimes), logged and counted. A code exchange that carried no
 * refresh token gives a token that cannot be refreshed: its refresh end is its access end, so warnings
 * and reauth-required come on time.
 */
export function readPairClaims(deps: Pick<ServiceDeps, 'clock' | 'logger' | 'metrics'>, pair: AnafTokenResponse): PairFacts {
  const refreshToken = pair.refreshToken ?? '';
  const facts = readPairFacts({ accessToken: pair.accessToken, refreshToken, expiresInSeconds: pair.expiresInSeconds, now: deps.clock.now() });
  if (facts.accessExpiryEstimated || facts.refreshExpiryEstimated) {
    deps.logger.warn('token expiry estimated: ANAF issued a token without a readable exp claim', {
      access: facts.accessExpiryEstimated,
      refresh: facts.refreshExpiryEstimated,
    });
    deps.metrics?.count('ExpiryEstimated');
  }
  if (refreshToken !== '') return facts;
  return { ...facts, refreshExpiresAt: facts.accessExpiresAt, refreshExpiryEstimated: facts.accessExpiryEstimated };
}

/** The pair as the secret stores it (a missing refresh token is stored empty: nothing to refresh with). */
const toStored = (pair: AnafTokenResponse, version: number) => ({ accessToken: pair.accessToken, refreshToken: pair.refreshToken ?? '', version });

export type StoreAuthorizationInput = {
  tenantId: string;
  cuis: string[];
  source: 'callback' | 'import';
  /** The session a callback completes. */
  sessionId?: string;
  /** False: an `active` token of the same certificate is left alone (TOKEN_EXISTS), before any pair is obtained. */
  replaceActive: boolean;
  /** Until when (epoch ms on deps.clock) to wait for the lease of the existing token; then REFRESH_IN_PROGRESS. */
  leaseDeadline: number;
} & (
  /** A callback: the pair is already in hand (ANAF's code lives 60 s, so it is exchanged at once). */
  | { pair: AnafTokenResponse }
  /**
   * An import: the certificate is known from the pasted pair, and `obtainPair` (the rotation at ANAF) is
   * called at most once, under the lease when the certificate already has a token.
   */
  | { serial: string | null; obtainPair: () => Promise<AnafTokenResponse> }
);

/**
 * Stores a fresh pair from a callback or an import. A pair from a certificate (`serial`) that already
 * has a live token in this tenant updates that token and keeps its links: under the token's refresh
 * lease (waiting for a refresh that holds it, until `leaseDeadline`), re-read, versioned past both the
 * record and the secret, written conditional on the lease, which the same write releases. Otherwise a
 * new token is made. Write order: the secret first (a token record never points at a missing pair),
 * then the metadata, links and session completion in one transaction. Retries when a racing callback
 * of the same certificate created the token first, or the token changed under it.
 */
export async function storeAuthorization(deps: ServiceDeps, input: StoreAuthorizationInput): Promise<TokenRecord> {
  const serial = 'pair' in input ? readPairClaims(deps, input.pair).serial : input.serial;
  let obtained: Promise<AnafTokenResponse> | null = null;
  const obtain = 'pair' in input ? async () => input.pair : () => (obtained ??= input.obtainPair());
  const written = { into: null as string | null };
  for (let attempt = 0; ; attempt++) {
    const now = deps.clock.now().toISOString();
    // A company deleted since the session was minted is skipped rather than failing the connection.
    const present = await Promise.all(input.cuis.map((cui) => deps.companies.get(input.tenantId, cui)));
    const cuis = input.cuis.filter((_, i) => present[i]);
    const existing = serial ? await deps.tokens.findBySerial(input.tenantId, serial) : null;
    let token: TokenRecord;
    try {
      token = existing
        ? await updateUnderLease(deps, input, existing, { cuis, now, obtain, written })
        : await createToken(deps, input, serial, { cuis, now, obtain });
    } catch (error) {
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
      details: { serial, reauthorization: Boolean(existing), source: input.source },
    });
    return token;
  }
}

interface WriteContext {
  cuis: string[];
  now: string;
  obtain: () => Promise<AnafTokenResponse>;
}

/**
 * A fresh pair's record fields: expiries from its claims (or estimated), the secret version that holds
 * it, errors and warnings reset, no lease.
 */
function freshFields(input: StoreAuthorizationInput, claims: PairFacts, now: string, secretVersionId: string, rotations: string[]) {
  return {
    status: 'active' as const,
    clientAppId: claims.clientAppId,
    accessExpiresAt: claims.accessExpiresAt,
    refreshExpiresAt: claims.refreshExpiresAt,
    accessExpiryEstimated: claims.accessExpiryEstimated,
    refreshExpiryEstimated: claims.refreshExpiryEstimated,
    accessIssuedAt: now,
    secretVersionId,
    recoveryAttemptedAt: null,
    // An import rotated at ANAF: it counts against MAX_ROTATIONS_PER_DAY like a refresh.
    rotations: input.source === 'import' ? [...rotations, now] : rotations,
    lastError: null,
    failedAttempts: 0,
    warningsSent: [],
    leaseOwner: null,
    leaseExpiresAt: null,
    updatedAt: now,
    dueAt: null,
    // An import's pair was rotated at ANAF just now: that is a refresh (and counts for the cool-down).
    ...(input.source === 'import' ? { lastRefreshAt: now } : {}),
  };
}

async function createToken(deps: ServiceDeps, input: StoreAuthorizationInput, serial: string | null, ctx: WriteContext): Promise<TokenRecord> {
  const pair = await ctx.obtain();
  const token: TokenRecord = {
    tenantId: input.tenantId,
    tokenId: newTokenId(),
    serial,
    version: 1,
    lastRefreshAt: null,
    createdAt: ctx.now,
    ...freshFields(input, readPairClaims(deps, pair), ctx.now, newSecretVersionId(), []),
  };
  token.dueAt = computeDueAt(token, deps.settings.refreshMarginDays);
  // Made durable like a refresh's pair (retries, then the escrow): after an import's rotation, and for a
  // callback's fresh grant, the only copy of the pair is in memory.
  await writePairDurably(deps, input.tenantId, token.tokenId, toStored(pair, token.version), token.secretVersionId!);
  try {
    await deps.tokens.connect({ token, isNew: true, cuis: ctx.cuis, sessionId: input.sessionId, completedAt: ctx.now });
  } catch (error) {
    await deps.secrets.deleteTokenPair(input.tenantId, token.tokenId).catch(() => undefined);
    throw error;
  }
  return token;
}

async function updateUnderLease(
  deps: ServiceDeps,
  input: StoreAuthorizationInput,
  existing: TokenRecord,
  ctx: WriteContext & { written: { into: string | null } },
): Promise<TokenRecord> {
  const { tenantId, tokenId } = existing;
  refuseActive(input, existing);
  const owner = newLeaseOwner();
  const leased = await leaseWithin(deps, existing, owner, input.leaseDeadline);
  if (!leased) {
    deps.logger.warn('a re-authorization found the token under refresh past its wait; nothing stored', { tenantId, tokenId, source: input.source });
    throw new BrokerError('REFRESH_IN_PROGRESS', 'a refresh of this token is under way; try again shortly');
  }
  try {
    // Disconnected between the lookup and the lease: the next attempt makes a new token.
    if (leased.status === 'disconnected') throw new BrokerError('CONFLICT', 'the token was disconnected meanwhile');
    refuseActive(input, leased);
    const stored = await deps.secrets.getTokenPair(tenantId, tokenId);
    const pair = await ctx.obtain();
    // Past the secret's version too: a pair an interrupted run left there must not share a number with ours.
    let version = Math.max(leased.version, stored?.version ?? 0) + 1;
    let secretVersionId = newSecretVersionId();
    if (stored && stored.refreshToken === (pair.refreshToken ?? '')) {
      // Our own pair from a previous attempt, not yet adopted: keep it where it is.
      version = stored.version;
      secretVersionId = stored.versionId;
    } else if (ctx.written.into === tokenId) {
      // Our pair was written, then replaced or adopted (and maybe rotated) by another run: writing it
      // again could put a spent refresh token over a live one.
      throw new BrokerError('REFRESH_IN_PROGRESS', 'the token changed while the new pair was being stored; try again');
    } else {
      if ((await writePairDurably(deps, tenantId, tokenId, toStored(pair, version), secretVersionId)) === 'disconnected') {
        throw new BrokerError('CONFLICT', 'the token was disconnected while the new pair was being stored');
      }
      ctx.written.into = tokenId;
    }
    const rotations = rotationsInWindow(leased.rotations, deps.clock.now());
    const token: TokenRecord = { ...leased, version, ...freshFields(input, readPairClaims(deps, pair), ctx.now, secretVersionId, rotations) };
    token.clientAppId ??= leased.clientAppId;
    token.dueAt = computeDueAt(token, deps.settings.refreshMarginDays);
    try {
      await deps.tokens.connect({
        token,
        isNew: false,
        expectedVersion: leased.version,
        leaseOwner: owner,
        cuis: ctx.cuis,
        sessionId: input.sessionId,
        completedAt: ctx.now,
      });
    } catch (error) {
      const current = await deps.tokens.get(tenantId, tokenId).catch(() => null);
      if (current?.status === 'disconnected') {
        // A disconnect won the race: the pair we just wrote must not outlive it.
        await deps.secrets.deleteTokenPair(tenantId, tokenId).catch(() => undefined);
      }
      throw error;
    }
    return token;
  } finally {
    // Released by the connect write when it landed; this covers every other way out.
    await deps.tokens.releaseLease(tenantId, tokenId, owner).catch((error: unknown) =>
      deps.logger.warn('lease release failed', { tenantId, tokenId, errorName: (error as Error)?.name }),
    );
  }
}

function refuseActive(input: StoreAuthorizationInput, token: TokenRecord): void {
  if (!input.replaceActive && token.status === 'active') {
    throw new BrokerError('TOKEN_EXISTS', `this certificate already has an active token (${token.tokenId}); send "replace": true to replace its pair`);
  }
}

/** Takes the token's refresh lease, polling while another run holds it, until `deadline` (deps.clock). */
async function leaseWithin(deps: ServiceDeps, token: TokenRecord, owner: string, deadline: number): Promise<TokenRecord | null> {
  for (;;) {
    const leased = await deps.tokens.acquireLease(token.tenantId, token.tokenId, owner, deps.clock.now(), leaseSecondsFor(deps));
    if (leased || deps.clock.now().getTime() >= deadline) return leased;
    await sleep(JOIN_POLL_MS);
  }
}
