/** Builds ANAF's authorize URL with exactly the parameters ANAF documents (no scope, no PKCE). */
export function buildAnafAuthorizeUrl(input: {
  oauthBaseUrl: string;
  clientId: string;
  redirectUri: string;
  state: string;
}): string {
  const url = new URL(`${input.oauthBaseUrl}/authorize`);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: input.clientId,
    redirect_uri: input.redirectUri,
    token_content_type: 'jwt',
    state: input.state,
  }).toString();
  return url.toString();
}

/** The URL an ERP hands to the certificate holder for a connect session. */
export const buildConnectUrl = (publicBaseUrl: string, sessionId: string): string =>
  `${publicBaseUrl}/v1/oauth/authorize?session=${encodeURIComponent(sessionId)}`;

/** True when `returnUrl` is an absolute http(s) URL whose origin is exactly one of `allowlist`. */
export function isAllowedReturnUrl(returnUrl: string, allowlist: readonly string[]): boolean {
  let url: URL;
  try {
    url = new URL(returnUrl);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  if (url.username || url.password) return false;
  return allowlist.includes(url.origin);
}

/** Appends result parameters to a return URL, keeping its own query. */
export function withResultParams(returnUrl: string, params: Record<string, string>): string {
  const url = new URL(returnUrl);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return url.toString();
}

/** A redirect URI ANAF would accept: https (http only for loopback hosts, for local stacks). */
export function isAcceptableRedirectUri(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.hash || url.username || url.password) return false;
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
}
