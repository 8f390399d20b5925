import { isStoreFault } from '../config/aws-calls.js';
import { AnafError } from '../domain/anaf-errors.js';
import { BrokerError } from '../domain/errors.js';
import { readPairFacts, type PairFacts } from '../domain/pair-facts.js';
import type { ConnectFailureReason, ConnectSession, ConnectSessionView, TenantClient, TokenRecord } from '../domain/model.js';
import { connectSessionStatus, toConnectSessionView } from '../domain/views.js';
import { boundLinkVerdict } from '../domain/connect-links.js';
import { computeDueAt, rotationsInWindow } from '../domain/refresh-policy.js';
import {
  STATE_TTL_SECONDS,
  hashSessionId,
  hashState,
  newSecretVersionId,
  openSessionId,
  sealSessionId,
  isWellFormedSessionId,
  isWellFormedState,
  newSessionId,
  newState,
  newTokenId,
  TOKEN_ID_SHAPE,
} from '../domain/state.js';
import { buildAnafAuthorizeUrl, buildConnectUrl, isAllowedReturnUrl } from '../domain/urls.js';
import { ADOPTABLE_ORPHAN_MAX_AGE_MS } from '../domain/disconnection.js';
import type { AnafTokenResponse, StoredPair } from '../ports.js';
import type { ServiceDeps } from './deps.js';
import { recordEvent } from './audit.js';
import { disconnect } from './disconnect.js';
import { requireRegisteredCompanies } from './companies.js';
import { acquireLeaseWithin } from './lease-wait.js';
import { leaseSecondsFor, newLeaseOwner, readPairSources, writePairDurably } from './refresh.js';
import { clientCredentials, requireTenant } from './tenants.js';

export const DEFAULT_SESSION_TTL_SECONDS = 1800;
export const MAX_SESSION_TTL_SECONDS = 7 * 86_400;
export const MIN_SESSION_TTL_SECONDS = 60;

/**
 * Mints a connect session for registered companies. Steps: check the tenant, the return URL against
 * the allow-list and every CUI; store the session; answer the URL to send to the certificate holder.
 * `expiresAt` (instead of `ttlSeconds`) is for the broker's own lifecycle links, which may outlive the
 * ERP's 7-day maximum (eventLinkExpiresAt).
 */
export async function createConnectSession(
  deps: ServiceDeps,
  input: { tenantId: string; cuis: string[]; returnUrl?: string; ttlSeconds?: number; expiresAt?: Date; tokenId?: string },
): Promise<{ sessionId: string; authorizeUrl: string; expiresAt: string }> {
  await requireTenant(deps, input.tenantId);
  if (input.tokenId !== undefined) {
    const token = TOKEN_ID_SHAPE.test(input.tokenId) ? await deps.tokens.get(input.tenantId, input.tokenId) : null;
    if (!token) throw new BrokerError('TOKEN_NOT_FOUND', 'token not found');
    // A disconnected token is never revived: its holder connects with a session for the companies.
    if (token.status === 'disconnected') throw new BrokerError('TOKEN_DISCONNECTED', 'the token is disconnected; mint a session without tokenId');
  }
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
    expiresAt: (input.expiresAt ?? new Date(now.getTime() + ttl * 1000)).toISOString(),
    completedAt: null,
    tokenId: null,
    forTokenId: input.tokenId ?? null,
    lastError: null,
    lastErrorAt: null,
  };
  await deps.sessions.create(session);
  return {
    sessionId: session.sessionId,
    authorizeUrl: buildConnectUrl(deps.settings.publicBaseUrl, session.sessionId),
    expiresAt: session.expiresAt,
  };
}

/** Why a browser flow ended without a connection; each has a page and, with a returnUrl, a redirect. */
export type FlowFailure = 'INVALID_SESSION' | 'INVALID_STATE' | ConnectFailureReason;

/** What the pages say about a known session: who asked (the tenant's display name) and for which companies. */
export interface FlowContext {
  requester: string | null;
  /** The session's companies still registered, with their names. */
  companies: Array<{ cui: string; name: string | null }>;
  /** When the session's link stops working (ISO). */
  expiresAt: string;
}

/** What the browser should see next. `returnUrl` is set only when the session is known and has one. */
export type FlowOutcome =
  | { kind: 'redirect-to-anaf'; location: string }
  /**
   * `replacedTokenId`: the session was minted for that token, which waited for a person, and another
   * certificate (a renewed one) completed it: the companies moved from that token to `tokenId`.
   */
  | { kind: 'connected'; tokenId: string; replacedTokenId?: string; returnUrl: string | null; context: FlowContext }
  /**
   * A session minted for a healthy token was completed with another certificate: that certificate got a
   * token of its own, no company moved, and the session stays open for its holder. Always a page (never
   * a redirect): the person must read that the link is not theirs.
   */
  | { kind: 'other-certificate'; tokenId: string; context: FlowContext }
  /**
   * The session had already completed: its link was opened again (`link`), or the callback URL was
   * reloaded or used by a second tab (`callback`: never a redirect, since the state proves nothing).
   */
  | { kind: 'already-connected'; via: 'link' | 'callback'; tokenId: string; completedAt: string; returnUrl: string | null; context: FlowContext }
  /** `retryUrl`: the session's link, when opening it again can still succeed. */
  | { kind: 'failed'; reason: FlowFailure; returnUrl: string | null; context?: FlowContext; retryUrl?: string };

const isOpen = (session: ConnectSession, now: Date) => connectSessionStatus(session, now) === 'open';

/**
 * Reads what a page says about a session; a company deleted since the session was minted is left out.
 * `tenant`: the tenant item when the caller has just read it.
 */
async function describeSession(deps: ServiceDeps, session: ConnectSession, tenant?: TenantClient): Promise<FlowContext> {
  const [client, companies] = await Promise.all([
    tenant ?? deps.tenants.get(session.tenantId),
    Promise.all(session.cuis.map((cui) => deps.companies.get(session.tenantId, cui))),
  ]);
  return {
    requester: client?.displayName ?? null,
    companies: companies.filter((c) => c !== null).map((c) => ({ cui: c.cui, name: c.name })),
    expiresAt: session.expiresAt,
  };
}

async function alreadyConnected(deps: ServiceDeps, session: ConnectSession, via: 'link' | 'callback'): Promise<FlowOutcome> {
  return {
    kind: 'already-connected',
    via,
    tokenId: session.tokenId ?? '',
    completedAt: session.completedAt!,
    returnUrl: via === 'link' ? session.returnUrl : null,
    context: await describeSession(deps, session),
  };
}

/**
 * A failed attempt of a known session: recorded on the session (its `lastError`) and announced as a
 * `connect-failed` event, both only when the session is not completed meanwhile; with `once`, only the
 * first time this reason is recorded (an expired link opened again and again announces it once).
 */
async function failAttempt(deps: ServiceDeps, session: ConnectSession, reason: ConnectFailureReason, options: { once?: boolean; anafError?: string } = {}): Promise<FlowOutcome> {
  const at = deps.clock.now().toISOString();
  const recorded = await deps.sessions.recordFailure(session.sessionId, { reason, at }, { once: options.once }).catch((error: unknown) => {
    // The page matters more than the record: the person still learns what to do next.
    deps.logger.warn('recording a failed connect attempt failed', { tenantId: session.tenantId, reason, errorName: (error as Error)?.name });
    return false;
  });
  if (recorded) {
    await recordEvent(deps, {
      tenantId: session.tenantId,
      type: 'connect-failed',
      tokenId: null,
      cuis: [...session.cuis],
      at,
      details: { sessionHash: hashSessionId(session.sessionId), reason, ...(options.anafError ? { anafError: options.anafError } : {}) },
    });
  }
  const context = await describeSession(deps, session);
  const retry = reason !== 'SESSION_EXPIRED' && reason !== 'ANAF_REJECTED';
  return {
    kind: 'failed',
    reason,
    returnUrl: session.returnUrl,
    context,
    ...(retry ? { retryUrl: buildConnectUrl(deps.settings.publicBaseUrl, session.sessionId) } : {}),
  };
}

/** ANAF's `error` parameter as it may be kept in an event: a short OAuth error code, nothing else. */
const anafErrorCode = (error: string) => (/^[a-z_]{1,40}$/.test(error) ? error : 'other');

/**
 * Opens a connect session: each opening mints a new single-use state (10 minutes) bound to the session
 * and answers ANAF's authorize URL. A session can be opened again until it expires or completes; a
 * completed one says so, an expired one records SESSION_EXPIRED (announced once).
 */
export async function startAuthorization(deps: ServiceDeps, sessionId: string): Promise<FlowOutcome> {
  if (!isWellFormedSessionId(sessionId)) return { kind: 'failed', reason: 'INVALID_SESSION', returnUrl: null };
  const session = await deps.sessions.get(sessionId);
  if (!session) return { kind: 'failed', reason: 'INVALID_SESSION', returnUrl: null };
  const now = deps.clock.now();
  const status = connectSessionStatus(session, now);
  if (status === 'completed') return alreadyConnected(deps, session, 'link');
  if (status === 'expired') return failAttempt(deps, session, 'SESSION_EXPIRED', { once: true });
  const tenant = await deps.tenants.get(session.tenantId);
  if (!tenant) return { kind: 'failed', reason: 'INVALID_SESSION', returnUrl: null };
  const state = newState();
  const stateExpiry = Math.min(now.getTime() + STATE_TTL_SECONDS * 1000, Date.parse(session.expiresAt));
  await deps.sessions.putState({
    stateHash: hashState(state),
    sealedSessionId: sealSessionId(state, sessionId),
    tenantId: session.tenantId,
    expiresAt: new Date(stateExpiry).toISOString(),
    consumedAt: null,
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
 * Completes an authorization on ANAF's redirect. Steps: consume the state (once; a state used before
 * only tells whether its session completed); check the session; turn ANAF's error into a reason;
 * exchange the code at once (ANAF allows 60 s); store the pair and link the session's companies; record
 * `connected`. Nothing but the failure (session `lastError`, `connect-failed`) is stored on any failure.
 */
export async function completeAuthorization(
  deps: ServiceDeps,
  query: { state?: string; code?: string; error?: string },
): Promise<FlowOutcome> {
  const startedAt = deps.clock.now().getTime();
  const state = query.state ?? '';
  const invalid: FlowOutcome = { kind: 'failed', reason: 'INVALID_STATE', returnUrl: null };
  if (!isWellFormedState(state)) return invalid;
  const consumed = await deps.sessions.consumeState(hashState(state), deps.clock.now().toISOString());
  if (!consumed) return invalid;
  const { record } = consumed;
  const now = deps.clock.now();
  const sessionId = openSessionId(state, record.sealedSessionId ?? '');
  // A first use with a code will exchange it: the client is read beside the session (the state names the
  // tenant), wasted only when the session turns out unusable.
  const early = consumed.firstUse && query.code && !query.error && Date.parse(record.expiresAt) > now.getTime() ? clientCredentials(deps, record.tenantId) : null;
  early?.catch(() => undefined);
  const session = sessionId ? await deps.sessions.get(sessionId) : null;
  if (!session || session.tenantId !== record.tenantId) return invalid;
  // A reload, Back, or a second tab after a success: nothing left to do, and the page says so.
  if (session.completedAt) return alreadyConnected(deps, session, 'callback');
  if (!consumed.firstUse || Date.parse(record.expiresAt) <= now.getTime()) {
    // Refused as before; while the session is open its link is offered again.
    return isOpen(session, now) ? { ...invalid, retryUrl: buildConnectUrl(deps.settings.publicBaseUrl, session.sessionId) } : invalid;
  }
  if (!isOpen(session, now)) return failAttempt(deps, session, 'SESSION_EXPIRED', { once: true });
  if (query.error) {
    deps.logger.info('ANAF denied the authorization', { tenantId: session.tenantId, anafError: query.error.slice(0, 64) });
    const reason = query.error === 'access_denied' ? 'ACCESS_DENIED' : 'ANAF_REJECTED';
    return failAttempt(deps, session, reason, { anafError: anafErrorCode(query.error) });
  }
  if (!query.code) return failAttempt(deps, session, 'ANAF_REJECTED');

  const client = await (early ?? clientCredentials(deps, session.tenantId));
  if (!client) return invalid;
  const { tenant, clientSecret } = client;
  let pair;
  try {
    pair = await deps.anaf.exchangeCode({ clientId: tenant.clientId, clientSecret, code: query.code, redirectUri: tenant.redirectUri });
  } catch (error) {
    if (!(error instanceof AnafError)) throw error;
    deps.logger.warn('code exchange failed', { tenantId: session.tenantId, kind: error.kind, status: error.details.status });
    return failAttempt(deps, session, error.kind === 'unavailable' || error.kind === 'timeout' ? 'ANAF_UNAVAILABLE' : 'ANAF_REJECTED');
  }
  // A session minted for a token restores that certificate holder; another certificate takes the
  // companies only while the token waits for a person (a renewed certificate has a new serial), else it
  // gets a token of its own and takes no company from a working connection.
  const bound = session.forTokenId ? await deps.tokens.get(session.tenantId, session.forTokenId) : null;
  const pairSerial = () =>
    readPairFacts({ accessToken: pair.accessToken, refreshToken: pair.refreshToken ?? '', expiresInSeconds: pair.expiresInSeconds, now }).serial;
  const verdict = session.forTokenId ? boundLinkVerdict(bound, pairSerial(), now) : null;
  const otherCertificate = verdict === 'other-certificate';
  let token: TokenRecord;
  try {
    token = await storeAuthorization(deps, {
      tenantId: session.tenantId,
      pair,
      cuis: otherCertificate ? [] : session.cuis,
      sessionId: otherCertificate ? undefined : session.sessionId,
      // The old token's other links (older warnings) would otherwise let anyone move the companies again.
      ...(verdict === 'takes-over' ? { supersedes: session.forTokenId! } : {}),
      source: 'callback',
      replaceActive: true,
      leaseDeadline: startedAt + REAUTHORIZATION_WAIT_MS,
    });
  } catch (error) {
    if (error instanceof BrokerError && error.code === 'CONFLICT') {
      // Another callback of the same session completed first (a second tab): this one has nothing left to do.
      const current = await deps.sessions.get(session.sessionId);
      if (current?.completedAt) return alreadyConnected(deps, current, 'callback');
      return failAttempt(deps, session, 'SESSION_EXPIRED', { once: true });
    }
    // The token stayed under refresh past the wait. Nothing is stored: the new pair is a fresh grant
    // nobody holds, the old chain still works, and the session is still open for another try. The
    // reason is one the ERP already knows, and its page says to try again with the same link.
    if (error instanceof BrokerError && error.code === 'REFRESH_IN_PROGRESS') return failAttempt(deps, session, 'ANAF_UNAVAILABLE');
    throw error;
  }
  if (otherCertificate) {
    deps.logger.warn('a session minted for a token was completed with another certificate; no company moved', { tenantId: session.tenantId, tokenId: session.forTokenId });
    return { kind: 'other-certificate', tokenId: token.tokenId, context: await describeSession(deps, session, tenant) };
  }
  const context = await describeSession(deps, session, tenant);
  if (verdict === 'takes-over' && token.tokenId !== session.forTokenId) {
    deps.logger.info("another certificate completed a token's link while the token waited for a person; its companies moved", {
      tenantId: session.tenantId,
      tokenId: token.tokenId,
      replacedTokenId: session.forTokenId,
    });
    await retireReplaced(deps, session.tenantId, session.forTokenId!, token.tokenId);
    return { kind: 'connected', tokenId: token.tokenId, replacedTokenId: session.forTokenId!, returnUrl: session.returnUrl, context };
  }
  return { kind: 'connected', tokenId: token.tokenId, returnUrl: session.returnUrl, context };
}

/**
 * A `reauth-required` token whose companies all moved to `byTokenId` (a renewed certificate through its
 * link) has nothing left to do: its refresh is refused and no company reads it. It is disconnected now
 * (reason REPLACED: pair deleted, the `disconnected` event naming the new token) instead of staying
 * `reauth-required` for ever (the sweep never looks at such a token). One that keeps a company stays as
 * it is; an `active` one is left to the sweep, which disconnects it (UNUSED) at its next due time. The
 * connection has succeeded by now, so a failure here only logs: an unfinished disconnect is finished by
 * the sweep's reconciliation, and a flip that did not happen leaves the token as it was before.
 */
async function retireReplaced(deps: ServiceDeps, tenantId: string, tokenId: string, byTokenId: string): Promise<void> {
  try {
    const old = await deps.tokens.get(tenantId, tokenId);
    if (old?.status !== 'reauth-required') return;
    const { flipped } = await disconnect(deps, old, 'REPLACED', { replacedByTokenId: byTokenId });
    if (flipped) deps.logger.info('a replaced reauth-required token was disconnected', { tenantId, tokenId, replacedByTokenId: byTokenId });
  } catch (error) {
    deps.logger.warn('disconnecting the replaced token failed; the sweep finishes a started disconnect', { tenantId, tokenId, errorName: (error as Error)?.name });
  }
}

/**
 * The session as the ERP sees it. A malformed id, an unknown session or another tenant's is
 * SESSION_NOT_FOUND (a session id never tells which tenant it belongs to).
 */
export async function getConnectSession(deps: ServiceDeps, tenantId: string, sessionId: string): Promise<ConnectSessionView> {
  await requireTenant(deps, tenantId);
  const session = isWellFormedSessionId(sessionId) ? await deps.sessions.get(sessionId) : null;
  if (!session || session.tenantId !== tenantId) throw new BrokerError('SESSION_NOT_FOUND', 'connect session not found');
  return toConnectSessionView(session, deps.clock.now());
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
  /** The token whose holder this callback replaces (a token-bound link taken over): its open links are closed too. */
  supersedes?: string;
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
  | {
      serial: string | null;
      obtainPair: () => Promise<AnafTokenResponse>;
      /** The id a new token gets (`importTokenId`): an earlier attempt's pair under it is found there. */
      importTokenId?: string;
    }
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
  // Where createToken left an import's pair after a failed transaction (for the same import sent again).
  const kept = { at: null as string | null };
  for (let attempt = 0; ; attempt++) {
    const now = deps.clock.now().toISOString();
    // A company deleted since the session was minted is skipped rather than failing the connection.
    const [present, existing] = await Promise.all([
      Promise.all(input.cuis.map((cui) => deps.companies.get(input.tenantId, cui))),
      serial ? deps.tokens.findBySerial(input.tenantId, serial) : null,
    ]);
    const cuis = input.cuis.filter((_, i) => present[i]);
    let token: TokenRecord;
    try {
      token = existing
        ? await updateUnderLease(deps, input, existing, { cuis, now, obtain, written })
        : await createToken(deps, input, serial, { cuis, now, obtain, kept });
    } catch (error) {
      if (error instanceof BrokerError && error.code === 'CONFLICT' && attempt < 2) continue;
      throw error;
    }
    // A retry stored the pair in another token (one a racing import made): the copy left behind goes.
    if (kept.at && kept.at !== token.tokenId) await deps.secrets.deleteTokenPair(input.tenantId, kept.at).catch(() => undefined);
    const announce = async () => {
      // A new token's links are the ones its transaction just wrote; a re-authorized one keeps its others too.
      const linked = existing ? (await deps.companies.listByToken(input.tenantId, token.tokenId)).map((c) => c.cui) : cuis;
      await recordEvent(deps, {
        tenantId: input.tenantId,
        type: 'connected',
        tokenId: token.tokenId,
        cuis: linked,
        at: now,
        details: { serial, reauthorization: Boolean(existing), source: input.source },
      });
      await announceMoves(deps, token, present.filter((c): c is NonNullable<typeof c> => c !== null && cuis.includes(c.cui)), now);
    };
    // The holder is back (or, for `supersedes`, replaced by a renewed certificate): the token's other
    // links (older warnings) have nothing left to do. Independent of the events, so both go out at once.
    const closeOthers = async () => {
      if (!input.sessionId) return;
      const of = [...(existing ? [token.tokenId] : []), ...(input.supersedes && input.supersedes !== token.tokenId ? [input.supersedes] : [])];
      await Promise.all(
        of.map((tokenId) =>
          deps.sessions.closeOpenFor(input.tenantId, tokenId, input.sessionId, now, token.tokenId).catch((error: unknown) =>
            deps.logger.warn('closing the token\'s other connect sessions failed', { tenantId: input.tenantId, tokenId, errorName: (error as Error)?.name }),
          ),
        ),
      );
    };
    await Promise.all([announce(), closeOthers()]);
    return token;
  }
}

/**
 * A `relinked` event for each active token of another certificate that lost companies to `token`
 * (`before`: the companies as they were read before the write), naming both serials.
 */
async function announceMoves(deps: ServiceDeps, token: TokenRecord, before: Array<{ cui: string; tokenId: string | null }>, at: string): Promise<void> {
  const moved = new Map<string, string[]>();
  for (const c of before) if (c.tokenId && c.tokenId !== token.tokenId) moved.set(c.tokenId, [...(moved.get(c.tokenId) ?? []), c.cui]);
  for (const [fromTokenId, cuis] of moved) {
    const from = await deps.tokens.get(token.tenantId, fromTokenId);
    if (!from || from.status !== 'active' || from.serial === token.serial) continue;
    await recordEvent(deps, {
      tenantId: token.tenantId,
      type: 'relinked',
      tokenId: token.tokenId,
      cuis,
      at,
      details: { fromTokenId, fromSerial: from.serial, serial: token.serial },
    });
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
    // A login starts a new authorization (ANAF_ROTATION_CAP counts from it); an import's own rotation is
    // its first known one (the rotations made by hand before it are unknown).
    rotationCount: input.source === 'import' ? 1 : 0,
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

/**
 * The id of the token a callback or an import makes, and the pair an earlier attempt of the same import
 * left under it (`importTokenId`) when that attempt's record never landed: the paste is spent at ANAF
 * then, so that pair is the chain's only live one. A pair in the secret is taken while the sweep cannot
 * be deleting it as an orphan (younger than ADOPTABLE_ORPHAN_MAX_AGE_MS), one in the escrow at any age;
 * an id a record already has (a token since disconnected), or an older secret, gets a random id instead.
 */
async function newTokenFor(
  deps: ServiceDeps,
  input: StoreAuthorizationInput,
): Promise<{ tokenId: string; left: StoredPair | null; derived: boolean }> {
  const derived = 'importTokenId' in input ? input.importTokenId : undefined;
  const random = { tokenId: newTokenId(), left: null, derived: false };
  if (!derived) return random;
  const [record, { latest, escrowed }] = await Promise.all([deps.tokens.get(input.tenantId, derived), readPairSources(deps, input.tenantId, derived)]);
  if (record) return random;
  // Every secret write of that attempt failed: its pair is in the escrow, which no sweep deletes by age.
  // The record then points at the escrowed version, as that attempt's own would have.
  if (!latest) return { tokenId: derived, left: escrowed, derived: true };
  const createdAt = await deps.secrets.tokenSecretCreatedAt(input.tenantId, derived);
  const young = createdAt !== null && deps.clock.now().getTime() - Date.parse(createdAt) < ADOPTABLE_ORPHAN_MAX_AGE_MS;
  return young ? { tokenId: derived, left: latest, derived: true } : random;
}

/** Whether `current` is the record a connect transaction wrote as `token`: it committed, whatever it answered. */
const committedAs = (current: TokenRecord | null | undefined, token: TokenRecord): current is TokenRecord =>
  current?.version === token.version && current.secretVersionId === token.secretVersionId;

async function createToken(
  deps: ServiceDeps,
  input: StoreAuthorizationInput,
  serial: string | null,
  ctx: WriteContext & { kept: { at: string | null } },
): Promise<TokenRecord> {
  const { tokenId, left, derived } = await newTokenFor(deps, input);
  const pair: AnafTokenResponse = left ? { accessToken: left.accessToken, ...(left.refreshToken ? { refreshToken: left.refreshToken } : {}) } : await ctx.obtain();
  const token: TokenRecord = {
    tenantId: input.tenantId,
    tokenId,
    serial,
    version: left?.version ?? 1,
    lastRefreshAt: null,
    createdAt: ctx.now,
    ...freshFields(input, readPairClaims(deps, pair), ctx.now, left?.versionId ?? newSecretVersionId(), []),
  };
  token.dueAt = computeDueAt(token, deps.settings);
  if (left) {
    deps.logger.warn('an import sent again: storing the pair its first attempt left', { tenantId: input.tenantId, tokenId });
  } else {
    // Made durable like a refresh's pair (retries, then the escrow): after an import's rotation, and for
    // a callback's fresh grant, the only copy of the pair is in memory.
    await writePairDurably(deps, input.tenantId, tokenId, toStored(pair, token.version), token.secretVersionId!);
  }
  try {
    await deps.tokens.connect({ token, isNew: true, cuis: ctx.cuis, sessionId: input.sessionId, completedAt: ctx.now });
  } catch (error) {
    if (isStoreFault(error)) {
      // The transaction's outcome is unknown: it may have committed before its answer was lost. One that
      // committed is the connection, with the pair it points at; otherwise the pair is left to the
      // sweep's reconciliation (a secret no record points at is deleted an hour after it was written),
      // never deleted here under a record that may exist.
      const landed = await deps.tokens.get(input.tenantId, token.tokenId).catch(() => undefined);
      if (committedAs(landed, token)) {
        deps.logger.warn('the connect transaction committed though its answer was lost', { tenantId: input.tenantId, tokenId: token.tokenId });
        return landed;
      }
      throw error;
    }
    // An import's pair stays where the same import sent again finds it (the sweep deletes it after an hour).
    if (derived) ctx.kept.at = tokenId;
    else await deps.secrets.deleteTokenPair(input.tenantId, token.tokenId).catch(() => undefined);
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
  const leased = await acquireLeaseWithin(
    deps,
    { tenantId: existing.tenantId, tokenId: existing.tokenId, owner, leaseSeconds: leaseSecondsFor(deps) },
    () => deps.clock.now().getTime() >= input.leaseDeadline,
  );
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
    token.dueAt = computeDueAt(token, deps.settings);
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
      // A transaction that committed though its answer was lost is the re-authorization (as in createToken).
      if (isStoreFault(error) && committedAs(current, token)) {
        deps.logger.warn('the connect transaction committed though its answer was lost', { tenantId, tokenId });
        return current;
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

