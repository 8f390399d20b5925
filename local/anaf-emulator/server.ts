/**
 * ANAF emulator over real HTTP: logincert's OAuth2 authorize page and token endpoint (single-use
 * codes, refresh-token rotation, expiries), a small e-Factura REST API, failure injection, and an
 * admin API under `/__emulator/` mirroring `control`. Used by `npm run dev` and integration tests.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createEfactura, type Reply } from './efactura.js';
import { createPublicApi, MAX_PUBLIC_BYTES } from './public-api.js';
import { createOAuthState, type GrantResult, type OAuthErrorBody } from './oauth-state.js';
import { errorPage, loginPage, type AuthorizeParams } from './pages.js';
import { firewallPage } from './format.js';
import {
  API_ENDPOINTS,
  API_FAILURE_KINDS,
  AUTHORIZE_MODES,
  SEED_MESSAGE_TYPES,
  TOKEN_FAILURE_KINDS,
  UPLOAD_OUTCOMES,
  DEFAULT_LIMITS,
  type AnafEmulator,
  type ApiEndpoint,
  type ApiFailureKind,
  type FailureTarget,
  type AuthorizeMode,
  type EmulatorCertificate,
  type EmulatorApiStats,
  type EmulatorControl,
  type EmulatorStats,
  type StartAnafEmulatorOptions,
  type TokenFailureKind,
} from './types.js';

export type {
  AnafEmulator,
  ApiEndpoint,
  ApiFailureKind,
  EmulatorApiStats,
  EmulatorLimits,
  FailureTarget,
  SeededMessage,
  SeedMessagesInput,
  SeedMessageType,
  UploadOutcome,
  AuthorizeMode,
  EmulatorCertificate,
  EmulatorControl,
  EmulatorStats,
  StartAnafEmulatorOptions,
  TokenFailureKind,
} from './types.js';
export { API_ENDPOINTS, API_FAILURE_KINDS, AUTHORIZE_MODES, DEFAULT_LIMITS, TOKEN_FAILURE_KINDS } from './types.js';
export { REAL_PROD_ZIP } from './efactura.js';

/** The client the emulator always accepts (obviously fake values). */
export const EMULATOR_DEFAULT_CLIENT = {
  clientId: 'emulator-client-id',
  clientSecret: 'emulator-client-secret',
} as const satisfies { clientId: 'emulator-client-id'; clientSecret: 'emulator-client-secret' };

/** Fake certificates offered on the interactive page; the first is the default for 'approve'. */
export const EMULATOR_CERTIFICATES: readonly EmulatorCertificate[] = [
  { serial: '3a:00:00:00:12:ab:cd', holder: 'POPESCU ION (certificat fictiv)' },
  { serial: '3a:00:00:00:34:ef:01', holder: 'IONESCU MARIA (certificat fictiv)' },
  { serial: '5b:00:00:00:56:78:9a', holder: 'CONTABIL EXPERT SRL - VASILE ANA (certificat fictiv)' },
];

export const OAUTH_PATH = '/anaf-oauth2/v1';
export const API_PATH = '/prod/FCTEL/rest';
export const PUBLIC_API_PATH = '/public/prod/FCTEL/rest';
export const ADMIN_PATH = '/__emulator';

/** Thrown by `control` methods for invalid arguments (the admin API answers them with 400). */
export class EmulatorInputError extends Error {
  override name = 'EmulatorInputError';
}

/** Parses `ANAF_EMULATOR_CLIENTS` (`id:secret,id2:secret2`); throws on a malformed entry. */
export function parseClientsEnv(value: string | undefined): Record<string, string> {
  const clients: Record<string, string> = {};
  for (const entry of (value ?? '').split(',').map((e) => e.trim()).filter(Boolean)) {
    const colon = entry.indexOf(':');
    if (colon <= 0 || colon === entry.length - 1) {
      throw new EmulatorInputError('ANAF_EMULATOR_CLIENTS must look like id:secret,id2:secret2');
    }
    clients[entry.slice(0, colon)] = entry.slice(colon + 1);
  }
  return clients;
}

const SERIAL = /^[0-9a-f]{2}(:[0-9a-f]{2})+$/i;
const CIF = /^[0-9]{1,13}$/;
const isCount = (value: unknown, max: number): value is number => Number.isInteger(value) && (value as number) >= 0 && (value as number) <= max;
const TOKEN_BODY_LIMIT = 64 * 1024;
const JSON_TYPE = 'application/json;charset=UTF-8';
const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };

async function readBody(req: http.IncomingMessage, limit: number): Promise<{ body: Buffer; tooLarge: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
  }
  return { body: Buffer.concat(chunks), tooLarge: size > limit };
}

function send(res: http.ServerResponse, reply: Reply): void {
  if (res.destroyed || res.headersSent) return;
  const body = typeof reply.body === 'string' ? Buffer.from(reply.body, 'utf8') : reply.body;
  res.writeHead(reply.status, { ...reply.headers, 'content-length': String(body.length) });
  res.end(body);
}
const jsonReply = (status: number, body: unknown, headers: Record<string, string> = {}): Reply => ({
  status,
  headers: { 'content-type': JSON_TYPE, ...headers },
  body: JSON.stringify(body),
});
const htmlReply = (status: number, html: string): Reply => ({
  status,
  headers: { 'content-type': 'text/html;charset=UTF-8', ...NO_STORE },
  body: html,
});
const redirectReply = (location: string): Reply => ({ status: 302, headers: { location, ...NO_STORE }, body: '' });

/** Appends parameters to a redirect URI, keeping its own query; undefined values are left out. */
function withParams(redirectUri: string, params: [string, string | undefined][]): string {
  const url = new URL(redirectUri);
  for (const [name, value] of params) if (value !== undefined) url.searchParams.append(name, value);
  return url.toString();
}

/** RFC 6749 §2.3.1 form-encodes Basic credentials; most clients do not. Accept both spellings. */
function formDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
}

/** Starts the emulator; resolves once it listens. */
export async function startAnafEmulator(options: StartAnafEmulatorOptions = {}): Promise<AnafEmulator> {
  // ---- virtual clock (npm run simulate): the injected clock moved by an offset ----
  const baseNow = options.now ?? Date.now;
  let clockOffsetMs = 0;
  const now = () => baseNow() + clockOffsetMs;
  const log = options.log ?? (() => {});
  const startMode = options.authorizeMode ?? 'approve';
  if (!AUTHORIZE_MODES.includes(startMode)) throw new EmulatorInputError(`Unknown authorize mode ${startMode}`);
  const oauth = createOAuthState({ now, codeTtlSeconds: options.codeTtlSeconds ?? 60 });
  const efactura = createEfactura(now);
  const publicApi = createPublicApi(now);
  const startupClients = new Map<string, string>([
    [EMULATOR_DEFAULT_CLIENT.clientId, EMULATOR_DEFAULT_CLIENT.clientSecret],
    ...Object.entries(options.clients ?? {}),
  ]);

  let mode: AuthorizeMode = startMode;
  let certificate: EmulatorCertificate = { ...EMULATOR_CERTIFICATES[0]! };
  let latencyMs = 0;
  let failures: TokenFailureKind[] = [];
  /** Queued `/token` failures of refresh calls presenting a refresh token of one certificate, by serial. */
  let failuresBySerial = new Map<string, TokenFailureKind[]>();
  /** Queued e-Factura/public failures per target (`any` is taken after the endpoint's own queue). */
  let apiFailures = new Map<FailureTarget, { kind: ApiFailureKind; ms: number }[]>();
  /** While set, every `/token` call fails this way (an outage), after any queued `failNext`. */
  let outage: TokenFailureKind | null = null;
  const freshStats = (): EmulatorStats => ({ tokenCalls: { authorization_code: 0, refresh_token: 0 }, refusedRefreshes: 0, authorizeCalls: 0 });
  let stats = freshStats();
  const freshApiStats = (): EmulatorApiStats => ({
    calls: Object.fromEntries(API_ENDPOINTS.map((e) => [e, 0])) as Record<ApiEndpoint, number>,
    rateLimited: 0,
  });
  let apiStats = freshApiStats();

  function restoreClients(): void {
    oauth.clients.clear();
    for (const [clientId, secret] of startupClients) oauth.clients.set(clientId, { secret, redirectUris: [] });
  }
  restoreClients();

  const control: EmulatorControl = {
    setAuthorizeMode(next) {
      if (!AUTHORIZE_MODES.includes(next)) {
        throw new EmulatorInputError(`mode must be one of ${AUTHORIZE_MODES.join(', ')}`);
      }
      mode = next;
    },
    setCertificate(cert) {
      if (typeof cert?.serial !== 'string' || !SERIAL.test(cert.serial)) {
        throw new EmulatorInputError('serial must be colon-separated hex, like 3a:00:00:00:12:ab:cd');
      }
      if (typeof cert.holder !== 'string' || cert.holder.trim() === '') {
        throw new EmulatorInputError('holder must be a non-empty string');
      }
      certificate = { serial: cert.serial, holder: cert.holder };
    },
    failNext(kind, count = 1, options = {}) {
      const target = options.target ?? 'token';
      if (options.serial !== undefined && (typeof options.serial !== 'string' || !SERIAL.test(options.serial) || target !== 'token')) {
        throw new EmulatorInputError('serial must be colon-separated hex, like 3a:00:00:00:12:ab:cd, and only with target token');
      }
      if (target !== 'token' && target !== 'any' && !API_ENDPOINTS.includes(target)) {
        throw new EmulatorInputError(`target must be token, any or one of ${API_ENDPOINTS.join(', ')}`);
      }
      if (!Number.isInteger(count) || count < 1 || count > 10_000) {
        throw new EmulatorInputError('count must be an integer from 1 to 10000');
      }
      if (target === 'token') {
        if (!TOKEN_FAILURE_KINDS.includes(kind as TokenFailureKind)) {
          throw new EmulatorInputError(`kind must be one of ${TOKEN_FAILURE_KINDS.join(', ')}`);
        }
        const queued = Array<TokenFailureKind>(count).fill(kind as TokenFailureKind);
        if (options.serial === undefined) failures.push(...queued);
        else failuresBySerial.set(options.serial, [...(failuresBySerial.get(options.serial) ?? []), ...queued]);
        return;
      }
      if (!API_FAILURE_KINDS.includes(kind as ApiFailureKind)) {
        throw new EmulatorInputError(`kind must be one of ${API_FAILURE_KINDS.join(', ')} for an API target`);
      }
      const ms = options.ms ?? 0;
      if (kind === 'slow' && (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0 || ms > 600_000)) {
        throw new EmulatorInputError('slow needs ms, a number of milliseconds from 1 to 600000');
      }
      const queue = apiFailures.get(target) ?? [];
      for (let i = 0; i < count; i++) queue.push({ kind: kind as ApiFailureKind, ms });
      apiFailures.set(target, queue);
    },
    advanceClock(seconds) {
      if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) {
        throw new EmulatorInputError('seconds must be a non-negative number');
      }
      clockOffsetMs += seconds * 1000;
    },
    setSpvRights(serial, cifs) {
      if (typeof serial !== 'string' || !SERIAL.test(serial)) {
        throw new EmulatorInputError('serial must be colon-separated hex, like 3a:00:00:00:12:ab:cd');
      }
      if (cifs !== null && (!Array.isArray(cifs) || !cifs.every((c) => typeof c === 'string' && CIF.test(c)))) {
        throw new EmulatorInputError('cifs must be null (all) or a list of digits-only CIFs');
      }
      efactura.setSpvRights(serial, cifs);
    },
    setUploadOutcome(o) {
      if (!UPLOAD_OUTCOMES.includes(o?.outcome)) throw new EmulatorInputError(`outcome must be one of ${UPLOAD_OUTCOMES.join(', ')}`);
      if (o.index !== undefined && typeof o.index !== 'string') throw new EmulatorInputError('index must be a string');
      if (o.processingSeconds !== undefined && !isCount(o.processingSeconds, 10_000_000)) {
        throw new EmulatorInputError('processingSeconds must be a non-negative integer');
      }
      if (o.errorMessage !== undefined && (typeof o.errorMessage !== 'string' || o.errorMessage === '')) {
        throw new EmulatorInputError('errorMessage must be a non-empty string');
      }
      if (!efactura.setUploadOutcome(o)) throw new EmulatorInputError(`No upload with index ${o.index}`);
    },
    seedMessages(input) {
      if (typeof input?.cif !== 'string' || !CIF.test(input.cif)) throw new EmulatorInputError('cif must be digits only');
      if (!SEED_MESSAGE_TYPES.includes(input.type)) throw new EmulatorInputError(`type must be one of ${SEED_MESSAGE_TYPES.join(', ')}`);
      if (input.count !== undefined && (!isCount(input.count, 20_000) || input.count < 1)) {
        throw new EmulatorInputError('count must be an integer from 1 to 20000');
      }
      for (const name of ['ageSeconds', 'spacingSeconds'] as const) {
        if (input[name] !== undefined && !isCount(input[name], 400 * 24 * 3600)) throw new EmulatorInputError(`${name} must be a non-negative integer`);
      }
      if (input.counterpartCif !== undefined && (typeof input.counterpartCif !== 'string' || !CIF.test(input.counterpartCif))) {
        throw new EmulatorInputError('counterpartCif must be digits only');
      }
      return efactura.seedMessages(input);
    },
    expireDownload(id) {
      if (typeof id !== 'string' || !efactura.expireDownload(id)) throw new EmulatorInputError(`No message with id ${String(id)}`);
    },
    setLimits(l) {
      for (const [name, value] of Object.entries(l ?? {})) {
        if (!(name in DEFAULT_LIMITS)) throw new EmulatorInputError(`Unknown limit ${name}`);
        if (name === 'xmlCallLimitAnswer') {
          if (value !== 'xml' && value !== 'text-plain-json') throw new EmulatorInputError("xmlCallLimitAnswer must be 'xml' or 'text-plain-json'");
        } else if (!isCount(value, 10_000_000)) {
          throw new EmulatorInputError(`${name} must be a non-negative integer`);
        }
      }
      efactura.setLimits(l);
    },
    setLatency(ms) {
      if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
        throw new EmulatorInputError('ms must be a non-negative number');
      }
      latencyMs = ms;
    },
    setTokenLifetimes(l) {
      for (const value of [l?.accessSeconds, l?.refreshSeconds]) {
        if (value !== undefined && !Number.isInteger(value)) {
          throw new EmulatorInputError('accessSeconds and refreshSeconds must be integers (seconds)');
        }
      }
      oauth.setLifetimes(l);
    },
    setClock(nowMs) {
      if (typeof nowMs !== 'number' || !Number.isFinite(nowMs)) throw new EmulatorInputError('nowMs must be a number (epoch milliseconds)');
      clockOffsetMs = nowMs - baseNow();
    },
    now: () => now(),
    setTokenOutage(kind) {
      if (kind !== null && !TOKEN_FAILURE_KINDS.includes(kind)) {
        throw new EmulatorInputError(`kind must be null or one of ${TOKEN_FAILURE_KINDS.join(', ')}`);
      }
      outage = kind;
    },
    clearFailures() {
      failures = [];
      failuresBySerial = new Map();
    },
    revokeCertificate(serial) {
      if (typeof serial !== 'string' || !SERIAL.test(serial)) throw new EmulatorInputError('serial must be colon-separated hex');
      oauth.revokeCertificate(serial);
    },
    refreshVerdict: (refreshToken) => oauth.refreshVerdict(refreshToken),
    setTokenBehaviour(b) {
      if (b?.refreshWindow !== undefined && b.refreshWindow !== 'rolling' && b.refreshWindow !== 'fixed') {
        throw new EmulatorInputError("refreshWindow must be 'rolling' or 'fixed'");
      }
      if (b?.maxRotations !== undefined && b.maxRotations !== null && !(Number.isInteger(b.maxRotations) && b.maxRotations >= 0)) {
        throw new EmulatorInputError('maxRotations must be a non-negative integer or null');
      }
      if (b?.format !== undefined && b.format !== 'jwt' && b.format !== 'opaque') throw new EmulatorInputError("format must be 'jwt' or 'opaque'");
      if (b?.omitRefreshToken !== undefined && typeof b.omitRefreshToken !== 'boolean') throw new EmulatorInputError('omitRefreshToken must be a boolean');
      if (b?.refusedRefreshError !== undefined && b.refusedRefreshError !== 'invalid_grant' && b.refusedRefreshError !== 'invalid_request') {
        throw new EmulatorInputError("refusedRefreshError must be 'invalid_grant' or 'invalid_request'");
      }
      oauth.setBehaviour(b);
    },
    addClient(clientId, clientSecret, redirectUris = []) {
      if (typeof clientId !== 'string' || clientId === '' || typeof clientSecret !== 'string' || clientSecret === '') {
        throw new EmulatorInputError('clientId and clientSecret must be non-empty strings');
      }
      if (!Array.isArray(redirectUris) || !redirectUris.every(isHttpUrl)) {
        throw new EmulatorInputError('redirectUris must be a list of absolute http(s) URLs');
      }
      oauth.clients.set(clientId, { secret: clientSecret, redirectUris: [...redirectUris] });
    },
    stats: () => structuredClone(stats),
    apiStats: () => structuredClone(apiStats),
    issuedTokens: () => oauth.issuedTokens(),
    spentRefreshTokens: () => oauth.spentRefreshTokens(),
    isRefreshTokenLive: (refreshToken) => oauth.isRefreshTokenLive(refreshToken),
    reset() {
      mode = startMode;
      certificate = { ...EMULATOR_CERTIFICATES[0]! };
      latencyMs = 0;
      clockOffsetMs = 0;
      failures = [];
      failuresBySerial = new Map();
      apiFailures = new Map();
      outage = null;
      stats = freshStats();
      apiStats = freshApiStats();
      oauth.clearTokens();
      efactura.reset();
      restoreClients();
    },
  };

  // ---- timers and sockets, so that close() is prompt even with hanging requests ----
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const delay = (ms: number) =>
    ms <= 0
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            timers.delete(timer);
            resolve();
          }, ms);
          timers.add(timer);
        });

  // ---- authorize ----
  type Validated = { ok: true; params: AuthorizeParams } | { ok: false; message: string };
  function validateAuthorize(query: URLSearchParams): Validated {
    for (const name of ['response_type', 'client_id', 'redirect_uri', 'token_content_type', 'state']) {
      if (query.getAll(name).length > 1) return { ok: false, message: `Parametrul ${name} este repetat.` };
    }
    const clientId = query.get('client_id');
    const redirectUri = query.get('redirect_uri');
    if (!clientId || !oauth.clients.has(clientId)) {
      return { ok: false, message: 'Aplicatia (client_id) nu este inregistrata.' };
    }
    if (!redirectUri || !oauth.redirectUriAllowed(clientId, redirectUri)) {
      return { ok: false, message: 'redirect_uri lipseste sau nu corespunde unui callback inregistrat pentru aplicatie.' };
    }
    if (query.get('response_type') !== 'code') return { ok: false, message: 'response_type trebuie sa fie code.' };
    if (query.get('token_content_type') !== 'jwt') {
      return { ok: false, message: 'token_content_type trebuie sa fie jwt (emulatorul emite doar JWT).' };
    }
    const state = query.get('state') ?? undefined;
    return {
      ok: true,
      params: { response_type: 'code', client_id: clientId, redirect_uri: redirectUri, token_content_type: 'jwt', state },
    };
  }

  const approveRedirect = (params: AuthorizeParams, cert: EmulatorCertificate) =>
    redirectReply(
      withParams(params.redirect_uri, [
        ['code', oauth.issueCode(params.client_id, params.redirect_uri, cert)],
        ['state', params.state],
      ]),
    );
  const denyRedirect = (params: AuthorizeParams) =>
    redirectReply(withParams(params.redirect_uri, [['error', 'access_denied'], ['state', params.state]]));

  const offeredCertificates = () => [certificate, ...EMULATOR_CERTIFICATES.filter((c) => c.serial !== certificate.serial)];
  const renderLogin = (params: AuthorizeParams, selectedSerial: string, error?: string) =>
    htmlReply(
      200,
      loginPage({
        params,
        certificates: offeredCertificates(),
        selectedSerial,
        confirmAction: `${OAUTH_PATH}/authorize/confirm`,
        error,
      }),
    );

  function authorize(query: URLSearchParams): Reply {
    stats.authorizeCalls += 1;
    const validated = validateAuthorize(query);
    if (!validated.ok) return htmlReply(400, errorPage(validated.message));
    if (mode === 'approve') return approveRedirect(validated.params, certificate);
    if (mode === 'deny') return denyRedirect(validated.params);
    return renderLogin(validated.params, certificate.serial);
  }

  function authorizeConfirm(form: URLSearchParams): Reply {
    const validated = validateAuthorize(form);
    if (!validated.ok) return htmlReply(400, errorPage(validated.message));
    if (form.get('action') === 'cancel') return denyRedirect(validated.params);
    const chosen = offeredCertificates().find((c) => c.serial === form.get('certificate'));
    if (!chosen) return htmlReply(400, errorPage('Certificatul selectat nu este disponibil.'));
    if (!form.get('pin')) return renderLogin(validated.params, chosen.serial, 'Introduceti PIN-ul token-ului.');
    return approveRedirect(validated.params, chosen);
  }

  // ---- token ----
  const oauthError = (body: OAuthErrorBody) => jsonReply(400, body, NO_STORE);

  function clientFrom(req: http.IncomingMessage, form: URLSearchParams): string | null {
    const header = req.headers.authorization;
    if (header !== undefined) {
      const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
      if (!match) return null;
      const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) return null;
      const [rawId, rawSecret] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
      const bodyId = form.get('client_id');
      for (const [id, secret] of [
        [rawId, rawSecret],
        [formDecode(rawId), formDecode(rawSecret)],
      ] as const) {
        if (oauth.authenticate(id, secret) && (bodyId === null || bodyId === id)) return id;
      }
      return null;
    }
    const id = form.get('client_id');
    const secret = form.get('client_secret');
    return id !== null && secret !== null && oauth.authenticate(id, secret) ? id : null;
  }

  function grant(req: http.IncomingMessage, form: URLSearchParams | null): GrantResult | Reply {
    if (form === null) return oauthError({ error: 'invalid_request', error_description: 'Expected application/x-www-form-urlencoded' });
    for (const name of ['grant_type', 'code', 'redirect_uri', 'refresh_token', 'client_id', 'client_secret']) {
      if (form.getAll(name).length > 1) return oauthError({ error: 'invalid_request', error_description: `Repeated ${name}` });
    }
    const clientId = clientFrom(req, form);
    if (clientId === null) return oauthError({ error: 'invalid_client' });
    const grantType = form.get('grant_type');
    if (!grantType) return oauthError({ error: 'invalid_request', error_description: 'Missing grant_type' });
    if (grantType === 'authorization_code') {
      const code = form.get('code');
      const redirectUri = form.get('redirect_uri');
      if (!code || !redirectUri) {
        return oauthError({ error: 'invalid_request', error_description: 'Missing code or redirect_uri' });
      }
      return oauth.exchangeCode(clientId, code, redirectUri);
    }
    if (grantType === 'refresh_token') {
      const refreshToken = form.get('refresh_token');
      if (!refreshToken) return oauthError({ error: 'invalid_request', error_description: 'Missing refresh_token' });
      return oauth.refresh(clientId, refreshToken);
    }
    return oauthError({ error: 'unsupported_grant_type' });
  }

  const tokenReply = (result: GrantResult | Reply): Reply =>
    'ok' in result ? (result.ok ? jsonReply(200, result.body, NO_STORE) : oauthError(result.body)) : result;

  function injectedReply(kind: Exclude<TokenFailureKind, 'hang' | 'drop'>, path: string): Reply {
    switch (kind) {
      case 'server_error':
        return jsonReply(500, { timestamp: new Date(now()).toISOString(), status: 500, error: 'Internal Server Error', path });
      case 'unavailable':
        return {
          status: 503,
          headers: { 'content-type': 'text/html' },
          body: '<html><head><title>503 Service Unavailable</title></head><body><h1>Service Unavailable</h1></body></html>',
        };
      case 'rate_limited':
        return jsonReply(429, { status: 429, error: 'Too Many Requests' }, { 'retry-after': '1' });
      case 'invalid_grant':
        return oauthError({ error: 'invalid_grant', error_description: 'Injected by the emulator' });
      case 'invalid_request':
        return oauthError({ error: 'invalid_request', error_description: 'Injected by the emulator' });
      case 'invalid_client':
        return oauthError({ error: 'invalid_client' });
    }
  }

  /** A failure queued for the certificate whose refresh token is presented, taken before the general queue. */
  function serialFailure(refreshToken: string | null | undefined): TokenFailureKind | undefined {
    const serial = refreshToken ? oauth.refreshTokenSerial(refreshToken) : null;
    const queue = serial === null ? undefined : failuresBySerial.get(serial);
    if (serial === null || !queue) return undefined;
    const failure = queue.shift();
    if (queue.length === 0) failuresBySerial.delete(serial);
    return failure;
  }

  async function token(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
    const { body, tooLarge } = await readBody(req, TOKEN_BODY_LIMIT);
    const isForm = /^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '');
    const form = isForm && !tooLarge ? new URLSearchParams(body.toString('utf8')) : null;
    const grantType = form?.get('grant_type');
    if (grantType === 'authorization_code' || grantType === 'refresh_token') stats.tokenCalls[grantType] += 1;
    const failure = serialFailure(grantType === 'refresh_token' ? form?.get('refresh_token') : null) ?? failures.shift() ?? outage ?? undefined;
    if (failure === 'hang') return; // the socket stays open until the client gives up or close()
    await delay(latencyMs);
    if (failure === 'drop') {
      const acted = grant(req, form); // ANAF acted (a refresh rotates)...
      if ('ok' in acted && acted.ok && acted.body.refresh_token) oauth.noteAnswerLost(acted.body.refresh_token);
      req.socket.destroy(); // ...and the answer is lost
      return;
    }
    const result = failure ? null : grant(req, form);
    if (grantType === 'refresh_token' && result && 'ok' in result && !result.ok) stats.refusedRefreshes += 1;
    send(res, failure ? injectedReply(failure, path) : tokenReply(result!));
  }

  // ---- e-Factura and the public host ----
  function takeApiFailure(endpoint: ApiEndpoint): { kind: ApiFailureKind; ms: number } | undefined {
    return apiFailures.get(endpoint)?.shift() ?? apiFailures.get('any')?.shift();
  }

  /**
   * One e-Factura or public call: counts it, applies a queued failure, then `answer` (null for an
   * unknown path, which only gets latency). `drop` lets `answer` act and loses its reply.
   */
  async function apiCall(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    endpoint: ApiEndpoint | null,
    answer: () => Reply,
  ): Promise<void> {
    const failure = endpoint ? takeApiFailure(endpoint) : undefined;
    if (endpoint) apiStats.calls[endpoint] += 1;
    if (failure?.kind === 'hang') return; // the socket stays open until the client gives up or close()
    await delay(latencyMs + (failure?.kind === 'slow' ? failure.ms : 0));
    switch (failure?.kind) {
      case 'server_error':
      case 'unavailable':
      case 'rate_limited':
        return send(res, injectedReply(failure.kind, new URL(req.url ?? '/', 'http://x').pathname));
      case 'unauthorized':
        return send(res, efactura.unauthorized());
      case 'firewall':
        return send(res, firewallPage());
      case 'text_plain_json':
      case 'garbage':
      case 'technical_error':
        return send(res, efactura.failureReply(failure.kind, endpoint!));
      case 'drop':
        answer();
        req.socket.destroy();
        return;
    }
    const reply = answer();
    if (reply.status === 429) apiStats.rateLimited += 1;
    send(res, reply);
  }

  const asEndpoint = (name: string): ApiEndpoint | null => (API_ENDPOINTS.includes(name as ApiEndpoint) ? (name as ApiEndpoint) : null);

  async function api(req: http.IncomingMessage, res: http.ServerResponse, endpoint: string, query: URLSearchParams) {
    const { body, tooLarge } = await readBody(req, efactura.maxUploadBytes);
    const known = endpoint === 'validare' || endpoint === 'transformare' ? null : asEndpoint(endpoint);
    await apiCall(req, res, known, () => {
      const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
      const holder = bearer ? oauth.accessTokenHolder(bearer) : null;
      if (holder === null) return efactura.unauthorized();
      return efactura.handle(req.method ?? 'GET', endpoint, query, body, tooLarge, { serial: holder.serial });
    });
  }

  async function publicCall(req: http.IncomingMessage, res: http.ServerResponse, env: string, rest: string) {
    const { body, tooLarge } = await readBody(req, MAX_PUBLIC_BYTES);
    const endpoint = env === 'prod' ? asEndpoint(rest.split('/')[0]!) : null;
    await apiCall(req, res, endpoint === 'validare' || endpoint === 'transformare' ? endpoint : null, () =>
      publicApi.handle(req.method ?? 'GET', env, rest, req.headers['content-type'] ?? '', body, tooLarge),
    );
  }

  // ---- admin ----
  const stateView = () => ({
    authorizeMode: mode,
    certificate,
    latencyMs,
    tokenLifetimes: oauth.lifetimes(),
    tokenBehaviour: oauth.behaviour(),
    pendingFailures: [...failures],
    pendingFailuresBySerial: Object.fromEntries([...failuresBySerial].map(([serial, q]) => [serial, [...q]])),
    pendingApiFailures: Object.fromEntries([...apiFailures].filter(([, q]) => q.length > 0).map(([t, q]) => [t, q.map((x) => x.kind)])),
    clockOffsetSeconds: clockOffsetMs / 1000,
    efactura: efactura.view(),
    tokenOutage: outage,
    clock: new Date(now()).toISOString(),
    clients: [...oauth.clients].map(([clientId, c]) => ({ clientId, redirectUris: c.redirectUris })),
    stats,
    apiStats,
    counts: oauth.counts(),
    oauthBaseUrl: `${baseUrl}${OAUTH_PATH}`,
    apiBaseUrl: `${baseUrl}${API_PATH}`,
    publicApiBaseUrl: `${baseUrl}${PUBLIC_API_PATH}`,
  });

  async function admin(req: http.IncomingMessage, action: string): Promise<Reply> {
    if (req.method === 'GET' && action === 'state') return jsonReply(200, stateView());
    if (req.method === 'GET' && action === 'stats') return jsonReply(200, { ...stats, api: apiStats });
    if (req.method !== 'POST') return jsonReply(405, { error: { code: 'METHOD_NOT_ALLOWED', message: 'Use POST' } });
    const { body, tooLarge } = await readBody(req, TOKEN_BODY_LIMIT);
    let parsed: unknown = {};
    if (!tooLarge && body.length > 0) {
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        parsed = undefined;
      }
    }
    if (tooLarge || typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      return jsonReply(400, { error: { code: 'INVALID_JSON', message: 'Body must be a JSON object' } });
    }
    const input = parsed as Record<string, unknown>;
    try {
      switch (action) {
        case 'authorize-mode':
          control.setAuthorizeMode(input.mode as AuthorizeMode);
          break;
        case 'certificate':
          control.setCertificate(input as unknown as EmulatorCertificate);
          break;
        case 'fail-next':
          control.failNext(input.kind as TokenFailureKind, (input.count as number | undefined) ?? 1, {
            target: input.target as FailureTarget | undefined,
            ms: input.ms as number | undefined,
            serial: input.serial as string | undefined,
          });
          break;
        case 'clock':
          // {advanceSeconds} or {advanceMs} moves the emulator's time forward; {nowMs} sets it.
          if (input.advanceSeconds !== undefined) control.advanceClock(input.advanceSeconds as number);
          else control.setClock(typeof input.advanceMs === 'number' ? now() + input.advanceMs : (input.nowMs as number));
          break;
        case 'spv-rights':
          control.setSpvRights((input.serial as string | undefined) ?? certificate.serial, input.cifs as string[] | null);
          break;
        case 'upload-outcome':
          control.setUploadOutcome(input as unknown as Parameters<EmulatorControl['setUploadOutcome']>[0]);
          break;
        case 'messages':
          return jsonReply(200, { messages: control.seedMessages(input as unknown as Parameters<EmulatorControl['seedMessages']>[0]) });
        case 'message-expired':
          control.expireDownload(input.id as string);
          break;
        case 'limits':
          control.setLimits(input as Parameters<EmulatorControl['setLimits']>[0]);
          break;
        case 'latency':
          control.setLatency(input.ms as number);
          break;
        case 'token-lifetimes':
          control.setTokenLifetimes(input as { accessSeconds?: number; refreshSeconds?: number });
          break;
        case 'token-outage':
          control.setTokenOutage((input.kind ?? null) as TokenFailureKind | null);
          break;
        case 'revoke-certificate':
          control.revokeCertificate(input.serial as string);
          break;
        case 'token-behaviour':
          control.setTokenBehaviour(input as Parameters<EmulatorControl['setTokenBehaviour']>[0]);
          break;
        case 'clients':
          control.addClient(
            input.clientId as string,
            input.clientSecret as string,
            (input.redirectUris as string[] | undefined) ?? [],
          );
          break;
        case 'reset':
          control.reset();
          break;
        default:
          return jsonReply(404, { error: { code: 'NOT_FOUND', message: `No admin action ${action}` } });
      }
    } catch (error) {
      if (error instanceof EmulatorInputError) {
        return jsonReply(400, { error: { code: 'VALIDATION_ERROR', message: error.message } });
      }
      throw error;
    }
    return jsonReply(200, stateView());
  }

  // ---- routing ----
  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator.invalid');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (path === `${OAUTH_PATH}/authorize`) {
      if (method !== 'GET') return send(res, htmlReply(405, errorPage('Metoda nu este permisa.')));
      return send(res, authorize(url.searchParams));
    }
    if (path === `${OAUTH_PATH}/authorize/confirm`) {
      if (method !== 'POST') return send(res, htmlReply(405, errorPage('Metoda nu este permisa.')));
      const { body } = await readBody(req, TOKEN_BODY_LIMIT);
      return send(res, authorizeConfirm(new URLSearchParams(body.toString('utf8'))));
    }
    if (path === `${OAUTH_PATH}/token`) {
      if (method !== 'POST') {
        return send(res, jsonReply(405, { error: 'invalid_request', error_description: 'Use POST' }, { allow: 'POST' }));
      }
      return token(req, res, path);
    }
    const apiMatch = /^\/(?:prod|test)\/FCTEL\/rest\/([A-Za-z0-9/]+)$/.exec(path);
    if (apiMatch) return api(req, res, apiMatch[1]!, url.searchParams);
    const publicMatch = /^\/public\/(prod|test)\/FCTEL\/rest\/([A-Za-z0-9/]+)$/.exec(path);
    if (publicMatch) return publicCall(req, res, publicMatch[1]!, publicMatch[2]!);
    if (path.startsWith(`${ADMIN_PATH}/`)) return send(res, await admin(req, path.slice(ADMIN_PATH.length + 1)));
    if (path === '/' && method === 'GET') {
      return send(
        res,
        jsonReply(200, {
          name: 'ANAF emulator (local, fake)',
          oauthBaseUrl: `${baseUrl}${OAUTH_PATH}`,
          apiBaseUrl: `${baseUrl}${API_PATH}`,
          publicApiBaseUrl: `${baseUrl}${PUBLIC_API_PATH}`,
          state: `${baseUrl}${ADMIN_PATH}/state`,
        }),
      );
    }
    send(res, jsonReply(404, { status: 404, error: 'Not Found' }));
  }

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    res.on('finish', () => log(`${req.method} ${path} ${res.statusCode}`));
    route(req, res).catch((error: unknown) => {
      log(`${req.method} ${path} failed: ${error instanceof Error ? error.name : 'error'}`);
      if (!res.headersSent) send(res, jsonReply(500, { status: 500, error: 'Internal Server Error' }));
      else res.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1' : address.address;
  const baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;

  let closing: Promise<void> | undefined;
  return {
    url: baseUrl,
    oauthBaseUrl: `${baseUrl}${OAUTH_PATH}`,
    apiBaseUrl: `${baseUrl}${API_PATH}`,
    publicApiBaseUrl: `${baseUrl}${PUBLIC_API_PATH}`,
    control,
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

function isHttpUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
