import type {
  CompanyRecord,
  CompanyStatus,
  CompanyView,
  ConnectSession,
  ConnectSessionStatus,
  ConnectSessionView,
  TokenRecord,
  TokenView,
} from './model.js';

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
    spvRights: company.spvRights ?? 'unknown',
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

/** A session is completed once a callback stored its token, else expired once `expiresAt` has passed (checked by timestamp: TTL deletes late). */
export function connectSessionStatus(session: ConnectSession, now: Date): ConnectSessionStatus {
  if (session.completedAt) return 'completed';
  return Date.parse(session.expiresAt) > now.getTime() ? 'open' : 'expired';
}

/**
 * The session as the ERP sees it: `tokenId` once completed; `lastError` (the last failed attempt) only
 * while not completed, since after a success it no longer says anything about the session.
 */
export function toConnectSessionView(session: ConnectSession, now: Date): ConnectSessionView {
  const status = connectSessionStatus(session, now);
  return {
    sessionId: session.sessionId,
    status,
    cuis: [...session.cuis],
    expiresAt: session.expiresAt,
    ...(status === 'completed' && session.tokenId ? { tokenId: session.tokenId } : {}),
    ...(status !== 'completed' && session.lastError ? { lastError: session.lastError } : {}),
  };
}
