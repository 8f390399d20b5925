import {
  parseDownloadAnswer,
  parseListAnswer,
  parsePdfAnswer,
  parseStatusAnswer,
  parseUploadAnswer,
  parseValidateAnswer,
  type Parsed,
  type RawAnswer,
} from '../../domain/efactura.js';
import type { AnafEnvironment } from '../../domain/model.js';
import type { EfacturaCall, EfacturaClient } from '../../ports.js';
import { couldNotHaveBeenSent, retryAfterSeconds } from './oauth-client.js';

/**
 * The tenant's host of the e-Factura API: ANAF's base URL with its `/prod/` or `/test/` segment set to
 * the tenant's environment. A base without that segment (a proxy, say) is used as it is.
 */
export function efacturaBaseUrl(apiBaseUrl: string, environment: AnafEnvironment): string {
  return apiBaseUrl.replace(/\/(prod|test)\/FCTEL\/rest$/, `/${environment}/FCTEL/rest`);
}

/**
 * ANAF's e-Factura API over HTTPS. The authenticated calls go to `apiBaseUrl` (per tenant environment)
 * with the bearer token; `validare` and `transformare` go to `publicApiBaseUrl` (production only) with
 * `Content-Type: text/plain` and no token. Every answer is parsed by the body, never by the status alone.
 */
export function createEfacturaClient(deps: { apiBaseUrl: string; publicApiBaseUrl: string; fetch?: typeof fetch }): EfacturaClient {
  const doFetch = deps.fetch ?? fetch;

  async function send<T>(
    url: string,
    init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: Uint8Array; timeoutMs: number },
    parse: (answer: RawAnswer) => Parsed<T>,
  ): Promise<Parsed<T>> {
    let response: Response;
    try {
      response = await doFetch(url, {
        method: init.method,
        headers: init.headers,
        ...(init.body ? { body: init.body } : {}),
        signal: AbortSignal.timeout(Math.max(1, init.timeoutMs)),
        redirect: 'manual',
      });
    } catch (error) {
      const name = (error as { name?: string })?.name;
      if (name === 'TimeoutError' || name === 'AbortError') {
        return unavailable(`ANAF did not answer within ${Math.round(init.timeoutMs / 1000)} s`, true);
      }
      if (couldNotHaveBeenSent(error)) return unavailable('ANAF could not be reached', false);
      return unavailable('the connection to ANAF broke before its answer', true);
    }
    let body: Uint8Array;
    try {
      body = new Uint8Array(await response.arrayBuffer());
    } catch {
      return unavailable('ANAF stopped answering mid-response', true);
    }
    const retryAfter = retryAfterSeconds(response.headers.get('retry-after'));
    return parse({
      status: response.status,
      contentType: response.headers.get('content-type') ?? '',
      body,
      ...(retryAfter === undefined ? {} : { retryAfterSeconds: retryAfter }),
    });
  }

  const api = (call: EfacturaCall, endpoint: string, query: Record<string, string | undefined>) => {
    const params = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined));
    return `${efacturaBaseUrl(deps.apiBaseUrl, call.environment)}/${endpoint}?${params.toString()}`;
  };
  const authorized = (call: EfacturaCall, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${call.accessToken}`, ...extra });
  const flag = (on: boolean) => (on ? 'DA' : undefined);

  return {
    upload: (call, input) =>
      send(
        api(call, input.b2c ? 'uploadb2c' : 'upload', {
          standard: input.standard,
          cif: input.cif,
          extern: flag(input.extern),
          autofactura: flag(input.selfBilled),
          executare: flag(input.enforcement),
        }),
        { method: 'POST', headers: authorized(call, { 'content-type': 'text/plain' }), body: input.xml, timeoutMs: call.timeoutMs },
        parseUploadAnswer,
      ),
    status: (call, uploadId) =>
      send(api(call, 'stareMesaj', { id_incarcare: uploadId }), { method: 'GET', headers: authorized(call), timeoutMs: call.timeoutMs }, parseStatusAnswer),
    listMessages: (call, input) =>
      send(
        api(call, 'listaMesajeFactura', { zile: String(input.days), cif: input.cif, filtru: input.filter }),
        { method: 'GET', headers: authorized(call), timeoutMs: call.timeoutMs },
        (answer) => parseListAnswer(answer, false),
      ),
    listMessagesPaged: (call, input) =>
      send(
        api(call, 'listaMesajePaginatieFactura', {
          startTime: String(input.startMs),
          endTime: String(input.endMs),
          cif: input.cif,
          pagina: String(input.page),
          filtru: input.filter,
        }),
        { method: 'GET', headers: authorized(call), timeoutMs: call.timeoutMs },
        (answer) => parseListAnswer(answer, true),
      ),
    download: (call, downloadId) =>
      send(api(call, 'descarcare', { id: downloadId }), { method: 'GET', headers: authorized(call), timeoutMs: call.timeoutMs }, parseDownloadAnswer),
    validate: (input) =>
      send(
        `${deps.publicApiBaseUrl}/validare/${input.standard}`,
        { method: 'POST', headers: { 'content-type': 'text/plain' }, body: input.xml, timeoutMs: input.timeoutMs },
        parseValidateAnswer,
      ),
    pdf: (input) =>
      send(
        `${deps.publicApiBaseUrl}/transformare/${input.standard}${input.validate ? '' : '/DA'}`,
        { method: 'POST', headers: { 'content-type': 'text/plain' }, body: input.xml, timeoutMs: input.timeoutMs },
        parsePdfAnswer,
      ),
  };
}

function unavailable<T>(message: string, uncertain: boolean): Parsed<T> {
  return { ok: false, failure: { code: 'ANAF_UNAVAILABLE', messages: [message], ...(uncertain ? { uncertain: true } : {}) } };
}
