import type { CompanyRecord, CompanyStatus, CompanyView, TokenRecord, TokenView } from './model.js';

/** A company's connection status: a missing or disconnected token reads as not connected. */
export function companyStatus(token: TokenRecord | null): CompanyStatus {
  if (!token || token.status === 'disconnected') return 'not-connected';
  return token.status;
}

export function toCompanyView(company: CompanyRecord, token: TokenRecord | null): CompanyView {
  const live = token && token.status !== 'disconnected' ? token : null;
  return {
    cui: company.cui,
    name: company.name,
    tokenId: live ? company.tokenId : null,
    status: companyStatus(token),
    accessExpiresAt: live?.accessExpiresAt ?? null,
    refreshExpiresAt: live?.refreshExpiresAt ?? null,
  };
}

export function toTokenView(token: TokenRecord, cuis: string[]): TokenView {
  return {
    tokenId: token.tokenId,
    status: token.status,
    serial: token.serial,
    cuis: token.status === 'disconnected' ? [] : [...cuis].sort(),
    accessExpiresAt: token.accessExpiresAt,
    refreshExpiresAt: token.refreshExpiresAt,
    lastRefreshAt: token.lastRefreshAt,
    lastError: token.lastError,
    createdAt: token.createdAt,
    updatedAt: token.updatedAt,
  };
}
