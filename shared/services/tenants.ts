import { BrokerError } from '../domain/errors.js';
import type { AnafEnvironment, TenantClient } from '../domain/model.js';
import { isAcceptableRedirectUri } from '../domain/urls.js';
import { boundMemory } from './bound-memory.js';
import type { ServiceDeps } from './deps.js';

/** Loads a tenant or throws TENANT_NOT_FOUND: a tenant exists once its ANAF client is stored. */
export async function requireTenant(deps: Pick<ServiceDeps, 'tenants'>, tenantId: string): Promise<TenantClient> {
  const tenant = await deps.tenants.get(tenantId);
  if (!tenant) throw new BrokerError('TENANT_NOT_FOUND', `tenant ${tenantId} has no ANAF client stored`);
  return tenant;
}

/** How long a container keeps a tenant's ANAF client secret in memory at most. */
export const CLIENT_SECRET_TTL_MS = 5 * 60_000;
const clientSecrets = boundMemory<string>(CLIENT_SECRET_TTL_MS);
const boundTo = (tenant: TenantClient) => `${tenant.clientId}\n${tenant.updatedAt}`;

/**
 * The tenant's ANAF client and its secret, or null when either is missing. The tenant item is read on
 * every call (strongly consistent); the secret is kept in memory for CLIENT_SECRET_TTL_MS, bound to
 * the tenant item it was read with. Safe because `putAnafClient` writes the secret before the tenant
 * item (new `updatedAt`): a run that reads the new item reads the new secret, one that reads the old
 * item uses the old secret as it would have without the cache. A secret changed in Secrets Manager by
 * hand is seen within the TTL (until then ANAF answers invalid_client, which rotates nothing). A token
 * pair is kept only for the e-Factura calls, bound to the record version it was read for
 * (`usableAccessToken`); the hand-out to the ERP reads it every time.
 * Without a cached secret both reads go out at once (one round trip).
 */
export async function clientCredentials(
  deps: Pick<ServiceDeps, 'tenants' | 'secrets' | 'clock'>,
  tenantId: string,
): Promise<{ tenant: TenantClient; clientSecret: string } | null> {
  const memory = clientSecrets(deps.secrets);
  const now = deps.clock.now().getTime();
  const cached = memory.peek(tenantId, now);
  let tenant: TenantClient | null;
  let clientSecret: string | null;
  if (cached) {
    tenant = await deps.tenants.get(tenantId);
    if (tenant && boundTo(tenant) === cached.boundTo) return { tenant, clientSecret: cached.value };
    clientSecret = tenant ? await deps.secrets.getClientSecret(tenantId) : null;
  } else {
    [tenant, clientSecret] = await Promise.all([deps.tenants.get(tenantId), deps.secrets.getClientSecret(tenantId)]);
  }
  if (!tenant || !clientSecret) {
    memory.forget(tenantId);
    return null;
  }
  memory.keep(tenantId, boundTo(tenant), clientSecret, now);
  return { tenant, clientSecret };
}

export const MAX_DISPLAY_NAME_LENGTH = 100;

/** A name a person reads on a page: not blank, not too long, no control characters (line breaks included). */
export const isAcceptableDisplayName = (name: string): boolean =>
  name.length > 0 && name.length <= MAX_DISPLAY_NAME_LENGTH && !/\p{Cc}/u.test(name);

/** The client as the ERP sees it: never the secret. */
export const toAnafClientView = (client: TenantClient, defaultEnvironment: AnafEnvironment) => ({
  clientId: client.clientId,
  redirectUri: client.redirectUri,
  displayName: client.displayName ?? null,
  anafEnvironment: anafEnvironmentOf(client, defaultEnvironment),
  updatedAt: client.updatedAt,
});

/** The tenant's e-Factura environment: its own choice, else the stage's default. */
export const anafEnvironmentOf = (client: TenantClient, defaultEnvironment: AnafEnvironment): AnafEnvironment =>
  client.anafEnvironment ?? defaultEnvironment;

/**
 * Stores or replaces a tenant's ANAF OAuth client (a PUT replaces all of it: an omitted `redirectUri`,
 * `displayName` or `anafEnvironment` goes back to its default). Steps: check the redirect URI; refuse a client id
 * change while tokens issued to the old client are active; write the secret first, then the metadata,
 * so a tenant that exists always has its secret.
 */
export async function putAnafClient(
  deps: ServiceDeps,
  input: { tenantId: string; clientId: string; clientSecret: string; redirectUri?: string; displayName?: string; anafEnvironment?: AnafEnvironment },
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
    anafEnvironment: input.anafEnvironment ?? null,
    createdAt: existing?.createdAt ?? now,
    updatedAt: now,
  };
  await deps.tenants.put(client);
  return client;
}
