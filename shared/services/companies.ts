import { BrokerError } from '../domain/errors.js';
import type { CompanyRecord, CompanyView, TokenRecord } from '../domain/model.js';
import { toCompanyView } from '../domain/views.js';
import type { ServiceDeps } from './deps.js';
import { requireTenant } from './tenants.js';

/**
 * Registers or updates a company. With `tokenId`, links it to that existing token (no new login);
 * `tokenId: null` unlinks it; an omitted field keeps its stored value.
 */
export async function putCompany(
  deps: ServiceDeps,
  input: { tenantId: string; cui: string; name?: string | null; tokenId?: string | null },
): Promise<CompanyView> {
  await requireTenant(deps, input.tenantId);
  const existing = await deps.companies.get(input.tenantId, input.cui);
  let token: TokenRecord | null = null;
  const tokenId = input.tokenId === undefined ? (existing?.tokenId ?? null) : input.tokenId;
  if (tokenId) {
    token = await deps.tokens.get(input.tenantId, tokenId);
    if (!token) throw new BrokerError('TOKEN_NOT_FOUND', `token ${tokenId} not found`);
    if (token.status === 'disconnected' && input.tokenId !== undefined) {
      throw new BrokerError('TOKEN_DISCONNECTED', `token ${tokenId} is disconnected`);
    }
  }
  const now = deps.clock.now().toISOString();
  const company: CompanyRecord = {
    tenantId: input.tenantId,
    cui: input.cui,
    name: input.name === undefined ? (existing?.name ?? null) : input.name,
    tokenId,
    // What ANAF taught about the holder's rights holds for the same token only.
    ...(existing?.spvRights && existing.tokenId === tokenId ? { spvRights: existing.spvRights, spvRightsAt: existing.spvRightsAt ?? null } : {}),
    createdAt: existing?.createdAt ?? now,
    updatedAt: now,
  };
  await deps.companies.put(company);
  return toCompanyView(company, token);
}

export async function getCompany(deps: ServiceDeps, tenantId: string, cui: string): Promise<CompanyView> {
  await requireTenant(deps, tenantId);
  const company = await deps.companies.get(tenantId, cui);
  if (!company) throw new BrokerError('COMPANY_NOT_FOUND', `company ${cui} is not registered`);
  const token = company.tokenId ? await deps.tokens.get(tenantId, company.tokenId) : null;
  return toCompanyView(company, token);
}

export async function listCompanies(deps: ServiceDeps, tenantId: string): Promise<CompanyView[]> {
  await requireTenant(deps, tenantId);
  const [companies, tokens] = await Promise.all([deps.companies.list(tenantId), deps.tokens.list(tenantId)]);
  const byId = new Map(tokens.map((t) => [t.tokenId, t]));
  return companies
    .map((c) => toCompanyView(c, c.tokenId ? (byId.get(c.tokenId) ?? null) : null))
    .sort((a, b) => a.cui.localeCompare(b.cui));
}

/** Forgets a company and its link; the token itself stays (other companies may use it). */
export async function deleteCompany(deps: ServiceDeps, tenantId: string, cui: string): Promise<void> {
  await requireTenant(deps, tenantId);
  const company = await deps.companies.get(tenantId, cui);
  if (!company) throw new BrokerError('COMPANY_NOT_FOUND', `company ${cui} is not registered`);
  await deps.companies.delete(tenantId, cui);
}

/** At most this many companies in one connect session or import. */
export const MAX_CUIS = 50;

/** De-duplicates CUIs and checks they are at most MAX_CUIS, all registered (else TOO_MANY_CUIS / COMPANY_NOT_FOUND). */
export async function requireRegisteredCompanies(deps: ServiceDeps, tenantId: string, input: string[]): Promise<string[]> {
  const cuis = [...new Set(input)];
  if (cuis.length > MAX_CUIS) throw new BrokerError('TOO_MANY_CUIS', `at most ${MAX_CUIS} companies per request`);
  const companies = await Promise.all(cuis.map((cui) => deps.companies.get(tenantId, cui)));
  const missing = cuis.filter((_, i) => !companies[i]);
  if (missing.length > 0) throw new BrokerError('COMPANY_NOT_FOUND', `companies not registered: ${missing.join(', ')}`);
  return cuis;
}
