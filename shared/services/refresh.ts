import { randomBytes } from 'node:crypto';
import { AnafError } from '../domain/anaf-errors.js';
import { eventLinkExpiresAt } from '../domain/connect-links.js';
import { BrokerError } from '../domain/errors.js';
import type { LifecycleEventType, TokenPair, TokenRecord } from '../domain/model.js';
import { readPairFacts } from '../domain/pair-facts.js';
import {
  FAILED_RUNS_WARNING_THRESHOLD,
  authorizationEnd,
  computeDueAt,
  decideRefresh,
  dueWarning,
  refreshDaysLeft,
  retryDelayMs,
  rotationsInWindow,
  rotationsLeft,
  warningsAfter,
  type RefreshTrigger,
} from '../domain/refresh-policy.js';
import { newSecretVersionId } from '../domain/state.js';
import { awsCallWorstCaseMs, STORE_RETRY_AFTER_SECONDS } from '../config/aws-calls.js';
import type { AnafTokenResponse, StoredPair } from '../ports.js';
import { recordEvent } from './audit.js';
import { createConnectSession } from './authorization.js';
import { MAX_CUIS } from './companies.js';
import type { ServiceDeps } from './deps.js';
import { leasePollMs, sleep } from './lease-wait.js';
import { clientCredentials } from './tenants.js';

// The write order and what a crash at each step leaves behind are described in README.md,
// section "Rotation safety". Keep both in step.

/** How long a caller waits for another run's refresh of the same token before answering 409. */
export const JOIN_WAIT_MS = 5_000;
/** Whether a record read shows another run's live lease (acquireLease would refuse: its condition decides, this only saves the try). */
const leaseHeld = (token: TokenRecord, now: Date) => (token.leaseExpiresAt ? Date.parse(token.leaseExpiresAt) >= now.getTime() : false);
/** In-run retries where ANAF cannot have acted (connection refused, 429, 5xx). */
const MAX_ATTEMPTS = 3;
const MAX_RETRY_AFTER_MS = 5_000;
/** Writing the new pair is retried hard (then escrowed): until it lands, the only copy is in this process. */
const SECRET_WRITE_ATTEMPTS = 3;

export type RefreshOutcome =
  | 'refreshed'
  | 'joined'
  | 'skipped'
  | 'recovered'
  | 'reauth-required'
  | 'failed'
  | 'busy'
  | 'limited';

export interface RefreshResult {
  outcome: RefreshOutcome;
  token: TokenRecord;
  /** Set when the caller should hear an error (failed, reauth-required, busy, limited). */
  error?: BrokerError;
}

/** How often a pinned secret version that is not visible yet is read again before giving up (503). */
const PINNED_READ_ATTEMPTS = 3;
const PINNED_READ_PAUSE_MS = 150;

/** Store calls a refresh makes around its ANAF attempts (reads, lease, re-reads, client, a lease check per attempt). */
const STORE_CALLS_BEFORE_ANAF = 11;
/** Store calls after ANAF answered, besides the pair writes: escrow (KMS + put), metadata, re-read, event. */
const STORE_CALLS_AFTER_ANAF = 6;

/** ANAF's part of a refresh: every attempt timing out, the longest Retry-After waits between them. */
const anafWorstCaseMs = (settings: Pick<ServiceDeps['settings'], 'anafTimeoutMs'>) =>
  settings.anafTimeoutMs * MAX_ATTEMPTS + MAX_RETRY_AFTER_MS * (MAX_ATTEMPTS - 1);

/** From ANAF's answer to the metadata write: every pair write and its backoff, escrow, metadata. */
function afterAnafWorstCaseMs(): number {
  let backoffMs = 0;
  for (let attempt = 1; attempt < SECRET_WRITE_ATTEMPTS; attempt++) backoffMs += secretWriteBackoffMs(attempt);
  return SECRET_WRITE_ATTEMPTS * 2 * awsCallWorstCaseMs() + backoffMs + STORE_CALLS_AFTER_ANAF * awsCallWorstCaseMs();
}

/**
 * The longest one refresh can take: every store call at its bound (connection and request timeouts,
 * SDK retries), every ANAF attempt timing out with the longest Retry-After waits, every pair-write retry.
 * The sweep keeps this much in reserve and the refreshing functions' timeout exceeds it (plus the join
 * wait), so a Lambda is never stopped between ANAF's rotation and the pair's durable write.
 */
export function refreshWorstCaseMs(settings: Pick<ServiceDeps['settings'], 'anafTimeoutMs'>): number {
  return STORE_CALLS_BEFORE_ANAF * awsCallWorstCaseMs() + anafWorstCaseMs(settings) + afterAnafWorstCaseMs();
}

/**
 * The lease term. It is (re)set right before the ANAF call, so it must cover only what follows: ANAF and
 * the writes of the rotated pair; it covers the whole worst case anyway, with 4 s to spare.
 */
export const leaseSecondsFor = (deps: Pick<ServiceDeps, 'settings'>) => Math.ceil((refreshWorstCaseMs(deps.settings) + 4_000) / 1000);

const secretWriteBackoffMs = (attempt: number) => 200 * 2 ** attempt;

/**
 * Refreshes one token if the trigger's rule says so. Steps: decide on the stored record; take the
 * lease (or wait for the holder's result); re-read (another run may have just refreshed, or died after
 * writing the secret or the escrow); decide again; check the lease is still ours; call ANAF; write the
 * new pair (secret, else escrow), then the metadata; record events. Never throws for ANAF's answers:
 * the outcome and `error` say what happened.
 */
export async function refreshToken(
  deps: ServiceDeps,
  input: {
    tenantId: string;
    tokenId: string;
    trigger: RefreshTrigger;
    /** The record as the caller has just read it (strongly consistent): it stands for the first read. */
    stored?: TokenRecord;
    /** The token's companies as the caller has just read them: the run's events name them, unread again. */
    knownCuis?: readonly string[];
  },
): Promise<RefreshResult> {
  const { tenantId, tokenId, trigger } = input;
  const stored = input.stored ?? (await deps.tokens.get(tenantId, tokenId));
  if (!stored) throw new BrokerError('TOKEN_NOT_FOUND', `token ${tokenId} not found`);
  const first = decideRefresh(stored, trigger, deps.clock.now(), deps.settings);
  // A reauth-required record with a newer pair in the secret was overtaken by a run that did rotate (a
  // holder that outlived its lease, or a re-authorization interrupted before its metadata write): go on
  // to the lease, where the pair is adopted.
  if (first.action === 'refuse' && !(first.reason === 'reauth-required' && (await newerPairStored(deps, stored)))) {
    return refused(stored, first.reason);
  }
  if (first.action === 'skip') return { outcome: 'skipped', token: stored };
  if (first.action === 'limit') return rateLimited(deps, stored, first.retryAt);

  const owner = newLeaseOwner();
  const deadline = Date.now() + (trigger === 'sweep' ? 0 : JOIN_WAIT_MS);
  // The lease is asked for first, then only when a read shows it free: while another run holds it the
  // caller reads its record with a back-off until that run's result shows or the deadline passes (a
  // refused conditional write still costs a write unit in DynamoDB; a small read costs one read unit).
  let leased = await deps.tokens.acquireLease(tenantId, tokenId, owner, deps.clock.now(), leaseSecondsFor(deps));
  for (let polls = 0; !leased; ) {
    const current = await deps.tokens.get(tenantId, tokenId);
    if (!current) throw new BrokerError('TOKEN_NOT_FOUND', `token ${tokenId} not found`);
    const settled = resultOfOtherRun(current, stored);
    if (settled) return settled;
    if (Date.now() >= deadline) return busy(current);
    if (!leaseHeld(current, deps.clock.now())) leased = await deps.tokens.acquireLease(tenantId, tokenId, owner, deps.clock.now(), leaseSecondsFor(deps));
    if (!leased) await sleep(leasePollMs(polls++));
  }

  let result: RefreshResult | undefined;
  try {
    result = await refreshUnderLease(deps, leased, { owner, knownCuis: input.knownCuis }, trigger, stored);
    return result;
  } finally {
    // A record of this run that landed (refreshed, failure, verdict) cleared the lease with it, and a
    // fresh read that shows another holder (or none) means ours is gone: releasing again is a round trip
    // for nothing. Every other way out (a throw, a result on the leased record) releases it here.
    if (!result || result.token.leaseOwner === owner) {
      await deps.tokens.releaseLease(tenantId, tokenId, owner).catch((error: unknown) =>
        deps.logger.warn('lease release failed', { tenantId, tokenId, errorName: (error as Error)?.name }),
      );
    }
  }
}

export const newLeaseOwner = () => `lease_${randomBytes(8).toString('hex')}`;

const busy = (token: TokenRecord): RefreshResult => ({
  outcome: 'busy',
  token,
  error: new BrokerError('REFRESH_IN_PROGRESS', 'another refresh of this token is under way; try again shortly'),
});

function rateLimited(deps: ServiceDeps, token: TokenRecord, retryAt: string): RefreshResult {
  deps.metrics?.count('RefreshRateLimited');
  const retryAfterSeconds = Math.max(1, Math.ceil((Date.parse(retryAt) - deps.clock.now().getTime()) / 1000));
  return {
    outcome: 'limited',
    token,
    error: new BrokerError('REFRESH_RATE_LIMITED', `this token rotated ${deps.settings.maxRotationsPerDay} times in 24 hours; try again later`, {
      retryAfterSeconds,
    }),
  };
}

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
  const escrowed = await deps.escrow.get(token.tenantId, token.tokenId);
  return (pair !== null && pair.version > token.version) || (escrowed !== null && escrowed.version > token.version);
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

/** What the stores hold for a token, read under its lease. */
type PairRead =
  /** The pair the record names (its exact secret version, or the escrow that holds it). */
  | { kind: 'current'; pair: StoredPair; source: 'secret' | 'escrow' }
  /** A pair newer than the record: a run stored it and died before its metadata write. */
  | { kind: 'newer'; pair: StoredPair }
  /** No secret at all: nothing can be presented to ANAF. */
  | { kind: 'missing' }
  /** The secret exists but the record's version is not readable yet (eventual consistency). */
  | { kind: 'not-visible' };

/** The latest secret and the escrow of a token, read at once. */
export interface PairSources {
  latest: StoredPair | null;
  escrowed: StoredPair | null;
}

export async function readPairSources(deps: ServiceDeps, tenantId: string, tokenId: string): Promise<PairSources> {
  const [latest, escrowed] = await Promise.all([deps.secrets.getTokenPair(tenantId, tokenId), deps.escrow.get(tenantId, tokenId)]);
  return { latest, escrowed };
}

/** The pair the sources hold for the record: a newer one, else its exact version; null when neither. */
function pairOf(token: TokenRecord, { latest, escrowed }: PairSources): PairRead | null {
  const newest = [latest, escrowed].filter((p): p is StoredPair => p !== null && p.version > token.version).sort((a, b) => b.version - a.version)[0];
  if (newest) return { kind: 'newer', pair: newest };
  const matches = (p: StoredPair | null): p is StoredPair =>
    p !== null && p.version === token.version && (token.secretVersionId === null || p.versionId === token.secretVersionId);
  if (matches(latest)) return { kind: 'current', pair: latest, source: 'secret' };
  if (matches(escrowed)) return { kind: 'current', pair: escrowed, source: 'escrow' };
  return null;
}

/**
 * Reads the pair to present, never an older one: the record's exact secret version (retried briefly,
 * Secrets Manager reads are eventually consistent), else the escrow when it holds that version. A pair
 * newer than the record, in the secret or the escrow, is answered as such for adoption. `prefetched`:
 * sources read alongside the record (the access-token route); used when they hold the record's pair or
 * a newer one, read again otherwise (they may predate the record).
 */
export async function readPair(deps: ServiceDeps, token: TokenRecord, prefetched?: PairSources): Promise<PairRead> {
  const { tenantId, tokenId } = token;
  const early = prefetched && pairOf(token, prefetched);
  if (early) return early;
  const sources = await readPairSources(deps, tenantId, tokenId);
  const found = pairOf(token, sources);
  if (found) return found;
  if (token.secretVersionId) {
    for (let attempt = 1; attempt <= PINNED_READ_ATTEMPTS; attempt++) {
      const pinned = await deps.secrets.getTokenPair(tenantId, tokenId, token.secretVersionId);
      if (pinned) return { kind: 'current', pair: pinned, source: 'secret' };
      if (attempt < PINNED_READ_ATTEMPTS) await sleep(PINNED_READ_PAUSE_MS);
    }
  }
  return sources.latest === null ? { kind: 'missing' } : { kind: 'not-visible' };
}

const notVisible = (token: TokenRecord): RefreshResult => ({
  outcome: 'failed',
  token,
  error: new BrokerError('STORE_UNAVAILABLE', 'the stored token pair is not readable yet; try again in a few seconds', { retryAfterSeconds: STORE_RETRY_AFTER_SECONDS }),
});

/** One run under the lease: whose lease it is, and the companies its events name when the caller knows them. */
interface LeasedRun {
  owner: string;
  knownCuis?: readonly string[];
}

async function refreshUnderLease(
  deps: ServiceDeps,
  leased: TokenRecord,
  run: LeasedRun,
  trigger: RefreshTrigger,
  before: TokenRecord,
): Promise<RefreshResult> {
  const { tenantId, tokenId } = leased;
  const { owner, knownCuis } = run;
  let read = await readPair(deps, leased);
  let token = leased;
  if (read.kind === 'newer') {
    // A previous run stored a new pair (secret or escrow) and died before its metadata write: adopt it.
    const adopted = await adoptPair(deps, token, read.pair, owner);
    if (!adopted) return (await settledAfterLostWrite(deps, token)) ?? busy(token);
    token = adopted;
    read = { kind: 'current', pair: read.pair, source: 'secret' };
    await emit(deps, token, 'refreshed', { recovered: true }, { knownCuis });
    if (decideRefresh(token, trigger, deps.clock.now(), deps.settings).action !== 'refresh') {
      return { outcome: 'recovered', token };
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
  if (decision.action === 'limit') return rateLimited(deps, token, decision.retryAt);
  if (decision.action === 'reauth') return markReauthRequired(deps, token, run, 'REFRESH_TOKEN_EXPIRED');
  if (read.kind === 'missing') return markReauthRequired(deps, token, run, 'PAIR_MISSING');
  if (read.kind === 'not-visible') return notVisible(token);
  const pair = read.pair;
  if (pair.refreshToken === '') return markReauthRequired(deps, token, run, 'NO_REFRESH_TOKEN');
  if (read.source === 'escrow') await restoreEscrowedPair(deps, token, pair);

  const client = await clientCredentials(deps, tenantId);
  if (!client) {
    return recordFailure(deps, token, run, 'CLIENT_MISSING', new BrokerError('ANAF_REJECTED', 'the tenant has no ANAF client stored'));
  }
  const { tenant, clientSecret } = client;

  // Checkpoint before every attempt: a run whose store calls (or an in-run retry's wait) stalled past its
  // lease must not present the refresh token, which a run that took the lease over may have spent
  // already. Extending also restarts the term, so the lease outlives the ANAF call and the writes after.
  const leaseStillOurs = () => deps.tokens.extendLease(tenantId, tokenId, owner, deps.clock.now(), leaseSecondsFor(deps));
  let answer: AnafTokenResponse;
  try {
    answer = await callWithRetry(leaseStillOurs, () => deps.anaf.refresh({ clientId: tenant.clientId, clientSecret, refreshToken: pair.refreshToken }));
  } catch (error) {
    if (error instanceof LeaseLost) {
      deps.logger.warn('lease lost before an ANAF call; not calling ANAF', { tenantId, tokenId, trigger });
      return (await settledAfterLostWrite(deps, token)) ?? busy(token);
    }
    if (!(error instanceof AnafError)) throw error;
    deps.logger.warn('refresh failed', { tenantId, tokenId, trigger, kind: error.kind, status: error.details.status });
    switch (error.kind) {
      case 'invalid_grant':
        return markReauthRequired(deps, token, run, 'INVALID_GRANT');
      case 'invalid_client':
        return recordFailure(deps, token, run, 'CLIENT_REJECTED', new BrokerError('ANAF_REJECTED', 'ANAF rejected the client id/secret'));
      case 'rejected':
        return recordFailure(deps, token, run, 'ANAF_REJECTED', new BrokerError('ANAF_REJECTED', 'ANAF refused the refresh'));
      case 'timeout':
        return recordFailure(deps, token, run, 'ANAF_TIMEOUT', new BrokerError('ANAF_UNAVAILABLE', 'ANAF did not answer in time'));
      case 'unavailable':
        return recordFailure(
          deps,
          token,
          run,
          'ANAF_UNAVAILABLE',
          new BrokerError('ANAF_UNAVAILABLE', 'ANAF is unavailable'),
          (error.details.retryAfterSeconds ?? 0) * 1000,
        );
    }
  }

  // ANAF has rotated: the old refresh token is spent and the new pair exists only in memory.
  // Step 1: the pair, before anything else (an answer without a refresh token keeps the stored one).
  const next: TokenPair = { accessToken: answer.accessToken, refreshToken: answer.refreshToken ?? pair.refreshToken, version: token.version + 1 };
  const versionId = newSecretVersionId();
  const written = await writePairDurably(deps, tenantId, tokenId, next, versionId);
  if (written === 'disconnected') return refused((await deps.tokens.get(tenantId, tokenId)) ?? token, 'disconnected');
  // Step 2: the metadata, conditional on our version and lease.
  const refreshed = recordFromPair(deps, token, next, versionId, answer);
  if (!(await deps.tokens.replace(refreshed, { expectedVersion: token.version, leaseOwner: owner }))) {
    const current = await deps.tokens.get(tenantId, tokenId);
    if (current?.status === 'disconnected') {
      // A disconnect won the race (it clears the lease): the pair we just wrote must not outlive it.
      await deps.secrets.deleteTokenPair(tenantId, tokenId).catch(() => undefined);
      await deps.escrow.delete(tenantId, tokenId, versionId).catch(() => undefined);
      return refused(current, 'disconnected');
    }
    // Lease lost mid-way (it outlived its term): the secret (or escrow) already holds the newest pair,
    // and the next run's re-read adopts it (its version is above the record's).
    deps.logger.error('metadata write after refresh lost its condition; the next run will adopt the stored pair', { tenantId, tokenId });
  }
  if (token.status === 'reauth-required') {
    deps.logger.warn('a reauth-required token refreshed again: the verdict is undone', { tenantId, tokenId });
    await emit(deps, refreshed, 'recovered', { trigger, previousError: token.lastError }, { knownCuis });
  }
  await emit(deps, refreshed, 'refreshed', { trigger }, { knownCuis });
  return { outcome: 'refreshed', token: refreshed };
}

/** Metadata for a freshly stored pair: expiries from its claims (else estimated), errors and warnings reset. */
function recordFromPair(
  deps: ServiceDeps,
  token: TokenRecord,
  pair: TokenPair,
  versionId: string,
  answer?: Pick<AnafTokenResponse, 'refreshToken' | 'expiresInSeconds'>,
): TokenRecord {
  const nowDate = deps.clock.now();
  const now = nowDate.toISOString();
  const keptRefresh = answer !== undefined && answer.refreshToken === undefined;
  const facts = readPairFacts({
    accessToken: pair.accessToken,
    refreshToken: pair.refreshToken,
    now: nowDate,
    expiresInSeconds: answer?.expiresInSeconds,
    ...(keptRefresh ? { kept: { refreshExpiresAt: token.refreshExpiresAt, refreshExpiryEstimated: token.refreshExpiryEstimated } } : {}),
  });
  if (facts.accessExpiryEstimated || (facts.refreshExpiryEstimated && !keptRefresh)) {
    deps.logger.warn('token expiry estimated: ANAF issued a token without a readable exp claim', {
      tenantId: token.tenantId,
      tokenId: token.tokenId,
      access: facts.accessExpiryEstimated,
      refresh: facts.refreshExpiryEstimated,
    });
    deps.metrics?.count('ExpiryEstimated');
  }
  const record: TokenRecord = {
    ...token,
    status: 'active',
    accessExpiresAt: facts.accessExpiresAt,
    refreshExpiresAt: facts.refreshExpiresAt,
    accessExpiryEstimated: facts.accessExpiryEstimated,
    refreshExpiryEstimated: facts.refreshExpiryEstimated,
    accessIssuedAt: now,
    secretVersionId: versionId,
    rotations: [...rotationsInWindow(token.rotations, nowDate), now],
    // One per rotation at ANAF: written with the pair's metadata (or its adoption), never by a retry.
    rotationCount: (token.rotationCount ?? 0) + 1,
    recoveryAttemptedAt: null,
    serial: facts.serial ?? token.serial,
    lastRefreshAt: now,
    lastError: null,
    failedAttempts: 0,
    version: pair.version,
    warningsSent: token.warningsSent,
    leaseOwner: null,
    leaseExpiresAt: null,
    updatedAt: now,
    dueAt: null,
  };
  // A refresh that moved the authorization's end (the refresh token's, or where the rotation cap ends it) re-arms the warnings.
  if (authorizationEnd(record, deps.settings).at !== authorizationEnd(token, deps.settings).at) record.warningsSent = [];
  record.dueAt = computeDueAt(record, deps.settings);
  return record;
}

async function adoptPair(deps: ServiceDeps, token: TokenRecord, pair: StoredPair, owner: string): Promise<TokenRecord | null> {
  // Adoption counts as a rotation now (the run that rotated died before recording it).
  const adopted = { ...recordFromPair(deps, token, pair, pair.versionId), leaseOwner: owner, leaseExpiresAt: token.leaseExpiresAt };
  if (!(await deps.tokens.replace(adopted, { expectedVersion: token.version, leaseOwner: owner }))) return null;
  deps.logger.warn('adopted a pair stored by an interrupted refresh', { tenantId: token.tenantId, tokenId: token.tokenId, version: pair.version });
  await restoreEscrowedPair(deps, adopted, pair);
  return adopted;
}

/**
 * A pair read from the escrow goes back into the secret (same version id: idempotent), then the escrow
 * item is deleted. Failing here changes nothing: the escrow keeps the pair for the next run.
 */
async function restoreEscrowedPair(deps: ServiceDeps, token: TokenRecord, pair: StoredPair): Promise<void> {
  const escrowed = await deps.escrow.get(token.tenantId, token.tokenId);
  if (!escrowed || escrowed.versionId !== pair.versionId) return;
  try {
    const { versionId: _ignored, ...plain } = pair;
    await deps.secrets.putTokenPair(token.tenantId, token.tokenId, plain, pair.versionId);
    await deps.escrow.delete(token.tenantId, token.tokenId, pair.versionId);
    deps.logger.warn('moved an escrowed pair into its secret', { tenantId: token.tenantId, tokenId: token.tokenId, version: pair.version });
  } catch (error) {
    deps.logger.error('moving an escrowed pair into its secret failed; the escrow keeps it', {
      tenantId: token.tenantId,
      tokenId: token.tokenId,
      errorName: (error as Error)?.name,
    });
  }
}

/**
 * Makes the rotated pair durable: the secret, retried with backoff under one version id (a retry of a
 * write that landed is a no-op); when every attempt fails, the KMS-encrypted escrow item, which the next
 * run moves into the secret. Answers 'disconnected' when the token was disconnected meanwhile (AWS
 * refuses writes to a secret scheduled for deletion, and the pair is no longer wanted).
 */
export async function writePairDurably(
  deps: ServiceDeps,
  tenantId: string,
  tokenId: string,
  pair: TokenPair,
  versionId: string,
): Promise<'secret' | 'escrow' | 'disconnected'> {
  for (let attempt = 1; attempt <= SECRET_WRITE_ATTEMPTS; attempt++) {
    try {
      await deps.secrets.putTokenPair(tenantId, tokenId, pair, versionId);
      return 'secret';
    } catch (error) {
      deps.logger.error('storing the rotated pair failed', { tenantId, tokenId, attempt, errorName: (error as Error)?.name });
      const current = await deps.tokens.get(tenantId, tokenId).catch(() => null);
      if (current?.status === 'disconnected') return 'disconnected';
      if (attempt < SECRET_WRITE_ATTEMPTS) await sleep(secretWriteBackoffMs(attempt));
    }
  }
  deps.metrics?.count('PairWriteFailed');
  await deps.escrow.put(tenantId, tokenId, pair, versionId);
  deps.metrics?.count('PairEscrowed');
  deps.logger.error('the rotated pair is in the escrow; the next run moves it into the secret', { tenantId, tokenId, version: pair.version });
  return 'escrow';
}

/** The run no longer holds the lease: it must not present the refresh token. */
class LeaseLost extends Error {
  override name = 'LeaseLost';
}

/**
 * Retries only where ANAF cannot have acted on the request; never after a timeout. A Retry-After is
 * honoured: when it is longer than a run may wait, the run gives up and the retry time is recorded.
 * Each attempt first checks (and extends) the lease.
 */
async function callWithRetry(leaseStillOurs: () => Promise<boolean>, call: () => Promise<AnafTokenResponse>): Promise<AnafTokenResponse> {
  for (let attempt = 1; ; attempt++) {
    if (!(await leaseStillOurs())) throw new LeaseLost('the refresh lease was lost');
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

/**
 * When a conditional write of ours did not land (lease lost, another run wrote first), the stored state
 * decides what the caller hears; nothing is announced for a write that did not happen.
 */
async function settledAfterLostWrite(deps: ServiceDeps, token: TokenRecord): Promise<RefreshResult | null> {
  const current = await deps.tokens.get(token.tenantId, token.tokenId);
  if (!current) throw new BrokerError('TOKEN_NOT_FOUND', `token ${token.tokenId} not found`);
  if (current.status === 'disconnected') return refused(current, 'disconnected');
  if (current.status === 'reauth-required') return refused(current, 'reauth-required');
  if (current.version > token.version) return { outcome: 'joined', token: current };
  if (current.failedAttempts > token.failedAttempts) return { outcome: 'failed', token: current, error: errorOfLastFailure(current.lastError) };
  return null;
}

/**
 * Records the verdict, and announces it only when it is news: a refused recovery attempt of a token that
 * was reauth-required already changes no state the ERP acts on (it records the attempt's time).
 */
async function markReauthRequired(deps: ServiceDeps, token: TokenRecord, run: LeasedRun, reason: string): Promise<RefreshResult> {
  const { owner, knownCuis } = run;
  const now = deps.clock.now().toISOString();
  const wasActive = token.status === 'active';
  const record: TokenRecord = {
    ...token,
    status: 'reauth-required',
    lastError: reason,
    recoveryAttemptedAt: wasActive ? null : now,
    dueAt: null,
    updatedAt: now,
    leaseOwner: null,
    leaseExpiresAt: null,
  };
  if (!(await deps.tokens.replace(record, { expectedVersion: token.version, leaseOwner: owner }))) {
    deps.logger.warn('reauth-required not recorded: the token changed meanwhile', { tenantId: token.tenantId, tokenId: token.tokenId, reason });
    return (await settledAfterLostWrite(deps, token)) ?? busy(token);
  }
  if (wasActive) await emit(deps, record, 'reauth-required', { reason }, { withConnectUrl: true, knownCuis });
  return {
    outcome: 'reauth-required',
    token: record,
    error: new BrokerError('REAUTH_REQUIRED', 'ANAF no longer accepts this authorization; a person with the certificate must connect again'),
  };
}

async function recordFailure(
  deps: ServiceDeps,
  token: TokenRecord,
  run: LeasedRun,
  lastError: string,
  error: BrokerError,
  notBeforeMs = 0,
): Promise<RefreshResult> {
  const { owner, knownCuis } = run;
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
  record.dueAt = computeDueAt(record, deps.settings, new Date(now.getTime() + retryInMs));
  // The due time must move past now, or the sweep would pick the token again within the same run.
  if (record.dueAt && Date.parse(record.dueAt) <= now.getTime()) {
    record.dueAt = new Date(now.getTime() + retryInMs).toISOString();
  }
  if (!(await deps.tokens.replace(record, { expectedVersion: token.version, leaseOwner: owner }))) {
    deps.logger.warn('refresh failure not recorded: the token changed meanwhile', { tenantId: token.tenantId, tokenId: token.tokenId, lastError });
    return (await settledAfterLostWrite(deps, token)) ?? { outcome: 'failed', token, error };
  }
  await emit(deps, record, 'refresh-failed', { reason: lastError, failedAttempts }, { knownCuis });
  if (failedAttempts === FAILED_RUNS_WARNING_THRESHOLD) {
    await emit(deps, record, 'expiring', { reason: 'REFRESH_FAILING', failedAttempts }, { withConnectUrl: true, knownCuis });
  }
  return { outcome: 'failed', token: record, error };
}

/**
 * Sends the warning that is due (30, 14, 7, 1 days before the authorization's end: the refresh token's,
 * or the rotation cap's when its rotations run out first), each once, with a ready connect link. Called
 * by the sweep for tokens it looked at; `knownCuis`: the token's companies as the sweep just read them.
 */
export async function warnIfExpiring(deps: ServiceDeps, token: TokenRecord, options: { knownCuis?: readonly string[] } = {}): Promise<TokenRecord> {
  if (token.status !== 'active' || dueWarning(token, deps.clock.now(), deps.settings) === null) return token;
  // The warning writes the whole record, so it takes the lease like a refresh: a plain versioned write
  // would clear a refresh's live lease and let a third run present a refresh token being spent.
  // A token under refresh is warned by a later sweep (a refresh may move its end anyway).
  const owner = newLeaseOwner();
  const leased = await deps.tokens.acquireLease(token.tenantId, token.tokenId, owner, deps.clock.now(), leaseSecondsFor(deps));
  if (!leased) return token;
  try {
    const days = leased.status === 'active' ? dueWarning(leased, deps.clock.now(), deps.settings) : null;
    if (days === null) return leased;
    const record: TokenRecord = {
      ...leased,
      warningsSent: warningsAfter(leased.warningsSent, days),
      updatedAt: deps.clock.now().toISOString(),
      leaseOwner: null,
      leaseExpiresAt: null,
    };
    record.dueAt = computeDueAt(record, deps.settings);
    if (!(await deps.tokens.replace(record, { expectedVersion: leased.version, leaseOwner: owner }))) return leased;
    // The threshold crossed says which warning this is; the ERP's message needs the real days left and the end.
    const end = authorizationEnd(leased, deps.settings);
    const details = {
      reason: end.reason,
      thresholdDays: days,
      daysLeft: refreshDaysLeft(leased, deps.clock.now(), deps.settings),
      refreshExpiresAt: leased.refreshExpiresAt,
      // Where the rotations run out first: when, and how many the assumed cap still allows.
      ...(end.reason === 'ROTATION_CAP' ? { endsAt: end.at, rotationsLeft: rotationsLeft(leased, deps.settings.rotationCap), rotationCap: deps.settings.rotationCap } : {}),
    };
    await emit(deps, record, 'expiring', details, { withConnectUrl: true, knownCuis: options.knownCuis });
    return record;
  } finally {
    await deps.tokens.releaseLease(token.tenantId, token.tokenId, owner).catch((error: unknown) =>
      deps.logger.warn('lease release failed', { tenantId: token.tenantId, tokenId: token.tokenId, errorName: (error as Error)?.name }),
    );
  }
}

/**
 * `withConnectUrl`: the event carries a link for the token's holder. `knownCuis`: the token's companies
 * as the caller has just read them (the sweep), named without reading them again; else they are read.
 */
interface EmitOptions {
  withConnectUrl?: boolean;
  knownCuis?: readonly string[];
}

async function emit(
  deps: ServiceDeps,
  token: TokenRecord,
  type: LifecycleEventType,
  details: Record<string, string | number | boolean | null>,
  options: EmitOptions = {},
): Promise<void> {
  try {
    await emitUnsafe(deps, token, type, details, options);
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
  { withConnectUrl = false, knownCuis }: EmitOptions,
): Promise<void> {
  const cuis = knownCuis ? [...knownCuis] : (await deps.companies.listByToken(token.tenantId, token.tokenId)).map((c) => c.cui);
  let connectUrl: string | undefined;
  if (withConnectUrl && cuis.length > 0) {
    try {
      // The link works until the person's action stops mattering (a week past the loss of access), not
      // the ERP's 7 days: the warnings are 16 days apart at first, and reauth-required is sent once.
      const loss = details.reason === 'REFRESH_TOKEN_ENDING' ? 'refresh-token-end' : 'access-token-end';
      const session = await createConnectSession(deps, {
        tenantId: token.tenantId,
        cuis: cuis.slice(0, MAX_CUIS),
        expiresAt: eventLinkExpiresAt(token, loss, deps.clock.now()),
        // The link restores this token's certificate holder; another certificate moves the companies
        // only while the token waits for a person (boundLinkVerdict).
        tokenId: token.tokenId,
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
