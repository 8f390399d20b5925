/**
 * The v1 HTTP routes and the function (folder under `functions/`) behind each. The local gateway and
 * the CDK stack both read this table, so a route cannot exist in one and not the other.
 * `service` routes are for the ERP backend (IAM in AWS, bearer key locally); `public` ones are for
 * browsers and are protected by single-use, expiring values.
 */
export type RouteAuth = 'service' | 'public';

export interface RouteDef {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  path: string;
  fn: string;
  auth: RouteAuth;
}

export const ROUTES: readonly RouteDef[] = [
  { method: 'PUT', path: '/v1/tenants/{tenantId}/anaf-client', fn: 'anaf-client-put', auth: 'service' },
  { method: 'GET', path: '/v1/tenants/{tenantId}/anaf-client', fn: 'anaf-client-get', auth: 'service' },
  { method: 'PUT', path: '/v1/tenants/{tenantId}/companies/{cui}', fn: 'company-put', auth: 'service' },
  { method: 'GET', path: '/v1/tenants/{tenantId}/companies', fn: 'company-get', auth: 'service' },
  { method: 'GET', path: '/v1/tenants/{tenantId}/companies/{cui}', fn: 'company-get', auth: 'service' },
  { method: 'DELETE', path: '/v1/tenants/{tenantId}/companies/{cui}', fn: 'company-delete', auth: 'service' },
  { method: 'GET', path: '/v1/tenants/{tenantId}/companies/{cui}/access-token', fn: 'access-token-get', auth: 'service' },
  { method: 'POST', path: '/v1/tenants/{tenantId}/connect-sessions', fn: 'connect-session-create', auth: 'service' },
  { method: 'GET', path: '/v1/tenants/{tenantId}/connect-sessions/{sessionId}', fn: 'connect-session-get', auth: 'service' },
  { method: 'POST', path: '/v1/tenants/{tenantId}/tokens', fn: 'token-import', auth: 'service' },
  { method: 'GET', path: '/v1/tenants/{tenantId}/tokens', fn: 'token-get', auth: 'service' },
  { method: 'GET', path: '/v1/tenants/{tenantId}/tokens/{tokenId}', fn: 'token-get', auth: 'service' },
  { method: 'POST', path: '/v1/tenants/{tenantId}/tokens/{tokenId}/refresh', fn: 'token-refresh', auth: 'service' },
  { method: 'DELETE', path: '/v1/tenants/{tenantId}/tokens/{tokenId}', fn: 'token-delete', auth: 'service' },
  { method: 'GET', path: '/v1/tenants/{tenantId}/events', fn: 'events-list', auth: 'service' },
  { method: 'POST', path: '/v1/tenants/{tenantId}/companies/{cui}/invoice-uploads', fn: 'invoice-uploads', auth: 'service' },
  { method: 'POST', path: '/v1/tenants/{tenantId}/companies/{cui}/invoices', fn: 'efactura', auth: 'service' },
  { method: 'GET', path: '/v1/tenants/{tenantId}/companies/{cui}/invoices/{uploadId}/status', fn: 'efactura', auth: 'service' },
  { method: 'GET', path: '/v1/tenants/{tenantId}/companies/{cui}/messages', fn: 'efactura', auth: 'service' },
  { method: 'GET', path: '/v1/tenants/{tenantId}/companies/{cui}/messages/{downloadId}', fn: 'efactura', auth: 'service' },
  { method: 'POST', path: '/v1/validate', fn: 'efactura-public', auth: 'service' },
  { method: 'POST', path: '/v1/pdf', fn: 'efactura-public', auth: 'service' },
  { method: 'GET', path: '/v1/oauth/authorize', fn: 'oauth-authorize', auth: 'public' },
  { method: 'GET', path: '/v1/oauth/callback', fn: 'oauth-callback', auth: 'public' },
];

/** Entry points that are not HTTP routes. */
export const NON_HTTP_FUNCTIONS = {
  /** EventBridge schedule target: refreshes due tokens. */
  sweep: 'refresh-sweep',
  /** Console / `aws lambda invoke` with `{tenantId, tokenId}` or `{tenantId, cui}`. */
  manualRefresh: 'manual-refresh',
} as const;

/** Every function folder, each with a `handler.ts` exporting `handler`. */
export const FUNCTION_NAMES: readonly string[] = [
  ...new Set([...ROUTES.map((r) => r.fn), ...Object.values(NON_HTTP_FUNCTIONS)]),
];
