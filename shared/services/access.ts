import { BrokerError } from '../domain/errors.js';
import { readPairFacts } from '../domain/pair-facts.js';
import { toTokenView } from '../domain/views.js';
import type { TokenView } from '../domain/model.js';
import { recordEvent } from './audit.js';
import type { ServiceDeps } from './deps.js';
import { readPair, refreshToken, type RefreshResult } from './refresh.js';
import { requireTenant } from './tenants.js';
import { requireToken } from './tokens.js';

/** Resolves a company to its token id, or throws COMPANY_NOT_FOUND / NOT_CONNECTED. */
export async function tokenIdForCompany(deps: ServiceDeps, tenantId: string, cui: string): Promise<string> {
  const company = await deps.companies.get(tenantId, cui);
  if (!company) throw new BrokerError('COMPANY_NOT_FOUND', `company ${cui} is not registered`);
  if (!company.tokenId) throw new BrokerError('NOT_CONNECTED', `company ${cui} is not connected to ANAF`);
  return company.tokenId;
}

const throwIfFailed = (result: RefreshResult) => {
  if (result.error) throw result.error;
};

/**
 * Hands a usable access token to the ERP (the one place a token leaves the service). Steps: resolve the
 * company's token; refresh first when less than the minimum validity remains; read the record's exact
 * pair (never an older one); check it is still valid; audit. The answered `expiresAt` is the one of the
 * token handed out.
 */
export async function issueAccessToken(
  deps: ServiceDeps,
  tenantId: string,
  cui: string,
): Promise<{ accessToken: string; expiresAt: string; tokenId: string }> {
  await requireTenant(deps, tenantId);
  const tokenId = await tokenIdForCompany(deps, tenantId, cui);
  const result = await refreshToken(deps, { tenantId, tokenId, trigger: 'on-demand' });
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
  const read = await readPair(deps, result.token);
  if (read.kind === 'missing') throw new BrokerError('REAUTH_REQUIRED', 'the stored token pair is missing; connect the company again');
  if (read.kind === 'not-visible') throw new BrokerError('STORE_UNAVAILABLE', 'the stored token pair is not readable yet; try again in a few seconds');
  const pair = read.pair;
  const expiresAt =
    read.kind === 'current'
      ? result.token.accessExpiresAt
      : readPairFacts({ accessToken: pair.accessToken, refreshToken: pair.refreshToken, now: deps.clock.now() }).accessExpiresAt;
  if (Date.parse(expiresAt) <= deps.clock.now().getTime()) {
    throwIfFailed(result);
    throw new BrokerError('ANAF_UNAVAILABLE', 'ANAF issued an access token that has already expired; try again later');
  }
  await recordEvent(deps, {
    tenantId,
    type: 'token-issued',
    tokenId,
    cuis: [cui],
    at: deps.clock.now().toISOString(),
    details: { refreshed: result.outcome === 'refreshed', ...(result.token.status === 'reauth-required' ? { reauthRequired: true } : {}) },
  });
  return { accessToken: pair.accessToken, expiresAt, tokenId };
}

/** Manual refresh (HTTP button, console invoke, CLI): refreshes unless just refreshed; answers metadata. */
export async function manualRefresh(
  deps: ServiceDeps,
  input: { tenantId: string; tokenId?: string; cui?: string },
): Promise<TokenView> {
  await requireTenant(deps, input.tenantId);
  const tokenId = input.tokenId ?? (await tokenIdForCompany(deps, input.tenantId, input.cui ?? ''));
  await requireToken(deps, input.tenantId, tokenId);
  const result = await refreshToken(deps, { tenantId: input.tenantId, tokenId, trigger: 'manual' });
  throwIfFailed(result);
  const cuis = (await deps.companies.listByToken(input.tenantId, tokenId)).map((c) => c.cui);
  return toTokenView(result.token, cuis);
}
