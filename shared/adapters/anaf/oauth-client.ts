import { AnafError } from '../../domain/anaf-errors.js';
import { readTokenClaims } from '../../domain/jwt.js';
import type { AnafOAuthClient, AnafTokenResponse } from '../../ports.js';

/**
 * ANAF's /token endpoint over HTTPS: HTTP Basic client authentication, `token_content_type=jwt` in the
 * body, a bounded timeout. Failures become AnafError kinds; no error message carries a token or secret.
 */
export function createAnafOAuthClient(deps: { oauthBaseUrl: string; timeoutMs: number; fetch?: typeof fetch }): AnafOAuthClient {
  const doFetch = deps.fetch ?? fetch;
  const tokenUrl = `${deps.oauthBaseUrl}/token`;

  async function callToken(clientId: string, clientSecret: string, form: Record<string, string>): Promise<AnafTokenResponse> {
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
    if (response.status !== 200) {
      const oauthError = typeof body?.error === 'string' ? body.error : undefined;
      const kind = oauthError === 'invalid_client' ? 'invalid_client' : oauthError === 'invalid_grant' ? 'invalid_grant' : 'rejected';
      throw new AnafError(kind, `ANAF refused the request (HTTP ${response.status}${oauthError ? `, ${oauthError}` : ''})`, {
        status: response.status,
        oauthError,
      });
    }
    const accessToken = body?.access_token;
    const refreshToken = body?.refresh_token;
    if (typeof accessToken !== 'string' || typeof refreshToken !== 'string' || !readTokenClaims(accessToken) || !readTokenClaims(refreshToken)) {
      throw new AnafError('rejected', 'ANAF answered 200 without a usable JWT token pair', { status: 200 });
    }
    return { accessToken, refreshToken };
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
function retryAfterSeconds(header: string | null): number | undefined {
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

function couldNotHaveBeenSent(error: unknown): boolean {
  const cause = (error as { cause?: { code?: string; errors?: Array<{ code?: string }> } })?.cause;
  if (cause?.code && PRE_SEND_CODES.has(cause.code)) return true;
  // Happy-eyeballs connects report an AggregateError whose parts are all connection failures.
  return Boolean(cause?.errors?.length && cause.errors.every((e) => e.code && PRE_SEND_CODES.has(e.code)));
}
