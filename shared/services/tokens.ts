import { BrokerError } from '../domain/errors.js';
import { readTokenClaims } from '../domain/jwt.js';
import type { TokenRecord, TokenView } from '../domain/model.js';
import { toTokenView } from '../domain/views.js';
import { storeAuthorization } from './authorization.js';
import { requireRegisteredCompanies } from './companies.js';
import type { ServiceDeps } from './deps.js';
import { requireTenant } from './tenants.js';

/**
 * Imports a pair a user obtained by hand before (migration from the manual flow). Steps: both values
 * must be JWTs with `exp`; the refresh token must not have ended; the pair must belong to the
 * tenant's client; the CUIs must be registered; then it is stored like a callback's pair.
 */
export async function importToken(
  deps: ServiceDeps,
  input: { tenantId: string; accessToken: string; refreshToken: string; cuis: string[] },
): Promise<TokenView> {
  const tenant = await requireTenant(deps, input.tenantId);
  const access = readTokenClaims(input.accessToken);
  const refresh = readTokenClaims(input.refreshToken);
  if (!access) throw new BrokerError('VALIDATION_ERROR', 'accessToken is not a JWT with an exp claim');
  if (!refresh) throw new BrokerError('VALIDATION_ERROR', 'refreshToken is not a JWT with an exp claim');
  if (refresh.exp * 1000 <= deps.clock.now().getTime()) {
    throw new BrokerError('VALIDATION_ERROR', 'refreshToken has already expired: connect the company again instead');
  }
  // Each token on its own: a pair mixing the tenant's access token with another client's refresh token
  // would store fine and fail at the first refresh.
  if ([access.clientAppId, refresh.clientAppId].some((appId) => appId !== null && appId !== tenant.clientId)) {
    throw new BrokerError('CLIENT_MISMATCH', "the tokens were issued to another ANAF client than the tenant's");
  }
  if (access.serial && refresh.serial && access.serial !== refresh.serial) {
    throw new BrokerError('VALIDATION_ERROR', 'accessToken and refreshToken come from different certificates (serial claims differ)');
  }
  const cuis = await requireRegisteredCompanies(deps, input.tenantId, input.cuis);
  const token = await storeAuthorization(deps, { ...input, cuis });
  return getToken(deps, input.tenantId, token.tokenId);
}

/** Loads a token of the tenant or throws TOKEN_NOT_FOUND. */
export async function requireToken(deps: ServiceDeps, tenantId: string, tokenId: string): Promise<TokenRecord> {
  const token = await deps.tokens.get(tenantId, tokenId);
  if (!token) throw new BrokerError('TOKEN_NOT_FOUND', `token ${tokenId} not found`);
  return token;
}

export async function getToken(deps: ServiceDeps, tenantId: string, tokenId: string): Promise<TokenView> {
  await requireTenant(deps, tenantId);
  const token = await requireToken(deps, tenantId, tokenId);
  const cuis = (await deps.companies.listByToken(tenantId, tokenId)).map((c) => c.cui);
  return toTokenView(token, cuis);
}

export async function listTokens(deps: ServiceDeps, tenantId: string): Promise<TokenView[]> {
  await requireTenant(deps, tenantId);
  const [tokens, companies] = await Promise.all([deps.tokens.list(tenantId), deps.companies.list(tenantId)]);
  return tokens
    .map((t) => toTokenView(t, companies.filter((c) => c.tokenId === t.tokenId).map((c) => c.cui)))
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}
