import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readTokenClaims } from '../../shared/domain/jwt.js';
import { CUIS, EMULATOR_DEFAULT_CLIENT, connect, follow, pairObtainedByHand, setupTenant, startTestStack } from '../support/stack.js';
import { hashSessionId } from '../../shared/domain/state.js';
import { getRuntime } from '../../shared/runtime/runtime.js';
import { ALL_ADAPTERS } from '../../shared/runtime/adapters/index.js';
import { stored, tapBus, type BusEvent } from '../support/refresh-helpers.js';

type Stack = Awaited<ReturnType<typeof startTestStack>>;
let stack: Stack;
let n = 0;
/** A fresh tenant per test keeps tests independent on one moto server. */
const tenant = () => `t${++n}-${Date.now().toString(36)}`;

beforeAll(async () => {
  stack = await startTestStack({ RETURN_URL_ALLOWLIST: 'https://erp.example.com' });
});
afterAll(async () => {
  await stack?.stop();
});
beforeEach(() => {
  stack.emulator!.control.reset();
});

describe('connect flow end to end (moto + emulator over HTTP)', () => {
  it('connects a company: authorize → ANAF → callback → stored token, linked company, result page', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0], CUIS[1]]);
    const session = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis: [`RO ${CUIS[0]}`, CUIS[1]] });
    expect(session.status).toBe(201);
    expect(session.body.authorizeUrl).toMatch(/\/v1\/oauth\/authorize\?session=cs_/);

    const [authorize, anaf, callback] = await follow(session.body.authorizeUrl);
    expect(authorize!.status).toBe(302);
    const anafUrl = new URL(authorize!.headers.get('location')!);
    expect(anafUrl.pathname).toBe('/anaf-oauth2/v1/authorize');
    expect([...anafUrl.searchParams.keys()].sort()).toEqual(['client_id', 'redirect_uri', 'response_type', 'state', 'token_content_type']);
    expect(anafUrl.searchParams.get('response_type')).toBe('code');
    expect(anafUrl.searchParams.get('token_content_type')).toBe('jwt');
    expect(anafUrl.searchParams.get('client_id')).toBe(EMULATOR_DEFAULT_CLIENT.clientId);
    expect(anafUrl.searchParams.get('redirect_uri')).toMatch(/\/v1\/oauth\/callback$/);
    expect(anaf!.status).toBe(302);
    expect(callback!.status).toBe(200);
    const page = await callback!.text();
    expect(page).toContain('Conectare reușită');
    expect(page).toContain('Connected');
    expect(page).toContain(`CUI ${CUIS[0]}`);
    expect(page).not.toMatch(/eyJ/);
    expect(stack.emulator!.control.stats().tokenCalls.authorization_code).toBe(1);

    const companies = await stack.api.get(`/v1/tenants/${t}/companies`);
    expect(companies.body.companies).toHaveLength(2);
    const tokenId = companies.body.companies[0].tokenId;
    expect(tokenId).toMatch(/^tok_/);
    for (const c of companies.body.companies) {
      expect(c).toMatchObject({ tokenId, status: 'active' });
      expect(Date.parse(c.accessExpiresAt)).toBeGreaterThan(Date.now() + 89 * 86_400_000);
      expect(Date.parse(c.refreshExpiresAt)).toBeGreaterThan(Date.now() + 364 * 86_400_000);
    }
    const token = await stack.api.get(`/v1/tenants/${t}/tokens/${tokenId}`);
    expect(token.body).toMatchObject({ tokenId, status: 'active', serial: expect.stringMatching(/:/), cuis: [CUIS[0], CUIS[1]].sort() });
    expect(JSON.stringify(token.body)).not.toMatch(/eyJ/);

    const access = await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[1]}/access-token`);
    expect(access.status).toBe(200);
    expect(access.body.tokenId).toBe(tokenId);
    expect(readTokenClaims(access.body.accessToken)?.clientAppId).toBe(
      EMULATOR_DEFAULT_CLIENT.clientId,
    );
    expect(access.body.expiresAt).toBe(token.body.accessExpiresAt);
  });

  it("the tenant's displayName: PUT stores it, GET answers it, the result page names it with the companies' names; a PUT without it clears it", async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0]]);
    expect((await stack.api.get(`/v1/tenants/${t}/anaf-client`)).body.displayName).toBeNull();
    const put = await stack.api.put(`/v1/tenants/${t}/anaf-client`, { ...EMULATOR_DEFAULT_CLIENT, displayName: '  Contabilitate Plus ERP ' });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ clientId: EMULATOR_DEFAULT_CLIENT.clientId, redirectUri: expect.any(String), displayName: 'Contabilitate Plus ERP', anafEnvironment: 'prod', updatedAt: expect.any(String) });
    expect(JSON.stringify(put.body)).not.toContain(EMULATOR_DEFAULT_CLIENT.clientSecret);
    expect((await stack.api.get(`/v1/tenants/${t}/anaf-client`)).body).toMatchObject({ displayName: 'Contabilitate Plus ERP' });
    await stack.api.put(`/v1/tenants/${t}/companies/${CUIS[0]}`, { name: 'Exemplu Distribuție SRL' });

    const { hops } = await connect(stack.api, t, [CUIS[0]]);
    const page = await hops[2]!.text();
    expect(page).toContain('Cererea de conectare la e-Factura a venit de la Contabilitate Plus ERP.');
    expect(page).toContain('Firma de mai jos este acum conectată');
    expect(page).toContain('<span class="name">Exemplu Distribuție SRL</span> — <span class="cui">CUI 14399840</span>');

    expect((await stack.api.put(`/v1/tenants/${t}/anaf-client`, { ...EMULATOR_DEFAULT_CLIENT })).body.displayName).toBeNull();
  });

  it('redirects to an allowed returnUrl with status=connected&tokenId', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[2]]);
    const { hops, tokenId } = await connect(stack.api, t, [CUIS[2]], 'https://erp.example.com/anaf/done?x=1');
    const last = new URL(hops[2]!.headers.get('location')!);
    expect(hops[2]!.status).toBe(302);
    expect(last.origin).toBe('https://erp.example.com');
    expect(last.searchParams.get('x')).toBe('1');
    expect(last.searchParams.get('status')).toBe('connected');
    expect(last.searchParams.get('tokenId')).toBe(tokenId);
  });

  it('a second company links to an existing token without a new login', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0], CUIS[3]]);
    const { tokenId } = await connect(stack.api, t, [CUIS[0]]);
    const linked = await stack.api.put(`/v1/tenants/${t}/companies/${CUIS[3]}`, { tokenId });
    expect(linked.status).toBe(200);
    expect(linked.body).toMatchObject({ cui: CUIS[3], tokenId, status: 'active', name: `Company ${CUIS[3]}` });
    expect(stack.emulator!.control.stats().tokenCalls.authorization_code).toBe(1);
    const token = await stack.api.get(`/v1/tenants/${t}/tokens/${tokenId}`);
    expect(token.body.cuis).toEqual([CUIS[0], CUIS[3]].sort());
    const a = await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[0]}/access-token`);
    const b = await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[3]}/access-token`);
    expect(a.body.accessToken).toBe(b.body.accessToken);
  });

  it('re-authorization by the same certificate serial updates the token and keeps its links', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0], CUIS[1]]);
    const first = await connect(stack.api, t, [CUIS[0]]);
    const before = await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[0]}/access-token`);
    const second = await connect(stack.api, t, [CUIS[1]]);
    expect(second.tokenId).toBe(first.tokenId);
    const tokens = await stack.api.get(`/v1/tenants/${t}/tokens`);
    expect(tokens.body.tokens).toHaveLength(1);
    expect(tokens.body.tokens[0].cuis).toEqual([CUIS[0], CUIS[1]].sort());
    const after = await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[0]}/access-token`);
    expect(after.body.accessToken).not.toBe(before.body.accessToken);

    stack.emulator!.control.setCertificate({ serial: '3a:00:00:00:99:99:99', holder: 'Alt Contabil' });
    const third = await connect(stack.api, t, [CUIS[1]]);
    expect(third.tokenId).not.toBe(first.tokenId);
    const all = await stack.api.get(`/v1/tenants/${t}/tokens`);
    expect(all.body.tokens).toHaveLength(2);
    const firstToken = all.body.tokens.find((x: any) => x.tokenId === first.tokenId);
    expect(firstToken.cuis).toEqual([CUIS[0]]);
  });

  it('a session can be reopened after access_denied, then is used up by its first success', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0]]);
    const session = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[0]] });
    stack.emulator!.control.setAuthorizeMode('deny');
    const denied = await follow(session.body.authorizeUrl);
    expect(denied[2]!.status).toBe(400);
    const deniedPage = await denied[2]!.text();
    expect(deniedPage).toContain('tokenul USB');
    expect(deniedPage).toContain('ACCESS_DENIED');
    expect((await stack.api.get(`/v1/tenants/${t}/tokens`)).body.tokens).toHaveLength(0);

    stack.emulator!.control.setAuthorizeMode('approve');
    const ok = await follow(session.body.authorizeUrl);
    expect(ok[2]!.status).toBe(200);
    // The used link says it was used (not expired) and that nothing is left to do; ANAF is not asked again.
    const again = await follow(session.body.authorizeUrl);
    expect(again).toHaveLength(1);
    expect(again[0]!.status).toBe(200);
    const used = await again[0]!.text();
    expect(used).toContain('Linkul a fost deja folosit');
    expect(used).toContain('Nu mai aveți nimic de făcut');
    expect(used).not.toMatch(/SESSION_EXPIRED|expirat/);
    expect(stack.emulator!.control.stats().tokenCalls.authorization_code).toBe(1);
  });

  it('a used link with a returnUrl sends the browser back to the ERP with the result it already had', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0]]);
    const session = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[0]], returnUrl: 'https://erp.example.com/cb' });
    const first = await follow(session.body.authorizeUrl);
    const tokenId = new URL(first[2]!.headers.get('location')!).searchParams.get('tokenId');
    const again = await fetch(session.body.authorizeUrl, { redirect: 'manual' });
    expect(again.status).toBe(302);
    expect(again.headers.get('location')).toBe(`https://erp.example.com/cb?status=connected&tokenId=${tokenId}`);
  });

  it('access_denied with a returnUrl redirects with status=error&reason=ACCESS_DENIED', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0]]);
    stack.emulator!.control.setAuthorizeMode('deny');
    const session = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[0]], returnUrl: 'https://erp.example.com/cb' });
    const hops = await follow(session.body.authorizeUrl);
    const location = new URL(hops[2]!.headers.get('location')!);
    expect(location.searchParams.get('status')).toBe('error');
    expect(location.searchParams.get('reason')).toBe('ACCESS_DENIED');
  });

  it('state is single use: replaying the callback URL after a success says already connected, never redirects, changes nothing', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0]]);
    const session = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[0]], returnUrl: 'https://erp.example.com/cb' });
    const hops = await follow(session.body.authorizeUrl);
    expect(hops[2]!.status).toBe(302);
    const callbackUrl = hops[1]!.headers.get('location')!;
    const before = (await stack.api.get(`/v1/tenants/${t}/events`)).body.events;
    for (let i = 0; i < 2; i++) {
      const replay = await fetch(callbackUrl, { redirect: 'manual' });
      expect(replay.status).toBe(200);
      expect(replay.headers.get('location')).toBeNull();
      expect(replay.headers.get('content-type')).toMatch(/text\/html/);
      const page = await replay.text();
      expect(page).toContain('Conectarea este deja făcută');
      expect(page).toContain(`<span class="name">Company ${CUIS[0]}</span> — <span class="cui">CUI ${CUIS[0]}</span>`);
      expect(page).not.toContain('INVALID_STATE');
    }
    expect(stack.emulator!.control.stats().tokenCalls.authorization_code).toBe(1);
    expect((await stack.api.get(`/v1/tenants/${t}/events`)).body.events).toEqual(before);
  });

  it('replaying the callback URL after a failure gives the 400 invalid-state page with the link to open again, and records nothing', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0]]);
    stack.emulator!.control.setAuthorizeMode('deny');
    const session = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[0]], returnUrl: 'https://erp.example.com/cb' });
    const hops = await follow(session.body.authorizeUrl);
    expect(new URL(hops[2]!.headers.get('location')!).searchParams.get('reason')).toBe('ACCESS_DENIED');
    const events = (await stack.api.get(`/v1/tenants/${t}/events`)).body.events;
    const replay = await fetch(hops[1]!.headers.get('location')!, { redirect: 'manual' });
    expect(replay.status).toBe(400);
    expect(replay.headers.get('location')).toBeNull();
    const page = await replay.text();
    expect(page).toContain('INVALID_STATE');
    expect(page).toContain(`href="${session.body.authorizeUrl.replace(/&/g, '&amp;')}"`);
    expect((await stack.api.get(`/v1/tenants/${t}/events`)).body.events).toEqual(events);
  });

  it('tampered, unknown and missing states give the 400 page without calling ANAF', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0]]);
    const session = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[0]], returnUrl: 'https://erp.example.com/cb' });
    const authorize = await fetch(session.body.authorizeUrl, { redirect: 'manual' });
    const state = new URL(authorize.headers.get('location')!).searchParams.get('state')!;
    const flipped = `${state.slice(0, -1)}${state.endsWith('A') ? 'B' : 'A'}`;
    const cb = `${stack.apiUrl}/v1/oauth/callback`;
    for (const query of [`code=abc&state=${flipped}`, `code=abc&state=${state}x`, 'code=abc', `code=abc&state=${'A'.repeat(43)}`, `error=access_denied&state=nope`]) {
      const res = await fetch(`${cb}?${query}`, { redirect: 'manual' });
      expect(res.status, query).toBe(400);
      expect(await res.text()).toContain('INVALID_STATE');
    }
    expect(stack.emulator!.control.stats().tokenCalls.authorization_code).toBe(0);
    // The genuine state still works afterwards.
    const anaf = await fetch(authorize.headers.get('location')!, { redirect: 'manual' });
    const done = await fetch(anaf.headers.get('location')!, { redirect: 'manual' });
    expect(new URL(done.headers.get('location')!).searchParams.get('status')).toBe('connected');
  });

  it.each([
    ['invalid_client', 502, 'ANAF_REJECTED'],
    ['server_error', 503, 'ANAF_UNAVAILABLE'],
    ['unavailable', 503, 'ANAF_UNAVAILABLE'],
  ] as const)('a code exchange failing with %s shows a %i page and stores nothing', async (kind, status, reason) => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0]]);
    stack.emulator!.control.failNext(kind);
    const session = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[0]] });
    const hops = await follow(session.body.authorizeUrl);
    expect(hops[2]!.status).toBe(status);
    expect(await hops[2]!.text()).toContain(reason);
    expect((await stack.api.get(`/v1/tenants/${t}/tokens`)).body.tokens).toEqual([]);
    expect((await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[0]}`)).body.status).toBe('not-connected');
    expect((await stack.api.get(`/v1/tenants/${t}/events`)).body.events.map((e: { type: string }) => e.type)).toEqual(['connect-failed']);
  });

  it('an exchange that times out gives the 503 page with a returnUrl redirect reason', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0]]);
    stack.emulator!.control.failNext('hang');
    const session = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[0]], returnUrl: 'https://erp.example.com/cb' });
    const hops = await follow(session.body.authorizeUrl);
    const location = new URL(hops[2]!.headers.get('location')!);
    expect(location.searchParams.get('reason')).toBe('ANAF_UNAVAILABLE');
    expect((await stack.api.get(`/v1/tenants/${t}/tokens`)).body.tokens).toEqual([]);
  }, 20_000);

  it('an expired session cannot be opened', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0]]);
    const session = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[0]], ttlSeconds: 60 });
    expect(Date.parse(session.body.expiresAt) - Date.now()).toBeLessThanOrEqual(60_000);
    const unknown = await fetch(`${stack.apiUrl}/v1/oauth/authorize?session=cs_${'x'.repeat(32)}`, { redirect: 'manual' });
    expect(unknown.status).toBe(400);
    expect(await unknown.text()).toContain('INVALID_SESSION');
  });
});

describe('what became of a connect session: GET connect-sessions/{sessionId} and connect-failed', () => {
  const sessionOf = (t: string, sessionId: string) => stack.api.get(`/v1/tenants/${t}/connect-sessions/${sessionId}`);
  const trail = async (t: string) => (await stack.api.get(`/v1/tenants/${t}/events`)).body.events as Array<{ type: string; tokenId: string | null; cuis: string[]; details?: Record<string, unknown> }>;
  let tap: Awaited<ReturnType<typeof tapBus>>;
  beforeAll(async () => {
    tap = await tapBus();
  });
  afterAll(async () => {
    await tap?.close();
  });
  /** The connect-failed events of a tenant that reached the bus (moto delivers to the tap's queue as it accepts them). */
  const failedOnBus = async (t: string): Promise<BusEvent[]> =>
    (await tap.events()).filter((e) => e['detail-type'] === 'connect-failed' && e.detail.tenantId === t);

  async function attempt(t: string, cuis: string[]): Promise<{ sessionId: string; authorizeUrl: string; last: Response }> {
    const session = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis });
    expect(session.status).toBe(201);
    const hops = await follow(session.body.authorizeUrl);
    return { sessionId: session.body.sessionId, authorizeUrl: session.body.authorizeUrl, last: hops.at(-1)! };
  }

  it('a fresh session is open with its CUIs and expiry, nothing else', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0], CUIS[1]]);
    const created = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[1], `RO${CUIS[0]}`] });
    const got = await sessionOf(t, created.body.sessionId);
    expect(got.status).toBe(200);
    expect(got.body).toEqual({ sessionId: created.body.sessionId, status: 'open', cuis: [CUIS[1], CUIS[0]], expiresAt: created.body.expiresAt });
  });

  it('cancel at ANAF: the session stays open with lastError ACCESS_DENIED, and a connect-failed event reaches the trail and the bus', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0], CUIS[1]]);
    stack.emulator!.control.setAuthorizeMode('deny');
    const { sessionId, last } = await attempt(t, [CUIS[0], CUIS[1]]);
    expect(last.status).toBe(400);
    expect((await sessionOf(t, sessionId)).body).toMatchObject({ sessionId, status: 'open', lastError: 'ACCESS_DENIED' });
    expect((await sessionOf(t, sessionId)).body.tokenId).toBeUndefined();
    const [event, ...rest] = await trail(t);
    expect(rest).toEqual([]);
    expect(event).toMatchObject({ type: 'connect-failed', tokenId: null, cuis: [CUIS[0], CUIS[1]], details: { sessionHash: hashSessionId(sessionId), reason: 'ACCESS_DENIED', anafError: 'access_denied' } });
    await expect.poll(async () => (await failedOnBus(t)).map((e) => e.detail.details?.reason)).toEqual(['ACCESS_DENIED']);
    expect((await failedOnBus(t))[0]!.detail).toMatchObject({ tenantId: t, tokenId: null, cuis: [CUIS[0], CUIS[1]] });
  });

  it('a wrong client secret: the exchange is refused, lastError ANAF_REJECTED, connect-failed with that reason', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0]]);
    const wrong = await stack.api.put(`/v1/tenants/${t}/anaf-client`, { clientId: EMULATOR_DEFAULT_CLIENT.clientId, clientSecret: 'not-the-emulator-fake-secret' });
    expect(wrong.status).toBe(200);
    const { sessionId, last } = await attempt(t, [CUIS[0]]);
    expect(last.status).toBe(502);
    expect((await sessionOf(t, sessionId)).body).toMatchObject({ status: 'open', lastError: 'ANAF_REJECTED' });
    expect((await trail(t)).map((e) => [e.type, e.details?.reason])).toEqual([['connect-failed', 'ANAF_REJECTED']]);
    await expect.poll(async () => (await failedOnBus(t)).map((e) => e.detail.details?.reason)).toEqual(['ANAF_REJECTED']);
    expect(JSON.stringify(await trail(t))).not.toContain('not-the-emulator-fake-secret');
  });

  it('ANAF down: lastError ANAF_UNAVAILABLE, connect-failed; the same link then succeeds: completed with its tokenId, lastError gone', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0]]);
    stack.emulator!.control.failNext('unavailable');
    const { sessionId, authorizeUrl, last } = await attempt(t, [CUIS[0]]);
    expect(last.status).toBe(503);
    expect((await sessionOf(t, sessionId)).body).toMatchObject({ status: 'open', lastError: 'ANAF_UNAVAILABLE' });
    await expect.poll(async () => (await failedOnBus(t)).map((e) => e.detail.details?.reason)).toEqual(['ANAF_UNAVAILABLE']);

    const ok = await follow(authorizeUrl);
    expect(ok.at(-1)!.status).toBe(200);
    const tokenId = (await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[0]}`)).body.tokenId;
    expect(tokenId).toMatch(/^tok_/);
    const done = await sessionOf(t, sessionId);
    expect(done.body).toEqual({ sessionId, status: 'completed', cuis: [CUIS[0]], expiresAt: expect.any(String), tokenId });
    expect((await trail(t)).map((e) => e.type)).toEqual(['connected', 'connect-failed']);
  });

  it('expiry: the session reads expired; opening its link records SESSION_EXPIRED and announces it once', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0]]);
    const created = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[0]], ttlSeconds: 60 });
    const sessionId = created.body.sessionId;
    // The gateway's handlers run on this process's runtime: its clock moves past the session's end.
    const deps = getRuntime(...ALL_ADAPTERS).deps;
    const clock = deps.clock;
    deps.clock = { now: () => new Date(Date.parse(created.body.expiresAt) + 1000) };
    try {
      expect((await sessionOf(t, sessionId)).body).toEqual({ sessionId, status: 'expired', cuis: [CUIS[0]], expiresAt: created.body.expiresAt });
      for (let i = 0; i < 2; i++) {
        const opened = await fetch(created.body.authorizeUrl, { redirect: 'manual' });
        expect(opened.status).toBe(400);
        expect(await opened.text()).toContain('Linkul a expirat');
      }
      expect((await sessionOf(t, sessionId)).body).toMatchObject({ status: 'expired', lastError: 'SESSION_EXPIRED' });
    } finally {
      deps.clock = clock;
    }
    expect((await trail(t)).map((e) => [e.type, e.details?.reason])).toEqual([['connect-failed', 'SESSION_EXPIRED']]);
    await expect.poll(async () => (await failedOnBus(t)).map((e) => e.detail.details?.reason)).toEqual(['SESSION_EXPIRED']);
    expect(stack.emulator!.control.stats().tokenCalls.authorization_code).toBe(0);
  });
});

describe('import of a pair obtained by hand (migration from the manual flow)', () => {
  const control = () => stack.emulator!.control;
  const refreshCalls = () => control().stats().tokenCalls.refresh_token;
  const importing = (t: string, pair: { accessToken: string; refreshToken: string }, extra: Record<string, unknown> = {}) =>
    stack.api.post(`/v1/tenants/${t}/tokens`, { ...pair, ...extra });

  it('rotates the pasted pair once at ANAF and stores only the rotated one: the pasted token is spent, the stored one live', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[4], CUIS[5]]);
    control().setCertificate({ serial: '3a:00:00:00:44:55:66', holder: 'Contabil Import' });
    const pasted = await pairObtainedByHand(stack.emulator!);
    const imported = await importing(t, pasted, { cuis: [`RO${CUIS[4]}`, CUIS[5]] });
    expect(imported.status).toBe(201);

    expect(refreshCalls()).toBe(1);
    expect(control().isRefreshTokenLive(pasted.refreshToken)).toBe(false);
    const { record, pair } = await stored(t, imported.body.tokenId);
    expect(pair!.refreshToken).not.toBe(pasted.refreshToken);
    expect(pair!.accessToken).not.toBe(pasted.accessToken);
    expect(control().isRefreshTokenLive(pair!.refreshToken)).toBe(true);
    expect(pair!.version).toBe(record.version);
    // Metadata from the rotated pair's JWTs; the rotation counts as the last refresh.
    const access = readTokenClaims(pair!.accessToken)!;
    const refresh = readTokenClaims(pair!.refreshToken)!;
    expect(imported.body).toMatchObject({
      status: 'active',
      serial: '3a:00:00:00:44:55:66',
      cuis: [CUIS[4], CUIS[5]].sort(),
      accessExpiresAt: new Date(access.exp * 1000).toISOString(),
      refreshExpiresAt: new Date(refresh.exp * 1000).toISOString(),
    });
    expect(imported.body.lastRefreshAt).toEqual(expect.any(String));
    expect(JSON.stringify(imported.body)).not.toContain(pasted.accessToken);
    expect(JSON.stringify(imported.body)).not.toContain(pair!.accessToken);

    // The ERP gets the rotated access token, and it works at e-Factura.
    const handed = await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[5]}/access-token`);
    expect(handed.body).toMatchObject({ accessToken: pair!.accessToken, tokenId: imported.body.tokenId });
    const efactura = await fetch(`${stack.emulator!.apiBaseUrl}/listaMesajeFactura?zile=5&cif=${CUIS[5]}`, {
      headers: { authorization: `Bearer ${handed.body.accessToken}` },
    });
    expect(efactura.status).toBe(200);
    // validare / transformare (no token) go to the emulator's public host too (issue 9).
    expect(process.env.ANAF_PUBLIC_API_BASE_URL).toBe(stack.emulator!.publicApiBaseUrl);
  });

  it('a certificate that already has an active token → 409 TOKEN_EXISTS without calling ANAF; replace: true rotates and updates it', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[4], CUIS[5]]);
    const { tokenId } = await connect(stack.api, t, [CUIS[4]]);
    const before = await stored(t, tokenId);
    const pasted = await pairObtainedByHand(stack.emulator!);

    for (const extra of [{}, { replace: false }]) {
      const refused = await importing(t, pasted, { cuis: [CUIS[5]], ...extra });
      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe('TOKEN_EXISTS');
    }
    expect(refreshCalls()).toBe(0);
    expect(control().isRefreshTokenLive(pasted.refreshToken)).toBe(true);
    expect(await stored(t, tokenId)).toEqual(before);
    expect((await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[5]}`)).body.tokenId).toBeNull();

    const replaced = await importing(t, pasted, { cuis: [CUIS[5]], replace: true });
    expect(replaced.status).toBe(201);
    expect(replaced.body.tokenId).toBe(tokenId);
    expect(replaced.body.cuis).toEqual([CUIS[4], CUIS[5]].sort());
    expect(refreshCalls()).toBe(1);
    const after = await stored(t, tokenId);
    expect(after.record.version).toBe(before.record.version + 1);
    expect(after.pair!.version).toBe(after.record.version);
    expect(after.pair!.refreshToken).not.toBe(pasted.refreshToken);
    expect(control().isRefreshTokenLive(pasted.refreshToken)).toBe(false);
    expect(control().isRefreshTokenLive(after.pair!.refreshToken)).toBe(true);
  });

  it('a certificate whose token is reauth-required is restored by an import without replace', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[4]]);
    const { tokenId } = await connect(stack.api, t, [CUIS[4]]);
    control().failNext('invalid_grant');
    expect((await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`)).status).toBe(409);
    expect((await stored(t, tokenId)).record.status).toBe('reauth-required');

    const pasted = await pairObtainedByHand(stack.emulator!);
    const restored = await importing(t, pasted, { cuis: [] });
    expect(restored.status).toBe(201);
    expect(restored.body).toMatchObject({ tokenId, status: 'active', cuis: [CUIS[4]] });
    const { pair } = await stored(t, tokenId);
    expect(control().isRefreshTokenLive(pair!.refreshToken)).toBe(true);
  });

  it('ANAF refuses the rotation (a pasted token the old tool already spent) → 400 IMPORT_REFRESH_REFUSED, nothing stored', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[4]]);
    const pasted = await pairObtainedByHand(stack.emulator!);
    // The old tool refreshed after the user copied the pair: the copy is spent.
    const basic = Buffer.from(`${EMULATOR_DEFAULT_CLIENT.clientId}:${EMULATOR_DEFAULT_CLIENT.clientSecret}`).toString('base64');
    const spend = await fetch(`${stack.emulator!.oauthBaseUrl}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: pasted.refreshToken, token_content_type: 'jwt' }),
    });
    expect(spend.status).toBe(200);

    const refused = await importing(t, pasted, { cuis: [CUIS[4]] });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('IMPORT_REFRESH_REFUSED');
    expect(JSON.stringify(refused.body)).not.toContain(pasted.refreshToken);
    expect((await stack.api.get(`/v1/tenants/${t}/tokens`)).body.tokens).toEqual([]);
    expect((await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[4]}`)).body.tokenId).toBeNull();
    expect((await stack.api.get(`/v1/tenants/${t}/events`)).body.events).toEqual([]);
  });

  it.each([
    ['unavailable', 503, 'ANAF_UNAVAILABLE', true],
    ['hang', 503, 'ANAF_UNAVAILABLE', true],
    ['invalid_client', 502, 'ANAF_REJECTED', true],
    ['invalid_grant', 400, 'IMPORT_REFRESH_REFUSED', true],
  ] as const)('ANAF answers the rotation with %s → %i %s, nothing stored', async (kind, status, code, pastedStillLive) => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[4]]);
    const pasted = await pairObtainedByHand(stack.emulator!);
    control().failNext(kind);
    const answer = await importing(t, pasted, { cuis: [CUIS[4]] });
    expect(answer.status).toBe(status);
    expect(answer.body.error.code).toBe(code);
    expect(refreshCalls()).toBe(1);
    expect(control().isRefreshTokenLive(pasted.refreshToken)).toBe(pastedStillLive);
    expect((await stack.api.get(`/v1/tenants/${t}/tokens`)).body.tokens).toEqual([]);
    expect((await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[4]}`)).body.tokenId).toBeNull();
  }, 20_000);

  it('a timeout that hid a rotation (connection dropped after ANAF rotated) → 503, nothing stored: the pasted token is spent', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[4]]);
    const pasted = await pairObtainedByHand(stack.emulator!);
    control().failNext('drop');
    const answer = await importing(t, pasted, { cuis: [CUIS[4]] });
    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('ANAF_UNAVAILABLE');
    expect(control().isRefreshTokenLive(pasted.refreshToken)).toBe(false);
    expect((await stack.api.get(`/v1/tenants/${t}/tokens`)).body.tokens).toEqual([]);
  });
});
