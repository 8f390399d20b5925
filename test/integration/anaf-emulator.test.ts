import http from 'node:http';
import { readFileSync } from 'node:fs';
import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest';
import {
  EMULATOR_DEFAULT_CLIENT,
  startAnafEmulator,
  type AnafEmulator,
  type TokenFailureKind,
} from '../../local/anaf-emulator/server.js';

const REDIRECT_URI = 'https://localhost/v1/oauth/callback';
const CIF = '8000000000';
const fixture = (name: string) => readFileSync(new URL(`../support/fixtures/anaf/${name}`, import.meta.url), 'utf8');

interface TokenBody {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
}

const claimsOf = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;

let emulator: AnafEmulator;
let clockOffsetMs = 0;

beforeAll(async () => {
  emulator = await startAnafEmulator({
    now: () => Date.now() + clockOffsetMs,
    clients: { 'erp-client': 'erp-secret' },
  });
});
afterAll(async () => {
  await emulator.close();
});
beforeEach(() => {
  emulator.control.reset();
  clockOffsetMs = 0;
});

function authorizeUrl(overrides: Record<string, string | undefined> = {}): string {
  const params: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: EMULATOR_DEFAULT_CLIENT.clientId,
    redirect_uri: REDIRECT_URI,
    token_content_type: 'jwt',
    state: 'st-1',
    ...overrides,
  };
  const query = new URLSearchParams(
    Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined),
  );
  return `${emulator.oauthBaseUrl}/authorize?${query}`;
}

const authorize = (overrides: Record<string, string | undefined> = {}) =>
  fetch(authorizeUrl(overrides), { redirect: 'manual' });

function redirectParams(response: Response): URLSearchParams {
  expect(response.status).toBe(302);
  return new URL(response.headers.get('location')!).searchParams;
}

async function getCode(overrides: Record<string, string | undefined> = {}): Promise<string> {
  return redirectParams(await authorize(overrides)).get('code')!;
}

type ClientAuth = 'basic' | 'body' | 'none';
function tokenRequest(
  form: Record<string, string>,
  auth: ClientAuth = 'basic',
  client: { id: string; secret: string } = { id: EMULATOR_DEFAULT_CLIENT.clientId, secret: EMULATOR_DEFAULT_CLIENT.clientSecret },
  init: RequestInit = {},
): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const body = new URLSearchParams(form);
  if (auth === 'basic') headers.authorization = `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`;
  if (auth === 'body') {
    body.set('client_id', client.id);
    body.set('client_secret', client.secret);
  }
  return fetch(`${emulator.oauthBaseUrl}/token`, { method: 'POST', headers, body, ...init });
}

const exchange = (code: string, redirectUri = REDIRECT_URI, auth: ClientAuth = 'basic') =>
  tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, token_content_type: 'jwt' }, auth);
const refresh = (refreshToken: string, init: RequestInit = {}) =>
  tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken }, 'basic', undefined, init);

async function connect(): Promise<TokenBody> {
  const response = await exchange(await getCode());
  expect(response.status).toBe(200);
  return (await response.json()) as TokenBody;
}

describe('authorize', () => {
  it('approves with a redirect carrying the code and the state verbatim', async () => {
    const params = redirectParams(await authorize({ state: 'abc.DEF_-~' }));
    expect(params.get('code')).toMatch(/^[0-9a-f]{24}=$/);
    expect(params.get('state')).toBe('abc.DEF_-~');
  });

  it('keeps a 300-character state with reserved characters intact', async () => {
    const state = `${'x'.repeat(280)}+/= &?#%é.-_`.padEnd(300, 'z');
    expect(state).toHaveLength(300);
    expect(redirectParams(await authorize({ state })).get('state')).toBe(state);
  });

  it('omits state when none was sent and keeps the redirect URI own query', async () => {
    const params = redirectParams(await authorize({ state: undefined, redirect_uri: 'https://localhost/cb?tenant=t1' }));
    expect(params.has('state')).toBe(false);
    expect(params.get('tenant')).toBe('t1');
  });

  it('denies with access_denied and the state', async () => {
    emulator.control.setAuthorizeMode('deny');
    const params = redirectParams(await authorize({ state: 'st-deny' }));
    expect(params.get('error')).toBe('access_denied');
    expect(params.get('state')).toBe('st-deny');
    expect(params.has('code')).toBe(false);
  });

  it.each([
    ['unknown client', { client_id: 'nobody' }],
    ['missing client', { client_id: undefined }],
    ['wrong response_type', { response_type: 'token' }],
    ['missing redirect_uri', { redirect_uri: undefined }],
    ['non-http redirect_uri', { redirect_uri: 'ftp://localhost/cb' }],
    ['missing token_content_type', { token_content_type: undefined }],
  ])('answers 400 HTML without redirect for %s', async (_name, overrides) => {
    const response = await authorize(overrides);
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(response.headers.get('content-type')).toMatch(/text\/html/);
  });

  it('requires an exact match when the client registered redirect URIs', async () => {
    emulator.control.addClient('strict-client', 'strict-secret', ['https://erp.example/cb']);
    expect((await authorize({ client_id: 'strict-client', redirect_uri: 'https://erp.example/cb/' })).status).toBe(400);
    expect((await authorize({ client_id: 'strict-client', redirect_uri: 'https://erp.example/cb' })).status).toBe(302);
  });

  describe('interactive', () => {
    beforeEach(() => emulator.control.setAuthorizeMode('interactive'));

    async function confirm(form: Record<string, string>): Promise<Response> {
      return fetch(`${emulator.oauthBaseUrl}/authorize/confirm`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          response_type: 'code',
          client_id: EMULATOR_DEFAULT_CLIENT.clientId,
          redirect_uri: REDIRECT_URI,
          token_content_type: 'jwt',
          state: 'st-i',
          ...form,
        }),
      });
    }

    it('shows the certificate and PIN form with stable ids and the parameters in hidden fields', async () => {
      const response = await authorize({ state: 'a"<b>' });
      expect(response.status).toBe(200);
      const html = await response.text();
      for (const id of ['certificate', 'pin', 'approve', 'cancel']) expect(html).toContain(`id="${id}"`);
      expect(html).toContain('type="password"');
      expect(html).toContain('Autentificare');
      expect(html).toContain('Renunță');
      expect(html).toContain('action="/anaf-oauth2/v1/authorize/confirm"');
      expect(html).toContain('name="state" value="a&quot;&lt;b&gt;"');
      expect(html.match(/<option /g)?.length).toBeGreaterThanOrEqual(2);
    });

    it('approves with the chosen certificate and any non-empty PIN', async () => {
      const params = redirectParams(await confirm({ certificate: '3a:00:00:00:34:ef:01', pin: '1234', action: 'approve' }));
      expect(params.get('state')).toBe('st-i');
      const tokens = (await (await exchange(params.get('code')!)).json()) as TokenBody;
      expect(claimsOf(tokens.access_token).serial).toBe('3a:00:00:00:34:ef:01');
    });

    it('asks again for an empty PIN, and cancel denies', async () => {
      const empty = await confirm({ certificate: '3a:00:00:00:12:ab:cd', pin: '', action: 'approve' });
      expect(empty.status).toBe(200);
      expect(await empty.text()).toContain('id="error"');
      const cancelled = redirectParams(await confirm({ certificate: '3a:00:00:00:12:ab:cd', action: 'cancel' }));
      expect(cancelled.get('error')).toBe('access_denied');
      expect(cancelled.get('state')).toBe('st-i');
    });
  });
});

describe('token: authorization_code', () => {
  it('exchanges a code (Basic auth) for a JWT pair with ANAF claims', async () => {
    const before = Math.floor(Date.now() / 1000);
    const response = await exchange(await getCode());
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = (await response.json()) as TokenBody;
    expect(body).toEqual({
      access_token: expect.any(String),
      refresh_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 90 * 24 * 3600,
    });
    const header = JSON.parse(Buffer.from(body.access_token.split('.')[0]!, 'base64url').toString('utf8'));
    expect(header).toEqual({ alg: 'RS512', kid: 'emulator' });
    expect(Buffer.from(body.access_token.split('.')[2]!, 'base64url')).toHaveLength(32);
    const access = claimsOf(body.access_token);
    expect(access).toMatchObject({
      iss: 'https://logincert.anaf.ro',
      clientappid: EMULATOR_DEFAULT_CLIENT.clientId,
      serial: '3a:00:00:00:12:ab:cd',
      sub: '3a00000012abcd',
      token_use: 'access',
      role: expect.any(String),
      jti: expect.any(String),
    });
    expect(access.exp as number).toBeGreaterThanOrEqual(before + 90 * 24 * 3600);
    const refreshClaims = claimsOf(body.refresh_token);
    expect(refreshClaims.token_use).toBe('refresh');
    expect(refreshClaims.exp as number).toBeGreaterThanOrEqual(before + 365 * 24 * 3600);
    expect(emulator.control.issuedTokens()).toEqual([body.access_token, body.refresh_token]);
    expect(emulator.control.isRefreshTokenLive(body.refresh_token)).toBe(true);
  });

  it('accepts client credentials in the body', async () => {
    expect((await exchange(await getCode(), REDIRECT_URI, 'body')).status).toBe(200);
  });

  it('uses the certificate set by setCertificate', async () => {
    emulator.control.setCertificate({ serial: '7f:01:02', holder: 'TEST HOLDER' });
    const body = await connect();
    expect(claimsOf(body.access_token)).toMatchObject({ serial: '7f:01:02', sub: '7f0102' });
  });

  it('accepts a code once', async () => {
    const code = await getCode();
    expect((await exchange(code)).status).toBe(200);
    const again = await exchange(code);
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('rejects a code after 60 seconds', async () => {
    const code = await getCode();
    clockOffsetMs = 61_000;
    const response = await exchange(code);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('rejects a redirect_uri different from the one given at authorize', async () => {
    const code = await getCode();
    const response = await exchange(code, `${REDIRECT_URI}/other`);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('rejects a code issued to another client', async () => {
    const code = await getCode({ client_id: 'erp-client' });
    const response = await exchange(code);
    expect(await response.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('answers invalid_client (and only that) for a wrong or missing client', async () => {
    const wrong = await tokenRequest(
      { grant_type: 'authorization_code', code: await getCode(), redirect_uri: REDIRECT_URI },
      'basic',
      { id: EMULATOR_DEFAULT_CLIENT.clientId, secret: 'wrong' },
    );
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toEqual(JSON.parse(fixture('token-error-invalid_client.PARTIAL.json')));
    const missing = await tokenRequest({ grant_type: 'refresh_token', refresh_token: 'x' }, 'none');
    expect(await missing.json()).toEqual({ error: 'invalid_client' });
  });

  it('answers invalid_request and unsupported_grant_type', async () => {
    const missingCode = await tokenRequest({ grant_type: 'authorization_code', redirect_uri: REDIRECT_URI });
    expect(missingCode.status).toBe(400);
    expect(await missingCode.json()).toMatchObject({ error: 'invalid_request' });
    const noGrant = await tokenRequest({});
    expect(await noGrant.json()).toMatchObject({ error: 'invalid_request' });
    const password = await tokenRequest({ grant_type: 'password' });
    expect(await password.json()).toEqual({ error: 'unsupported_grant_type' });
  });
});

describe('token: refresh_token', () => {
  it('rotates both tokens and spends the old refresh token', async () => {
    const first = await connect();
    const response = await refresh(first.refresh_token);
    expect(response.status).toBe(200);
    const second = (await response.json()) as TokenBody;
    expect(second.access_token).not.toBe(first.access_token);
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(claimsOf(second.access_token).serial).toBe('3a:00:00:00:12:ab:cd');
    expect(emulator.control.isRefreshTokenLive(first.refresh_token)).toBe(false);
    expect(emulator.control.isRefreshTokenLive(second.refresh_token)).toBe(true);
    expect(emulator.control.spentRefreshTokens()).toEqual([first.refresh_token]);
    expect(new Set(emulator.control.issuedTokens()).size).toBe(4);

    const replay = await refresh(first.refresh_token);
    expect(replay.status).toBe(400);
    expect(await replay.json()).toMatchObject({ error: 'invalid_grant' });
    expect(emulator.control.isRefreshTokenLive(second.refresh_token)).toBe(true);
    expect(emulator.control.stats()).toEqual({
      tokenCalls: { authorization_code: 1, refresh_token: 2 },
      refusedRefreshes: 1,
      authorizeCalls: 1,
    });
  });

  it('lets one of two concurrent refreshes of the same token win', async () => {
    const { refresh_token } = await connect();
    const statuses = (await Promise.all([refresh(refresh_token), refresh(refresh_token)])).map((r) => r.status);
    expect(statuses.sort()).toEqual([200, 400]);
  });

  it('rejects an expired refresh token and one of another client', async () => {
    emulator.control.setTokenLifetimes({ accessSeconds: 5, refreshSeconds: 10 });
    const body = await connect();
    expect(body.expires_in).toBe(5);
    const other = await tokenRequest({ grant_type: 'refresh_token', refresh_token: body.refresh_token }, 'basic', {
      id: 'erp-client',
      secret: 'erp-secret',
    });
    expect(await other.json()).toMatchObject({ error: 'invalid_grant' });
    clockOffsetMs = 11_000;
    expect(emulator.control.isRefreshTokenLive(body.refresh_token)).toBe(false);
    expect(await (await refresh(body.refresh_token)).json()).toMatchObject({ error: 'invalid_grant' });
  });
});

describe('failure injection', () => {
  it.each<[TokenFailureKind, number, Record<string, unknown> | null]>([
    ['server_error', 500, null],
    ['unavailable', 503, null],
    ['rate_limited', 429, null],
    ['invalid_grant', 400, { error: 'invalid_grant' }],
    ['invalid_client', 400, { error: 'invalid_client' }],
  ])('%s answers %i without rotating, then the token works again', async (kind, status, body) => {
    const { refresh_token } = await connect();
    emulator.control.failNext(kind);
    const failed = await refresh(refresh_token);
    expect(failed.status).toBe(status);
    if (kind === 'rate_limited') expect(failed.headers.get('retry-after')).toBe('1');
    if (body) expect(await failed.json()).toMatchObject(body);
    else await failed.arrayBuffer();
    expect(emulator.control.isRefreshTokenLive(refresh_token)).toBe(true);
    expect((await refresh(refresh_token)).status).toBe(200);
  });

  it('fails the next count calls', async () => {
    const { refresh_token } = await connect();
    emulator.control.failNext('unavailable', 2);
    expect((await refresh(refresh_token)).status).toBe(503);
    expect((await refresh(refresh_token)).status).toBe(503);
    expect((await refresh(refresh_token)).status).toBe(200);
  });

  it('drop: rotates, then loses the answer', async () => {
    const { refresh_token } = await connect();
    emulator.control.failNext('drop');
    await expect(refresh(refresh_token)).rejects.toThrow();
    expect(emulator.control.isRefreshTokenLive(refresh_token)).toBe(false);
    expect(emulator.control.spentRefreshTokens()).toEqual([refresh_token]);
    expect(emulator.control.issuedTokens()).toHaveLength(4);
    expect(await (await refresh(refresh_token)).json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('hang: the client times out, nothing rotates, and close() is still prompt', async () => {
    const own = await startAnafEmulator();
    const code = redirectParams(
      await fetch(authorizeUrl().replace(emulator.oauthBaseUrl, own.oauthBaseUrl), { redirect: 'manual' }),
    ).get('code')!;
    own.control.failNext('hang', 2);
    const timedOut = fetch(`${own.oauthBaseUrl}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT_URI,
        client_id: EMULATOR_DEFAULT_CLIENT.clientId,
        client_secret: EMULATOR_DEFAULT_CLIENT.clientSecret,
      }),
      signal: AbortSignal.timeout(150),
    });
    await expect(timedOut).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(own.control.issuedTokens()).toEqual([]);

    // A client that never gives up: only close() ends its socket.
    const pending = new Promise<string>((resolve) => {
      const req = http.request(`${own.oauthBaseUrl}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      req.on('response', () => resolve('answered'));
      req.on('error', (error) => resolve(error.message));
      req.end('grant_type=refresh_token&refresh_token=x');
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    await own.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await pending).toMatch(/socket hang up|ECONNRESET/);
  });

  it('latency delays token answers', async () => {
    const { refresh_token } = await connect();
    emulator.control.setLatency(250);
    const started = Date.now();
    expect((await refresh(refresh_token)).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
  });
});

describe('e-Factura API', () => {
  const api = (path: string, token?: string, init: RequestInit = {}, base = emulator.apiBaseUrl) =>
    fetch(`${base}/${path}`, {
      ...init,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers as Record<string, string>) },
    });

  it('requires a live bearer token issued by the emulator', async () => {
    const none = await api(`listaMesajeFactura?zile=1&cif=${CIF}`);
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ status: 401, error: 'Unauthorized' });
    expect((await api(`listaMesajeFactura?zile=1&cif=${CIF}`, 'forged.jwt.value')).status).toBe(401);

    emulator.control.setTokenLifetimes({ accessSeconds: 60 });
    const { access_token } = await connect();
    expect((await api(`listaMesajeFactura?zile=1&cif=${CIF}`, access_token)).status).toBe(200);
    clockOffsetMs = 61_000;
    expect((await api(`listaMesajeFactura?zile=1&cif=${CIF}`, access_token)).status).toBe(401);
  });

  it('lists messages with ANAF shapes, on prod and test bases', async () => {
    const { access_token } = await connect();
    emulator.control.seedMessages({ cif: '123456', type: 'invoice-received', count: 2 });
    const response = await api(`listaMesajeFactura?zile=5&cif=123456`, access_token);
    const body = (await response.json()) as { mesaje: { cif: string }[]; cui: string; titlu: string };
    expect(body.cui).toBe('123456');
    expect(body.mesaje.length).toBeGreaterThan(0);
    expect(body.mesaje.every((m) => m.cif === '123456')).toBe(true);
    expect(body.titlu).toBe('Lista Mesaje disponibile din ultimele 5 zile');

    const testBase = emulator.apiBaseUrl.replace('/prod/', '/test/');
    const ro = await api(`listaMesajeFactura?zile=5&cif=RO123456`, access_token, {}, testBase);
    expect(ro.status).toBe(200);
    expect(await ro.json()).toMatchObject({ eroare: expect.stringContaining('RO123456'), titlu: 'Lista Mesaje' });
    expect(await (await api(`listaMesajeFactura?zile=61&cif=${CIF}`, access_token)).json()).toEqual(
      JSON.parse(fixture('lista-mesaje-eroare-zile.json')),
    );
    expect((await api(`listaMesajeFactura?cif=${CIF}`, access_token)).status).toBe(400);
  });

  it('uploads, reports the state and serves the download as a ZIP', async () => {
    const { access_token } = await connect();
    const uploaded = await api(`upload?standard=UBL&cif=${CIF}`, access_token, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '<Invoice/>',
    });
    const uploadXml = await uploaded.text();
    expect(uploadXml).toContain('ExecutionStatus="0"');
    const index = /index_incarcare="(\d+)"/.exec(uploadXml)![1]!;

    const stare = await (await api(`stareMesaj?id_incarcare=${index}`, access_token)).text();
    expect(stare).toContain('stare="ok"');
    const downloadId = /id_descarcare="(\d+)"/.exec(stare)![1]!;
    expect(await (await api(`stareMesaj?id_incarcare=1`, access_token)).text()).toContain('Nu exista factura');

    const zip = await api(`descarcare?id=${downloadId}`, access_token);
    expect(zip.headers.get('content-type')).toBe('application/zip');
    const bytes = Buffer.from(await zip.arrayBuffer());
    expect(bytes.subarray(0, 2).toString()).toBe('PK');
    expect(bytes.includes(Buffer.from(`${index}.xml`))).toBe(true);
    expect(await (await api('descarcare?id=999', access_token)).json()).toMatchObject({ titlu: 'Descarcare mesaj' });

    const listed = (await (await api(`listaMesajeFactura?zile=1&cif=${CIF}`, access_token)).json()) as {
      mesaje: { id: string }[];
    };
    expect(listed.mesaje.map((m) => m.id)).toContain(downloadId);
  });
});

describe('admin API', () => {
  const post = (action: string, body: unknown) =>
    fetch(`${emulator.url}/__emulator/${action}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('mirrors the control and never shows tokens', async () => {
    expect((await post('authorize-mode', { mode: 'deny' })).status).toBe(200);
    expect(redirectParams(await authorize()).get('error')).toBe('access_denied');
    await post('authorize-mode', { mode: 'approve' });

    await post('certificate', { serial: '0a:0b:0c', holder: 'ADMIN HOLDER' });
    await post('token-lifetimes', { accessSeconds: 120 });
    await post('clients', { clientId: 'admin-client', clientSecret: 'admin-secret', redirectUris: [REDIRECT_URI] });
    const code = await getCode({ client_id: 'admin-client' });
    const issued = await tokenRequest(
      { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI },
      'basic',
      { id: 'admin-client', secret: 'admin-secret' },
    );
    const tokens = (await issued.json()) as TokenBody;
    expect(tokens.expires_in).toBe(120);
    expect(claimsOf(tokens.access_token)).toMatchObject({ serial: '0a:0b:0c', clientappid: 'admin-client' });

    await post('fail-next', { kind: 'unavailable', count: 1 });
    await post('latency', { ms: 10 });
    const stateResponse = await fetch(`${emulator.url}/__emulator/state`);
    const stateText = await stateResponse.text();
    for (const token of emulator.control.issuedTokens()) expect(stateText).not.toContain(token);
    expect(stateText).not.toContain('admin-secret');
    expect(JSON.parse(stateText)).toMatchObject({
      authorizeMode: 'approve',
      certificate: { serial: '0a:0b:0c' },
      latencyMs: 10,
      pendingFailures: ['unavailable'],
      tokenLifetimes: { accessSeconds: 120 },
      counts: { issuedTokens: 2 },
      stats: { tokenCalls: { authorization_code: 1, refresh_token: 0 }, authorizeCalls: 2 },
    });
    expect((await refresh(tokens.refresh_token)).status).toBe(503);

    const reset = (await (await post('reset', {})).json()) as Record<string, unknown>;
    expect(reset).toMatchObject({ authorizeMode: 'approve', latencyMs: 0, pendingFailures: [], counts: { issuedTokens: 0 } });
    expect((reset.clients as { clientId: string }[]).map((c) => c.clientId)).toEqual([
      EMULATOR_DEFAULT_CLIENT.clientId,
      'erp-client',
    ]);
  });

  it('rejects bad input with 400', async () => {
    expect((await post('authorize-mode', { mode: 'maybe' })).status).toBe(400);
    expect((await post('fail-next', { kind: 'explode' })).status).toBe(400);
    expect((await post('certificate', { serial: 'not hex', holder: 'x' })).status).toBe(400);
    expect((await post('latency', { ms: -1 })).status).toBe(400);
    const notJson = await fetch(`${emulator.url}/__emulator/latency`, { method: 'POST', body: '{' });
    expect(notJson.status).toBe(400);
  });
});
