import { STORE_RETRY_AFTER_SECONDS } from '../config/aws-calls.js';
import { BrokerError } from '../domain/errors.js';
import { readPairFacts } from '../domain/pair-facts.js';
import { toTokenView } from '../domain/views.js';
import type { TokenView } from '../domain/model.js';
import type { StoredPair } from '../ports.js';
import { recordEvent } from './audit.js';
import type { ServiceDeps } from './deps.js';
import { boundMemory } from './bound-memory.js';
import { readPair, readPairSources, refreshToken, type RefreshResult } from './refresh.js';
import { requireTenant } from './tenants.js';
import { requireToken } from './tokens.js';

/** Resolves a company to its token id, or throws COMPANY_NOT_FOUND / NOT_CONNECTED. */
export async function tokenIdForCompany(deps: ServiceDeps, tenantId: string, cui: string): Promise<string> {
  return linkedToken(await deps.companies.get(tenantId, cui), cui);
}

function linkedToken(company: Awaited<ReturnType<ServiceDeps['companies']['get']>>, cui: string): string {
  if (!company) throw new BrokerError('COMPANY_NOT_FOUND', `company ${cui} is not registered`);
  if (!company.tokenId) throw new BrokerError('NOT_CONNECTED', `company ${cui} is not connected to ANAF`);
  return company.tokenId;
}

/**
 * The company's token in one read: a company is stored only under a stored tenant (`putCompany` checks)
 * and tenants are never deleted, so the company item stands for the tenant check. Only an absent company
 * reads the tenant, for the error: TENANT_NOT_FOUND wins over COMPANY_NOT_FOUND, as before.
 */
async function companysToken(deps: ServiceDeps, tenantId: string, cui: string): Promise<string> {
  const company = await deps.companies.get(tenantId, cui);
  if (!company) await requireTenant(deps, tenantId);
  return linkedToken(company, cui);
}

/**
 * Hand-outs already in the audit trail, per audit store (one per container): `token-issued` is written
 * once per access token and company, not on every call, since a repeated hand-out changes nothing the
 * trail would tell. Bounded: forgetting only means one more entry. A hand-out whose entry could not be
 * written is forgotten again, so that the next one writes it.
 */
const issuedRecorded = new WeakMap<object, Set<string>>();
const MAX_REMEMBERED_ISSUES = 10_000;

function firstHandOut(deps: ServiceDeps, key: string): boolean {
  let seen = issuedRecorded.get(deps.audit);
  if (!seen) issuedRecorded.set(deps.audit, (seen = new Set()));
  if (seen.has(key)) return false;
  if (seen.size >= MAX_REMEMBERED_ISSUES) seen.clear();
  seen.add(key);
  return true;
}

const throwIfFailed = (result: RefreshResult) => {
  if (result.error) throw result.error;
};

/** How long a container keeps a token pair for the broker's own e-Factura calls at most. */
export const PAIR_REUSE_TTL_MS = 5 * 60_000;
/** Kept for the record version and secret version it was read for. */
const reusablePairs = boundMemory<StoredPair>(PAIR_REUSE_TTL_MS);
const pairBinding = (record: { version: number; secretVersionId: string | null }) => `${record.version}/${record.secretVersionId}`;

/**
 * A usable access token of a company's token (`tokenId`), for the ERP or for the broker's own e-Factura
 * calls. Steps: read the record (with its pair, at once, on demand); refresh first (`on-demand`: when
 * less than the minimum validity remains; `manual`: now, after ANAF refused the token); read the
 * record's exact pair (never an older one); check it is still valid. The answered `expiresAt` is the one
 * of the token handed out, `versionId` the secret version it came from.
 *
 * `reusePair` (the e-Factura calls, never the hand-out to the ERP): the pair read for a record version is
 * kept in memory for PAIR_REUSE_TTL_MS and used while the record, read on every call (strongly
 * consistent), still names that version and secret version. Every rotation writes a new version into
 * the record, so a rotated pair is never presented. What it does not see is a pair newer than the record
 * (a run that died before its metadata write): the call presents the record's access token, and if ANAF
 * refuses it the 401 path refreshes (`manual`, no reuse), which adopts the newer pair.
 */
export async function usableAccessToken(
  deps: ServiceDeps,
  tenantId: string,
  tokenId: string,
  trigger: 'on-demand' | 'manual' = 'on-demand',
  options: { reusePair?: boolean } = {},
): Promise<{ accessToken: string; expiresAt: string; tokenId: string; refreshed: boolean; versionId: string; reauthRequired: boolean }> {
  const reusable = options.reusePair && trigger === 'on-demand' ? reusablePairs(deps.secrets) : undefined;
  const key = `${tenantId}/${tokenId}`;
  const nowMs = deps.clock.now().getTime();
  const keptPair = reusable?.peek(key, nowMs);
  // On demand the pair is read alongside the record (one round trip, not two), unless one is kept: it
  // is used when the record stays as read (no refresh ran). A failed early read is read again there, or
  // not needed.
  const [stored, sources] =
    trigger === 'on-demand'
      ? await Promise.all([
          deps.tokens.get(tenantId, tokenId),
          keptPair ? undefined : readPairSources(deps, tenantId, tokenId).catch((): undefined => undefined),
        ])
      : [undefined, undefined];
  const result = await refreshToken(deps, { tenantId, tokenId, trigger, stored: stored ?? undefined });
  // A failed or rate-limited refresh, or one still under way elsewhere, leaves a token that may be valid
  // for a while: it is handed out if it is (checked below). So does a verdict of reauth-required: the
  // access token ANAF issued before it keeps the companies working while a person reconnects (the
  // reauth-required event went out with a link); once it expires, 409 REAUTH_REQUIRED.
  const transient =
    (result.outcome === 'failed' && result.error?.code !== 'TOKEN_DISCONNECTED') ||
    result.outcome === 'busy' ||
    result.outcome === 'limited' ||
    result.outcome === 'reauth-required';
  if (!transient) throwIfFailed(result);
  const record = result.token;
  const reused = keptPair && record === stored && record.secretVersionId && keptPair.boundTo === pairBinding(record) ? keptPair : undefined;
  const read: Awaited<ReturnType<typeof readPair>> = reused
    ? { kind: 'current', pair: reused.value, source: 'secret' }
    : await readPair(deps, record, record === stored ? sources : undefined);
  if (read.kind === 'missing') throw new BrokerError('REAUTH_REQUIRED', 'the stored token pair is missing; connect the company again');
  if (read.kind === 'not-visible') {
    throw new BrokerError('STORE_UNAVAILABLE', 'the stored token pair is not readable yet; try again in a few seconds', { retryAfterSeconds: STORE_RETRY_AFTER_SECONDS });
  }
  const pair = read.pair;
  if (reusable) {
    if (read.kind === 'current' && record.secretVersionId) reusable.keep(key, pairBinding(record), pair, nowMs);
    else reusable.forget(key);
  }
  const expiresAt =
    read.kind === 'current'
      ? record.accessExpiresAt
      : readPairFacts({ accessToken: pair.accessToken, refreshToken: pair.refreshToken, now: deps.clock.now() }).accessExpiresAt;
  if (Date.parse(expiresAt) <= deps.clock.now().getTime()) {
    throwIfFailed(result);
    throw new BrokerError('ANAF_UNAVAILABLE', 'ANAF issued an access token that has already expired; try again later');
  }
  return {
    accessToken: pair.accessToken,
    expiresAt,
    tokenId,
    refreshed: result.outcome === 'refreshed',
    versionId: pair.versionId,
    reauthRequired: record.status === 'reauth-required',
  };
}

/**
 * Hands a usable access token to the ERP (the one place a token leaves the service). Steps: resolve the
 * company's token (one read); get a usable access token (above); audit the
 * first hand-out of this access token for this company.
 */
export async function issueAccessToken(
  deps: ServiceDeps,
  tenantId: string,
  cui: string,
): Promise<{ accessToken: string; expiresAt: string; tokenId: string }> {
  const tokenId = await companysToken(deps, tenantId, cui);
  const { accessToken, expiresAt, refreshed, versionId, reauthRequired } = await usableAccessToken(deps, tenantId, tokenId);
  // The secret version names the access token handed out.
  const handOut = `${tenantId}/${tokenId}/${versionId}/${cui}`;
  if (firstHandOut(deps, handOut)) {
    const audited = await recordEvent(deps, {
      tenantId,
      type: 'token-issued',
      tokenId,
      cuis: [cui],
      at: deps.clock.now().toISOString(),
      details: { refreshed, ...(reauthRequired ? { reauthRequired: true } : {}) },
    });
    if (!audited) issuedRecorded.get(deps.audit)?.delete(handOut);
  }
  return { accessToken, expiresAt, tokenId };
}

/**
 * Manual refresh (HTTP button, console invoke, CLI): refreshes unless just refreshed; answers metadata.
 * The tenant check runs alongside the token's lookup, and the record read there is the refresh's first
 * read.
 */
export async function manualRefresh(
  deps: ServiceDeps,
  input: { tenantId: string; tokenId?: string; cui?: string },
): Promise<TokenView> {
  const lookup = async () => requireToken(deps, input.tenantId, input.tokenId ?? (await tokenIdForCompany(deps, input.tenantId, input.cui ?? '')));
  const [tenant, found] = await Promise.allSettled([requireTenant(deps, input.tenantId), lookup()]);
  if (tenant.status === 'rejected') throw tenant.reason;
  if (found.status === 'rejected') throw found.reason;
  const tokenId = found.value.tokenId;
  const result = await refreshToken(deps, { tenantId: input.tenantId, tokenId, trigger: 'manual', stored: found.value });
  throwIfFailed(result);
  const cuis = (await deps.companies.listByToken(input.tenantId, tokenId)).map((c) => c.cui);
  return toTokenView(result.token, cuis);
}
