import { BrokerError } from '../domain/errors.js';
import type { TenantClient } from '../domain/model.js';
import { isAcceptableRedirectUri } from '../domain/urls.js';
import type { ServiceDeps } from './deps.js';

/** Loads a tenant or throws TENANT_NOT_FOUND: a tenant exists once its ANAF client is stored. */
export async function requireTenant(deps: Pick<ServiceDeps, 'tenants'>, tenantId: string): Promise<TenantClient> {
  const tenant = await deps.tenants.get(tenantId);
  if (!tenant) throw new BrokerError('TENANT_NOT_FOUND', `tenant ${tenantId} has no ANAF client stored`);
  return tenant;
}

/**
 * The tenant's ANAF client and its secret, read at once (one round trip instead of two: the secret's
 * name needs only the tenant id), or null when either is missing.
 */
export async function clientCredentials(
  deps: Pick<ServiceDeps, 'tenants' | 'secrets'>,
  tenantId: string,
): Promise<{ tenant: TenantClient; clientSecret: string } | null> {
  const [tenant, clientSecret] = await Promise.all([deps.tenants.get(tenantId), deps.secrets.getClientSecret(tenantId)]);
  return tenant && clientSecret ? { tenant, clientSecret } : null;
}

export const MAX_DISPLAY_NAME_LENGTH = 100;

/** A name a person reads on a page: not blank, not too long, no control characters (line breaks included). */
export const isAcceptableDisplayName = (name: string): boolean =>
  name.length > 0 && name.length <= MAX_DISPLAY_NAME_LENGTH && !/\p{Cc}/u.test(name);

/** The client as the ERP sees it: never the secret. */
export const toAnafClientView = (client: TenantClient) => ({
  clientId: client.clientId,
  redirectUri: client.redirectUri,
  displayName: client.displayName ?? null,
  updatedAt: client.updatedAt,
});

/**
 * Stores or replaces a tenant's ANAF OAuth client (a PUT replaces all of it: an omitted `redirectUri`
 * or `displayName` goes back to its default). Steps: check the redirect URI; refuse a client id
 * change while tokens issued to the old client are active; write the secret first, then the metadata,
 * so a tenant that exists always has its secret.
 */
export async function putAnafClient(
  deps: ServiceDeps,
  input: { tenantId: string; clientId: string; clientSecret: string; redirectUri?: string; displayName?: string },
): Promise<TenantClient> {
  const redirectUri = input.redirectUri ?? deps.settings.callbackUrl;
  if (!isAcceptableRedirectUri(redirectUri)) {
    throw new BrokerError('VALIDATION_ERROR', 'redirectUri must be an https URL (http only for localhost)');
  }
  const displayName = input.displayName === undefined ? null : input.displayName.trim();
  if (displayName !== null && !isAcceptableDisplayName(displayName)) {
    throw new BrokerError('VALIDATION_ERROR', `displayName must be 1–${MAX_DISPLAY_NAME_LENGTH} characters, without control characters`);
  }
  const existing = await deps.tenants.get(input.tenantId);
  if (existing && existing.clientId !== input.clientId) {
    const tokens = await deps.tokens.list(input.tenantId);
    if (tokens.some((t) => t.status === 'active')) {
      throw new BrokerError(
        'CLIENT_ID_IN_USE',
        'the tenant has active tokens issued to its current client id; disconnect them before changing the client id',
      );
    }
  }
  const now = deps.clock.now().toISOString();
  await deps.secrets.putClientSecret(input.tenantId, input.clientSecret);
  const client: TenantClient = {
    tenantId: input.tenantId,
    clientId: input.clientId,
    redirectUri,
    displayName,
    createdAt: existing?.createdAt ?? now,
    updatedAt: now,
  };
  await deps.tenants.put(client);
  return client;
}
