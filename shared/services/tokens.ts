import { AnafError } from '../domain/anaf-errors.js';
import { BrokerError } from '../domain/errors.js';
import { readTokenClaims } from '../domain/jwt.js';
import type { TenantClient, TokenRecord, TokenView } from '../domain/model.js';
import type { AnafTokenResponse } from '../ports.js';
import { importTokenId } from '../domain/state.js';
import { toTokenView } from '../domain/views.js';
import { storeAuthorization } from './authorization.js';
import { requireRegisteredCompanies } from './companies.js';
import type { ServiceDeps } from './deps.js';
import { JOIN_WAIT_MS } from './refresh.js';
import { requireTenant } from './tenants.js';

/**
 * Imports a pair a user obtained by hand before (migration from the manual flow). Steps: both values
 * must be JWTs with `exp`; the refresh token must not have ended; the pair must belong to the
 * tenant's client; the CUIs must be registered; a certificate with an active token is left alone
 * unless `replace` (TOKEN_EXISTS); then the pasted refresh token is rotated once at ANAF (under the
 * token's lease when it exists) and only the rotated pair is stored, like a callback's. The pasted pair
 * is never stored: whatever tool it came from may still hold it, and after the rotation only the broker
 * holds a live refresh token of the chain. On any ANAF failure nothing is stored.
 */
export async function importToken(
  deps: ServiceDeps,
  input: { tenantId: string; accessToken: string; refreshToken: string; cuis: string[]; replace?: boolean },
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
  // would fail at the rotation.
  if ([access.clientAppId, refresh.clientAppId].some((appId) => appId !== null && appId !== tenant.clientId)) {
    throw new BrokerError('CLIENT_MISMATCH', "the tokens were issued to another ANAF client than the tenant's");
  }
  if (access.serial && refresh.serial && access.serial !== refresh.serial) {
    throw new BrokerError('VALIDATION_ERROR', 'accessToken and refreshToken come from different certificates (serial claims differ)');
  }
  const cuis = await requireRegisteredCompanies(deps, input.tenantId, input.cuis);
  const clientSecret = await deps.secrets.getClientSecret(tenant.tenantId);
  if (!clientSecret) throw new BrokerError('ANAF_REJECTED', 'the tenant has no ANAF client secret stored');
  const token = await storeAuthorization(deps, {
    tenantId: input.tenantId,
    cuis,
    source: 'import',
    serial: access.serial ?? refresh.serial,
    replaceActive: input.replace === true,
    // The ERP's call waits for a refresh under way like a refresh does, then answers 409 REFRESH_IN_PROGRESS.
    leaseDeadline: deps.clock.now().getTime() + JOIN_WAIT_MS,
    obtainPair: () => rotatePasted(deps, tenant, clientSecret, input.refreshToken),
    // The same paste sent again (its first attempt's answer was a 503) finds the pair that attempt left.
    importTokenId: importTokenId(clientSecret, input.tenantId, input.refreshToken),
  });
  return getToken(deps, input.tenantId, token.tokenId);
}

/**
 * The import's one rotation at ANAF, without retries. A refusal means the pasted refresh token is no
 * longer good (spent by the tool it came from, or revoked); a timeout may hide a rotation that spent it.
 */
async function rotatePasted(deps: ServiceDeps, tenant: TenantClient, clientSecret: string, refreshToken: string): Promise<AnafTokenResponse> {
  try {
    return await deps.anaf.refresh({ clientId: tenant.clientId, clientSecret, refreshToken });
  } catch (error) {
    if (!(error instanceof AnafError)) throw error;
    deps.logger.warn('the rotation of an imported pair failed; nothing stored', {
      tenantId: tenant.tenantId,
      kind: error.kind,
      status: error.details.status,
    });
    switch (error.kind) {
      case 'invalid_client':
        throw new BrokerError('ANAF_REJECTED', 'ANAF rejected the client id/secret', { cause: error });
      case 'unavailable':
        throw new BrokerError('ANAF_UNAVAILABLE', 'ANAF is unavailable; nothing was stored, the import can be sent again', { cause: error });
      case 'timeout':
        throw new BrokerError(
          'ANAF_UNAVAILABLE',
          'ANAF did not answer in time; nothing was stored, and ANAF may have spent the pasted refresh token: connect the company instead',
          { cause: error },
        );
      default:
        throw new BrokerError(
          'IMPORT_REFRESH_REFUSED',
          'ANAF refused to refresh the pasted refresh token (already used by another tool, or revoked); nothing was stored: connect the company instead',
          { cause: error },
        );
    }
  }
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
