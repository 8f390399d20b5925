import { AnafError } from '../../domain/anaf-errors.js';
import type { AnafOAuthClient, AnafTokenResponse } from '../../ports.js';

/**
 * ANAF's /token endpoint over HTTPS: HTTP Basic client authentication, `token_content_type=jwt` in the
 * body, a bounded timeout. Failures become AnafError kinds; no error message carries a token or secret.
 * Any 2xx carrying an access token is a success whatever the tokens look like: on a refresh grant ANAF
 * has rotated, and refusing the answer would strand the token (claims are read by the caller).
 */
export function createAnafOAuthClient(deps: { oauthBaseUrl: string; timeoutMs: number; fetch?: typeof fetch }): AnafOAuthClient {
  const doFetch = deps.fetch ?? fetch;
  const tokenUrl = `${deps.oauthBaseUrl}/token`;

  async function callToken(clientId: string, clientSecret: string, form: Record<string, string>): Promise<AnafTokenResponse> {
    const isRefresh = form.grant_type === 'refresh_token';
    const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64');
    let response: Response;
    try {
      response = await doFetch(tokenUrl, {
        method: 'POST',
        headers: {
          authorization: `Basic ${basic}`,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({ ...form, token_content_type: 'jwt' }).toString(),
        signal: AbortSignal.timeout(deps.timeoutMs),
        redirect: 'manual',
      });
    } catch (error) {
      const name = (error as { name?: string })?.name;
      if (name === 'TimeoutError' || name === 'AbortError') {
        throw new AnafError('timeout', `ANAF did not answer within ${deps.timeoutMs} ms`);
      }
      if (couldNotHaveBeenSent(error)) throw new AnafError('unavailable', 'ANAF could not be reached', {}, { cause: error });
      // The connection broke after the request went out: ANAF may have acted (and rotated).
      throw new AnafError('timeout', 'the connection to ANAF broke before its answer', {}, { cause: error });
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      // Headers arrived but the body did not: ANAF may have acted, so this counts as a timeout.
      throw new AnafError('timeout', 'ANAF stopped answering mid-response', { status: response.status }, { cause: error });
    }
    const body = safeJson(text);
    if (response.status === 429 || response.status >= 500) {
      throw new AnafError('unavailable', `ANAF answered HTTP ${response.status}`, {
        status: response.status,
        retryAfterSeconds: retryAfterSeconds(response.headers.get('retry-after')),
      });
    }
    if (response.status < 200 || response.status > 299) {
      const oauthError = typeof body?.error === 'string' ? body.error : undefined;
      // ANAF answered a bad grant with invalid_request in a live probe; what a spent refresh token gets is
      // not captured, so on a refresh grant both mean "this refresh token is refused".
      const refused = oauthError === 'invalid_grant' || (isRefresh && oauthError === 'invalid_request');
      const kind = oauthError === 'invalid_client' ? 'invalid_client' : refused ? 'invalid_grant' : 'rejected';
      throw new AnafError(kind, `ANAF refused the request (HTTP ${response.status}${oauthError ? `, ${oauthError}` : ''})`, {
        status: response.status,
        oauthError,
      });
    }
    const accessToken = body?.access_token;
    const refreshToken = body?.refresh_token;
    if (typeof accessToken !== 'string' || accessToken === '') {
      // A success we cannot read: ANAF may have rotated, exactly like an answer lost in flight.
      throw new AnafError('timeout', `ANAF answered HTTP ${response.status} without an access token`, { status: response.status });
    }
    const expiresIn = typeof body?.expires_in === 'number' ? body.expires_in : typeof body?.expires_in === 'string' ? Number(body.expires_in) : undefined;
    return {
      accessToken,
      ...(typeof refreshToken === 'string' && refreshToken !== '' ? { refreshToken } : {}),
      ...(expiresIn !== undefined && Number.isFinite(expiresIn) ? { expiresInSeconds: expiresIn } : {}),
    };
  }

  return {
    exchangeCode: ({ clientId, clientSecret, code, redirectUri }) =>
      callToken(clientId, clientSecret, { grant_type: 'authorization_code', code, redirect_uri: redirectUri }),
    refresh: ({ clientId, clientSecret, refreshToken }) =>
      callToken(clientId, clientSecret, { grant_type: 'refresh_token', refresh_token: refreshToken }),
  };
}

/**
 * Seconds from a Retry-After header (delta-seconds or an HTTP date); undefined when absent or unreadable.
 * (An absent header must not read as 0, which would turn the caller's backoff into none.)
 */
export function retryAfterSeconds(header: string | null): number | undefined {
  const value = header?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, Math.ceil((date - Date.now()) / 1000)) : undefined;
}

function safeJson(text: string): Record<string, unknown> | null {
  try {
    const value = JSON.parse(text);
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Errors raised before any byte of the request can have reached ANAF. */
const PRE_SEND_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

export function couldNotHaveBeenSent(error: unknown): boolean {
  const cause = (error as { cause?: { code?: string; errors?: Array<{ code?: string }> } })?.cause;
  if (cause?.code && PRE_SEND_CODES.has(cause.code)) return true;
  // Happy-eyeballs connects report an AggregateError whose parts are all connection failures.
  return Boolean(cause?.errors?.length && cause.errors.every((e) => e.code && PRE_SEND_CODES.has(e.code)));
}
