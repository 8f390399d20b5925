import { randomBytes } from 'node:crypto';
import { AnafError } from '../domain/anaf-errors.js';
import { BrokerError } from '../domain/errors.js';
import { expToIso, readTokenClaims } from '../domain/jwt.js';
import type { LifecycleEventType, TokenPair, TokenRecord } from '../domain/model.js';
import {
  FAILED_RUNS_WARNING_THRESHOLD,
  computeDueAt,
  decideRefresh,
  dueWarning,
  retryDelayMs,
  warningsAfter,
  type RefreshTrigger,
} from '../domain/refresh-policy.js';
import type { AnafTokenResponse } from '../ports.js';
import { recordEvent } from './audit.js';
import { MAX_SESSION_TTL_SECONDS, createConnectSession } from './authorization.js';
import { MAX_CUIS } from './companies.js';
import type { ServiceDeps } from './deps.js';

// The write order and what a crash at each step leaves behind are described in README.md,
// section "Rotation safety". Keep both in step.

/** How long a caller waits for another run's refresh of the same token before answering 409. */
export const JOIN_WAIT_MS = 5_000;
export const JOIN_POLL_MS = 100;
/** In-run retries where ANAF cannot have acted (connection refused, 429, 5xx). */
const MAX_ATTEMPTS = 3;
const MAX_RETRY_AFTER_MS = 5_000;
/** Writing the new pair is retried hard: until it lands, the only copy is in this process. */
const SECRET_WRITE_ATTEMPTS = 5;

export type RefreshOutcome =
  | 'refreshed'
  | 'joined'
  | 'skipped'
  | 'recovered'
  | 'reauth-required'
  | 'failed'
  | 'busy';

export interface RefreshResult {
  outcome: RefreshOutcome;
  token: TokenRecord;
  /** Set when outcome is 'failed' or 'reauth-required': the error the HTTP routes answer with. */
  error?: BrokerError;
}

/** Room for the store and secret calls of one refresh around its ANAF calls and waits. */
const STORE_CALLS_MARGIN_MS = 10_000;

/**
 * The longest one refresh can take: every ANAF attempt timing out, the longest Retry-After waits between
 * them, every secret-write retry, plus room for the store calls. The sweep keeps this much time in
 * reserve so that its Lambda is never stopped between ANAF's rotation and the write of the new pair;
 * the lease (below) outlives it.
 */
export function refreshWorstCaseMs(settings: Pick<ServiceDeps['settings'], 'anafTimeoutMs'>): number {
  let secretBackoffMs = 0;
  for (let attempt = 1; attempt < SECRET_WRITE_ATTEMPTS; attempt++) secretBackoffMs += 200 * 2 ** attempt;
  return settings.anafTimeoutMs * MAX_ATTEMPTS + MAX_RETRY_AFTER_MS * (MAX_ATTEMPTS - 1) + secretBackoffMs + STORE_CALLS_MARGIN_MS;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The lease outlives a refresh's worst case (plus 4 s), so a live holder never loses it mid-way. */
export const leaseSecondsFor = (deps: ServiceDeps) => Math.ceil((refreshWorstCaseMs(deps.settings) + 4_000) / 1000);

/**
 * Refreshes one token if the trigger's rule says so. Steps: decide on the stored record; take the
 * lease (or wait for the holder's result); re-read (another run may have just refreshed, or died after
 * writing the secret); decide again; call ANAF; write the new pair, then the metadata; record events.
 * Never throws for ANAF's answers: the outcome and `error` say what happened.
 */
export async function refreshToken(
  deps: ServiceDeps,
  input: { tenantId: string; tokenId: string; trigger: RefreshTrigger },
): Promise<RefreshResult> {
  const { tenantId, tokenId, trigger } = input;
  const stored = await deps.tokens.get(tenantId, tokenId);
  if (!stored) throw new BrokerError('TOKEN_NOT_FOUND', `token ${tokenId} not found`);
  const first = decideRefresh(stored, trigger, deps.clock.now(), deps.settings);
  // A reauth-required record with a newer pair in the secret was overtaken by a run that did rotate (a
  // holder that outlived its lease, or a re-authorization interrupted before its metadata write): go on
  // to the lease, where the pair is adopted.
  if (first.action === 'refuse' && !(first.reason === 'reauth-required' && (await newerPairStored(deps, stored)))) {
    return refused(stored, first.reason);
  }
  if (first.action === 'skip') return { outcome: 'skipped', token: stored };

  const owner = newLeaseOwner();
  const deadline = Date.now() + (trigger === 'sweep' ? 0 : JOIN_WAIT_MS);
  let leased: TokenRecord | null = null;
  for (;;) {
    leased = await deps.tokens.acquireLease(tenantId, tokenId, owner, deps.clock.now(), leaseSecondsFor(deps));
    if (leased) break;
    const current = await deps.tokens.get(tenantId, tokenId);
    if (!current) throw new BrokerError('TOKEN_NOT_FOUND', `token ${tokenId} not found`);
    const settled = resultOfOtherRun(current, stored);
    if (settled) return settled;
    if (Date.now() >= deadline) {
      return {
        outcome: 'busy',
        token: current,
        error: new BrokerError('REFRESH_IN_PROGRESS', 'another refresh of this token is under way; try again shortly'),
      };
    }
    await sleep(JOIN_POLL_MS);
  }

  try {
    return await refreshUnderLease(deps, leased, owner, trigger, stored);
  } finally {
    await deps.tokens.releaseLease(tenantId, tokenId, owner).catch((error: unknown) =>
      deps.logger.warn('lease release failed', { tenantId, tokenId, errorName: (error as Error)?.name }),
    );
  }
}

export const newLeaseOwner = () => `lease_${randomBytes(8).toString('hex')}`;

/**
 * What another run did between our first read (`before`) and now, if it settled the matter: it
 * refreshed (version moved), it failed (attempt count moved: answering its failure keeps a crowd of
 * waiters from calling a failing ANAF one after another), or the token left `active`.
 */
function resultOfOtherRun(current: TokenRecord, before: TokenRecord): RefreshResult | null {
  if (current.status === 'disconnected') return refused(current, 'disconnected');
  if (current.status === 'reauth-required' && before.status === 'active') return refused(current, 'reauth-required');
  if (current.version > before.version) return { outcome: 'joined', token: current };
  if (current.failedAttempts > before.failedAttempts) return { outcome: 'failed', token: current, error: errorOfLastFailure(current.lastError) };
  return null;
}

async function newerPairStored(deps: ServiceDeps, token: TokenRecord): Promise<boolean> {
  const pair = await deps.secrets.getTokenPair(token.tenantId, token.tokenId);
  return pair !== null && pair.version > token.version;
}

/** The error a caller gets for a failure recorded by another run (see recordFailure's codes). */
function errorOfLastFailure(lastError: string | null): BrokerError {
  switch (lastError) {
    case 'CLIENT_REJECTED':
      return new BrokerError('ANAF_REJECTED', 'ANAF rejected the client id/secret');
    case 'ANAF_REJECTED':
    case 'CLIENT_MISSING':
      return new BrokerError('ANAF_REJECTED', 'ANAF refused the refresh');
    default:
      return new BrokerError('ANAF_UNAVAILABLE', 'ANAF is unavailable');
  }
}

function refused(token: TokenRecord, reason: 'reauth-required' | 'disconnected'): RefreshResult {
  return reason === 'disconnected'
    ? { outcome: 'failed', token, error: new BrokerError('TOKEN_DISCONNECTED', 'the token was disconnected; connect the company again') }
    : {
        outcome: 'reauth-required',
        token,
        error: new BrokerError('REAUTH_REQUIRED', 'a person with the certificate must connect again'),
      };
}

async function refreshUnderLease(
  deps: ServiceDeps,
  leased: TokenRecord,
  owner: string,
  trigger: RefreshTrigger,
  before: TokenRecord,
): Promise<RefreshResult> {
  const { tenantId, tokenId } = leased;
  const pair = await deps.secrets.getTokenPair(tenantId, tokenId);
  let token = leased;
  if (pair && pair.version > token.version) {
    // A previous run stored a new pair and died before its metadata write: adopt the pair.
    const recovered = await adoptPair(deps, token, pair, owner);
    if (recovered) {
      token = recovered;
      await emit(deps, token, 'refreshed', { recovered: true });
      if (decideRefresh(token, trigger, deps.clock.now(), deps.settings).action !== 'refresh') {
        return { outcome: 'recovered', token };
      }
    }
  }
  if (token.version > before.version && trigger !== 'manual') {
    // Another run refreshed between our first read and our lease: use its result.
    return { outcome: 'joined', token };
  }
  if (token.version === before.version && token.failedAttempts > before.failedAttempts) {
    // Another run failed between our first read and our lease: answer its failure, do not call again.
    return { outcome: 'failed', token, error: errorOfLastFailure(token.lastError) };
  }
  const decision = decideRefresh(token, trigger, deps.clock.now(), deps.settings);
  if (decision.action === 'refuse') return refused(token, decision.reason);
  if (decision.action === 'skip') return { outcome: trigger === 'manual' ? 'joined' : 'skipped', token };
  if (decision.action === 'reauth') return markReauthRequired(deps, token, owner, 'REFRESH_TOKEN_EXPIRED');
  if (!pair) return markReauthRequired(deps, token, owner, 'PAIR_MISSING');

  const tenant = await deps.tenants.get(tenantId);
  const clientSecret = tenant ? await deps.secrets.getClientSecret(tenantId) : null;
  if (!tenant || !clientSecret) {
    return recordFailure(deps, token, owner, 'CLIENT_MISSING', new BrokerError('ANAF_REJECTED', 'the tenant has no ANAF client stored'));
  }

  let answer: AnafTokenResponse;
  try {
    answer = await callWithRetry(() => deps.anaf.refresh({ clientId: tenant.clientId, clientSecret, refreshToken: pair.refreshToken }));
  } catch (error) {
    if (!(error instanceof AnafError)) throw error;
    deps.logger.warn('refresh failed', { tenantId, tokenId, trigger, kind: error.kind, status: error.details.status });
    switch (error.kind) {
      case 'invalid_grant':
        return markReauthRequired(deps, token, owner, 'INVALID_GRANT');
      case 'invalid_client':
        return recordFailure(deps, token, owner, 'CLIENT_REJECTED', new BrokerError('ANAF_REJECTED', 'ANAF rejected the client id/secret'));
      case 'rejected':
        return recordFailure(deps, token, owner, 'ANAF_REJECTED', new BrokerError('ANAF_REJECTED', 'ANAF refused the refresh'));
      case 'timeout':
        return recordFailure(deps, token, owner, 'ANAF_TIMEOUT', new BrokerError('ANAF_UNAVAILABLE', 'ANAF did not answer in time'));
      case 'unavailable':
        return recordFailure(
          deps,
          token,
          owner,
          'ANAF_UNAVAILABLE',
          new BrokerError('ANAF_UNAVAILABLE', 'ANAF is unavailable'),
          (error.details.retryAfterSeconds ?? 0) * 1000,
        );
    }
  }

  // ANAF has rotated: the old refresh token is spent and the new pair exists only in memory.
  // Step 1: the pair, before anything else.
  const next: TokenPair = { accessToken: answer.accessToken, refreshToken: answer.refreshToken, version: token.version + 1 };
  const disconnectedMeanwhile = await writePairHard(deps, tenantId, tokenId, next);
  if (disconnectedMeanwhile) return refused(disconnectedMeanwhile, 'disconnected');
  // Step 2: the metadata, conditional on our version and lease.
  const refreshed = recordFromPair(deps, token, next);
  if (!(await deps.tokens.replace(refreshed, { expectedVersion: token.version, leaseOwner: owner }))) {
    const current = await deps.tokens.get(tenantId, tokenId);
    if (current?.status === 'disconnected') {
      // A disconnect won the race (it clears the lease): the pair we just wrote must not outlive it.
      await deps.secrets.deleteTokenPair(tenantId, tokenId).catch(() => undefined);
      return refused(current, 'disconnected');
    }
    // Lease lost mid-way (it outlived its term): the secret already holds the newest pair, and the next
    // run's re-read adopts it (version in the secret > version in the record).
    deps.logger.error('metadata write after refresh lost its condition; the next run will adopt the stored pair', { tenantId, tokenId });
  }
  await emit(deps, refreshed, 'refreshed', { trigger });
  return { outcome: 'refreshed', token: refreshed };
}

/** Metadata for a freshly stored pair: expiries from its JWT claims, errors and warnings reset. */
function recordFromPair(deps: ServiceDeps, token: TokenRecord, pair: TokenPair): TokenRecord {
  const access = readTokenClaims(pair.accessToken);
  const refresh = readTokenClaims(pair.refreshToken);
  const now = deps.clock.now().toISOString();
  const refreshExpiresAt = refresh ? expToIso(refresh.exp) : token.refreshExpiresAt;
  const record: TokenRecord = {
    ...token,
    status: 'active',
    accessExpiresAt: access ? expToIso(access.exp) : token.accessExpiresAt,
    refreshExpiresAt,
    serial: access?.serial ?? token.serial,
    lastRefreshAt: now,
    lastError: null,
    failedAttempts: 0,
    version: pair.version,
    // A refresh that moved the refresh token's end re-arms the warnings.
    warningsSent: refreshExpiresAt === token.refreshExpiresAt ? token.warningsSent : [],
    leaseOwner: null,
    leaseExpiresAt: null,
    updatedAt: now,
    dueAt: null,
  };
  record.dueAt = computeDueAt(record, deps.settings.refreshMarginDays);
  return record;
}

async function adoptPair(deps: ServiceDeps, token: TokenRecord, pair: TokenPair, owner: string): Promise<TokenRecord | null> {
  const adopted = { ...recordFromPair(deps, token, pair), leaseOwner: owner, leaseExpiresAt: token.leaseExpiresAt };
  if (!(await deps.tokens.replace(adopted, { expectedVersion: token.version, leaseOwner: owner }))) return null;
  deps.logger.warn('adopted a pair stored by an interrupted refresh', { tenantId: token.tenantId, tokenId: token.tokenId, version: pair.version });
  return adopted;
}

/**
 * Writes the new pair, retrying with backoff. Answers the record when the token was disconnected
 * meanwhile (AWS refuses writes to a secret scheduled for deletion, and the pair is no longer wanted).
 */
export async function writePairHard(deps: ServiceDeps, tenantId: string, tokenId: string, pair: TokenPair): Promise<TokenRecord | null> {
  for (let attempt = 1; ; attempt++) {
    try {
      await deps.secrets.putTokenPair(tenantId, tokenId, pair);
      return null;
    } catch (error) {
      deps.logger.error('storing the rotated pair failed', { tenantId, tokenId, attempt, errorName: (error as Error)?.name });
      const current = await deps.tokens.get(tenantId, tokenId).catch(() => null);
      if (current?.status === 'disconnected') return current;
      if (attempt >= SECRET_WRITE_ATTEMPTS) throw error;
      await sleep(200 * 2 ** attempt);
    }
  }
}

/**
 * Retries only where ANAF cannot have acted on the request; never after a timeout. A Retry-After is
 * honoured: when it is longer than a run may wait, the run gives up and the retry time is recorded.
 */
async function callWithRetry(call: () => Promise<AnafTokenResponse>): Promise<AnafTokenResponse> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof AnafError) || error.kind !== 'unavailable' || attempt >= MAX_ATTEMPTS) throw error;
      const hinted = error.details.retryAfterSeconds;
      if (hinted !== undefined && hinted * 1000 > MAX_RETRY_AFTER_MS) throw error;
      await sleep(hinted !== undefined ? hinted * 1000 : 250 * 2 ** (attempt - 1));
    }
  }
}

async function markReauthRequired(deps: ServiceDeps, token: TokenRecord, owner: string, reason: string): Promise<RefreshResult> {
  const now = deps.clock.now().toISOString();
  const record: TokenRecord = { ...token, status: 'reauth-required', lastError: reason, dueAt: null, updatedAt: now, leaseOwner: null, leaseExpiresAt: null };
  await deps.tokens.replace(record, { expectedVersion: token.version, leaseOwner: owner });
  await emit(deps, record, 'reauth-required', { reason }, true);
  return {
    outcome: 'reauth-required',
    token: record,
    error: new BrokerError('REAUTH_REQUIRED', 'ANAF no longer accepts this authorization; a person with the certificate must connect again'),
  };
}

async function recordFailure(
  deps: ServiceDeps,
  token: TokenRecord,
  owner: string,
  lastError: string,
  error: BrokerError,
  notBeforeMs = 0,
): Promise<RefreshResult> {
  const now = deps.clock.now();
  const failedAttempts = token.failedAttempts + 1;
  const retryInMs = Math.max(retryDelayMs(failedAttempts), notBeforeMs);
  const record: TokenRecord = {
    ...token,
    lastError,
    failedAttempts,
    updatedAt: now.toISOString(),
    leaseOwner: null,
    leaseExpiresAt: null,
    dueAt: null,
  };
  record.dueAt = computeDueAt(record, deps.settings.refreshMarginDays, new Date(now.getTime() + retryInMs));
  // The due time must move past now, or the sweep would pick the token again within the same run.
  if (record.dueAt && Date.parse(record.dueAt) <= now.getTime()) {
    record.dueAt = new Date(now.getTime() + retryInMs).toISOString();
  }
  await deps.tokens.replace(record, { expectedVersion: token.version, leaseOwner: owner });
  await emit(deps, record, 'refresh-failed', { reason: lastError, failedAttempts });
  if (failedAttempts === FAILED_RUNS_WARNING_THRESHOLD) {
    await emit(deps, record, 'expiring', { reason: 'REFRESH_FAILING', failedAttempts }, true);
  }
  return { outcome: 'failed', token: record, error };
}

/**
 * Sends the refresh-token warning that is due (30, 14, 7, 1 days before its end), each once, with a
 * ready connect link. Called by the sweep for tokens it looked at.
 */
export async function warnIfExpiring(deps: ServiceDeps, token: TokenRecord): Promise<TokenRecord> {
  if (token.status !== 'active' || dueWarning(token, deps.clock.now()) === null) return token;
  // The warning writes the whole record, so it takes the lease like a refresh: a plain versioned write
  // would clear a refresh's live lease and let a third run present a refresh token being spent.
  // A token under refresh is warned by a later sweep (a refresh may move its end anyway).
  const owner = newLeaseOwner();
  const leased = await deps.tokens.acquireLease(token.tenantId, token.tokenId, owner, deps.clock.now(), leaseSecondsFor(deps));
  if (!leased) return token;
  try {
    const days = leased.status === 'active' ? dueWarning(leased, deps.clock.now()) : null;
    if (days === null) return leased;
    const record: TokenRecord = {
      ...leased,
      warningsSent: warningsAfter(leased.warningsSent, days),
      updatedAt: deps.clock.now().toISOString(),
      leaseOwner: null,
      leaseExpiresAt: null,
    };
    record.dueAt = computeDueAt(record, deps.settings.refreshMarginDays);
    if (!(await deps.tokens.replace(record, { expectedVersion: leased.version, leaseOwner: owner }))) return leased;
    await emit(deps, record, 'expiring', { reason: 'REFRESH_TOKEN_ENDING', daysLeft: days }, true);
    return record;
  } finally {
    await deps.tokens.releaseLease(token.tenantId, token.tokenId, owner).catch((error: unknown) =>
      deps.logger.warn('lease release failed', { tenantId: token.tenantId, tokenId: token.tokenId, errorName: (error as Error)?.name }),
    );
  }
}

async function emit(
  deps: ServiceDeps,
  token: TokenRecord,
  type: LifecycleEventType,
  details: Record<string, string | number | boolean | null>,
  withConnectUrl = false,
): Promise<void> {
  try {
    await emitUnsafe(deps, token, type, details, withConnectUrl);
  } catch (error) {
    // The change is stored; a lost event must not turn a refresh into an error answer.
    deps.logger.error('recording a lifecycle event failed', { type, tenantId: token.tenantId, tokenId: token.tokenId, errorName: (error as Error)?.name });
  }
}

async function emitUnsafe(
  deps: ServiceDeps,
  token: TokenRecord,
  type: LifecycleEventType,
  details: Record<string, string | number | boolean | null>,
  withConnectUrl: boolean,
): Promise<void> {
  const cuis = (await deps.companies.listByToken(token.tenantId, token.tokenId)).map((c) => c.cui);
  let connectUrl: string | undefined;
  if (withConnectUrl && cuis.length > 0) {
    try {
      const session = await createConnectSession(deps, {
        tenantId: token.tenantId,
        cuis: cuis.slice(0, MAX_CUIS),
        ttlSeconds: MAX_SESSION_TTL_SECONDS,
      });
      connectUrl = session.authorizeUrl;
    } catch (error) {
      deps.logger.warn('could not mint a connect link for a warning', { tenantId: token.tenantId, errorName: (error as Error)?.name });
    }
  }
  await recordEvent(deps, {
    tenantId: token.tenantId,
    type,
    tokenId: token.tokenId,
    cuis,
    at: deps.clock.now().toISOString(),
    ...(connectUrl ? { connectUrl } : {}),
    details,
  });
}
