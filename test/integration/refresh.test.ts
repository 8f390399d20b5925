import { spawn } from 'node:child_process';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAnafOAuthClient } from '../../shared/adapters/anaf/oauth-client.js';
import { issueAccessToken } from '../../shared/services/access.js';
import { refreshToken } from '../../shared/services/refresh.js';
import { freePort } from '../../local/moto.js';
import { main as refreshCli } from '../../local/refresh-cli.js';
import { CUIS, EMULATOR_DEFAULT_CLIENT, follow, setupTenant, startTestStack } from '../support/stack.js';
import { connectNew, freshDeps, later, stored } from '../support/refresh-helpers.js';

type Stack = Awaited<ReturnType<typeof startTestStack>>;
let stack: Stack;
let n = 0;
const tenant = () => `r${++n}-${Date.now().toString(36)}`;
const DAY_S = 86_400;
const control = () => stack.emulator!.control;
const refreshCalls = () => control().stats().tokenCalls.refresh_token;

beforeAll(async () => {
  // Cool-down off: successive manual refreshes in one test each reach ANAF.
  stack = await startTestStack({ MANUAL_REFRESH_COOLDOWN_SECONDS: '0' });
});
afterAll(async () => {
  await stack?.stop();
});
beforeEach(() => {
  control().reset();
});

/** A tenant with one connected company; returns its token id. */
async function connected(cuis: string[] = [CUIS[0]]): Promise<{ t: string; tokenId: string }> {
  const t = tenant();
  await setupTenant(stack.api, t, cuis);
  const tokenId = await connectNew(stack.api, stack.emulator!, t, cuis);
  return { t, tokenId };
}

const events = async (t: string) => (await stack.api.get(`/v1/tenants/${t}/events?limit=100`)).body.events as Array<{ type: string; details?: any; connectUrl?: string }>;

/** Calls e-Factura at the emulator with an access token: 200 means ANAF would accept it. */
async function efacturaAccepts(accessToken: string, cui: string): Promise<boolean> {
  const res = await fetch(`${stack.emulator!.apiBaseUrl}/listaMesajeFactura?zile=10&cif=${cui}`, { headers: { authorization: `Bearer ${accessToken}` } });
  return res.status === 200;
}

describe('manual refresh and rotation (POST …/tokens/{id}/refresh)', () => {
  it('rotates both tokens, stores the new pair (version 2) and answers metadata only', async () => {
    const { t, tokenId } = await connected();
    const before = await stored(t, tokenId);
    const res = await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ tokenId, status: 'active', lastError: null, cuis: [CUIS[0]] });
    expect(Date.parse(res.body.lastRefreshAt)).toBeGreaterThan(Date.now() - 10_000);
    expect(JSON.stringify(res.body)).not.toMatch(/eyJ/);
    expect(refreshCalls()).toBe(1);

    const after = await stored(t, tokenId);
    expect(after.pair!.version).toBe(2);
    expect(after.record.version).toBe(2);
    expect(after.pair!.refreshToken).not.toBe(before.pair!.refreshToken);
    expect(after.pair!.accessToken).not.toBe(before.pair!.accessToken);
    expect(control().isRefreshTokenLive(after.pair!.refreshToken)).toBe(true);
    expect(control().spentRefreshTokens()).toContain(before.pair!.refreshToken);
    expect(await efacturaAccepts(after.pair!.accessToken, CUIS[0])).toBe(true);
    expect((await events(t)).map((e) => e.type)).toEqual(['refreshed', 'connected']);
  });

  it('rotation is persisted: every next refresh presents the refresh token the previous one stored', async () => {
    const { t, tokenId } = await connected();
    const presented: string[] = [];
    for (let i = 0; i < 4; i++) {
      presented.push((await stored(t, tokenId)).pair!.refreshToken);
      expect((await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`)).status).toBe(200);
    }
    expect(refreshCalls()).toBe(4);
    // each presented token was live when presented and is spent now; nothing spent was presented twice
    expect(new Set(presented).size).toBe(4);
    expect(control().spentRefreshTokens().sort()).toEqual([...presented].sort());
    const { record, pair } = await stored(t, tokenId);
    expect(record.version).toBe(5);
    expect(pair!.version).toBe(5);
    expect(control().isRefreshTokenLive(pair!.refreshToken)).toBe(true);
  });

  it('unknown token → 404 TOKEN_NOT_FOUND; unknown tenant → 404 TENANT_NOT_FOUND', async () => {
    const { t } = await connected();
    expect((await stack.api.post(`/v1/tenants/${t}/tokens/tok_${'0'.repeat(24)}/refresh`)).body.error.code).toBe('TOKEN_NOT_FOUND');
    expect((await stack.api.post(`/v1/tenants/nobody-${t}/tokens/tok_${'0'.repeat(24)}/refresh`)).body.error.code).toBe('TENANT_NOT_FOUND');
  });
});

describe('fresh token on demand (GET …/companies/{cui}/access-token)', () => {
  it('refreshes first when less than ACCESS_TOKEN_MIN_VALIDITY_SECONDS (capped at half the token lifetime) remain, then answers the new token without refreshing again', async () => {
    control().setTokenLifetimes({ accessSeconds: 1800 }); // under the default 3600 s minimum
    const { t, tokenId } = await connected([CUIS[0], CUIS[1]]);
    control().setTokenLifetimes({ accessSeconds: 90 * DAY_S });
    const old = (await stored(t, tokenId)).pair!;

    // 30-minute tokens with a 1-hour minimum: the minimum is capped at 15 minutes, so a fresh token is
    // handed out as it is (otherwise every call would be a rotation)
    const fresh = await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[1]}/access-token`);
    expect(fresh.body.accessToken).toBe(old.accessToken);
    expect(refreshCalls()).toBe(0);
    // 20 minutes later, under 15 minutes are left: the route refreshes first
    const first = { body: await issueAccessToken(later(freshDeps(), 20 * 60_000), t, CUIS[1]) };
    expect(refreshCalls()).toBe(1);
    expect(first.body.tokenId).toBe(tokenId);
    expect(first.body.accessToken).not.toBe(old.accessToken);
    expect(first.body.accessToken).toBe((await stored(t, tokenId)).pair!.accessToken);
    expect(Date.parse(first.body.expiresAt)).toBeGreaterThan(Date.now() + 89 * DAY_S * 1000);
    expect(await efacturaAccepts(first.body.accessToken, CUIS[1])).toBe(true);

    const second = await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[0]}/access-token`);
    expect(second.body.accessToken).toBe(first.body.accessToken);
    expect(refreshCalls()).toBe(1);
    const trail = await events(t);
    // newest first: the in-process hand-out ran on a clock 20 minutes ahead
    expect(trail.map((e) => e.type)).toEqual(['token-issued', 'refreshed', 'token-issued', 'token-issued', 'connected']);
    expect(trail[0]!.details).toMatchObject({ refreshed: true });
    expect(JSON.stringify(trail)).not.toMatch(/eyJ/);
  });
});

describe('ANAF unreachable, slow or failing: statuses, attempts, events', () => {
  it('5xx: retried in the run with backoff, then 503 ANAF_UNAVAILABLE; the token stays active with the error and attempt count', async () => {
    const { t, tokenId } = await connected();
    control().failNext('server_error', 3);
    const started = Date.now();
    const res = await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`);
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('ANAF_UNAVAILABLE');
    expect(refreshCalls()).toBe(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(700); // backoff 250 ms + 500 ms between attempts
    const { record, pair } = await stored(t, tokenId);
    expect(record).toMatchObject({ status: 'active', lastError: 'ANAF_UNAVAILABLE', failedAttempts: 1, version: 1 });
    expect(Date.parse(record.dueAt!)).toBeGreaterThan(Date.now() + 55 * 60_000);
    expect(control().isRefreshTokenLive(pair!.refreshToken)).toBe(true);
    const token = await stack.api.get(`/v1/tenants/${t}/tokens/${tokenId}`);
    expect(token.body).toMatchObject({ status: 'active', lastError: 'ANAF_UNAVAILABLE' });
    const [failed] = await events(t);
    expect(failed).toMatchObject({ type: 'refresh-failed', details: { reason: 'ANAF_UNAVAILABLE', failedAttempts: 1 } });

    // the next run retries and succeeds; errors are cleared
    expect((await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`)).status).toBe(200);
    expect((await stored(t, tokenId)).record).toMatchObject({ lastError: null, failedAttempts: 0, version: 2 });
  });

  it('503 twice then success: the same run ends refreshed (ANAF could not have acted on a 5xx)', async () => {
    const { t, tokenId } = await connected();
    control().failNext('unavailable', 2);
    const res = await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`);
    expect(res.status).toBe(200);
    expect(refreshCalls()).toBe(3);
    expect(control().spentRefreshTokens()).toHaveLength(1);
  });

  it('429 with Retry-After: 1 is honoured, then the retry succeeds', async () => {
    const { t, tokenId } = await connected();
    control().failNext('rate_limited');
    const started = Date.now();
    const res = await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`);
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(refreshCalls()).toBe(2);
  });

  it('a read timeout is not retried in the run (503, one call); ANAF had not acted, so the next run works', async () => {
    const { t, tokenId } = await connected();
    control().failNext('hang');
    const res = await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`);
    expect(res.status).toBe(503);
    expect(refreshCalls()).toBe(1);
    expect((await stored(t, tokenId)).record).toMatchObject({ status: 'active', lastError: 'ANAF_TIMEOUT', failedAttempts: 1 });
    expect((await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`)).status).toBe(200);
    expect(refreshCalls()).toBe(2);
    expect(control().isRefreshTokenLive((await stored(t, tokenId)).pair!.refreshToken)).toBe(true);
  });

  it('ANAF acted and the answer was lost (drop): no retry; the next run gets invalid_grant → reauth-required with a working connect link', async () => {
    const { t, tokenId } = await connected();
    const before = (await stored(t, tokenId)).pair!;
    control().failNext('drop');
    const res = await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`);
    expect(res.status).toBe(503);
    expect(refreshCalls()).toBe(1);
    expect(control().isRefreshTokenLive(before.refreshToken)).toBe(false); // ANAF rotated; the new pair is gone
    expect((await stored(t, tokenId)).record).toMatchObject({ status: 'active', lastError: 'ANAF_TIMEOUT' });

    const next = await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`);
    expect(next.status).toBe(409);
    expect(next.body.error.code).toBe('REAUTH_REQUIRED');
    expect((await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[0]}`)).body.status).toBe('reauth-required');
    const [reauth] = await events(t);
    expect(reauth).toMatchObject({ type: 'reauth-required', details: { reason: 'INVALID_GRANT' } });
    // the warning's link is ready: the certificate holder opens it and the token is active again, same id
    const hops = await follow(reauth!.connectUrl!);
    expect(hops.at(-1)!.status).toBe(200);
    const again = await stack.api.get(`/v1/tenants/${t}/tokens/${tokenId}`);
    expect(again.body).toMatchObject({ status: 'active', lastError: null, cuis: [CUIS[0]] });
    expect((await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[0]}/access-token`)).status).toBe(200);
  });

  it('connection refused: retried with backoff in the run (3 attempts), token active with ANAF_UNAVAILABLE', async () => {
    const { t, tokenId } = await connected();
    const closed = await freePort();
    let attempts = 0;
    const deps = freshDeps();
    deps.anaf = createAnafOAuthClient({
      oauthBaseUrl: `http://127.0.0.1:${closed}/anaf-oauth2/v1`,
      timeoutMs: 1500,
      fetch: (async (...args: Parameters<typeof fetch>) => {
        attempts += 1;
        return fetch(...args);
      }) as typeof fetch,
    });
    const started = Date.now();
    const result = await refreshToken(deps, { tenantId: t, tokenId, trigger: 'manual' });
    expect(result.error?.code).toBe('ANAF_UNAVAILABLE');
    expect(attempts).toBe(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(700);
    expect((await stored(t, tokenId)).record).toMatchObject({ status: 'active', lastError: 'ANAF_UNAVAILABLE', failedAttempts: 1 });
  });
});

describe('ANAF refusals', () => {
  it('invalid_grant → 409 REAUTH_REQUIRED, status reauth-required, event with a connect link; refused afterwards without calling ANAF but by a manual refresh, which tries once more and undoes a wrong verdict', async () => {
    const { t, tokenId } = await connected();
    control().failNext('invalid_grant');
    const res = await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('REAUTH_REQUIRED');
    expect((await stored(t, tokenId)).record).toMatchObject({ status: 'reauth-required', lastError: 'INVALID_GRANT', dueAt: null });
    const [event] = await events(t);
    expect(event).toMatchObject({ type: 'reauth-required' });
    expect(event!.connectUrl).toMatch(/\/v1\/oauth\/authorize\?session=cs_/);
    // Its access token is still valid: handed out (without calling ANAF) while the holder reconnects.
    const stillValid = await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[0]}/access-token`);
    expect(stillValid.status).toBe(200);
    expect(stillValid.body).toMatchObject({ tokenId, expiresAt: (await stored(t, tokenId)).record.accessExpiresAt });
    expect((await stack.runSweep()).refreshed).toBe(0);
    expect(refreshCalls()).toBe(1);
    // the injected refusal spent nothing: the verdict was wrong, and a manual refresh undoes it
    const retried = await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`);
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ status: 'active', lastError: null });
    expect(refreshCalls()).toBe(2);
    expect((await events(t)).map((e) => e.type).slice(0, 2)).toEqual(['refreshed', 'recovered']);
  });

  it('invalid_request for a spent refresh token (what ANAF answered a bad grant in a live probe) → reauth-required; a manual retry tries once and stays refused without a second event', async () => {
    const { t, tokenId } = await connected();
    control().setTokenBehaviour({ refusedRefreshError: 'invalid_request' });
    const spent = (await stored(t, tokenId)).pair!;
    // another tool spent the refresh token (the pair was copied out before the broker took over)
    await createAnafOAuthClient({ oauthBaseUrl: stack.emulator!.oauthBaseUrl, timeoutMs: 2000 }).refresh({
      clientId: EMULATOR_DEFAULT_CLIENT.clientId,
      clientSecret: EMULATOR_DEFAULT_CLIENT.clientSecret,
      refreshToken: spent.refreshToken,
    });
    const res = await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('REAUTH_REQUIRED');
    expect((await stored(t, tokenId)).record).toMatchObject({ status: 'reauth-required', lastError: 'INVALID_GRANT' });
    const again = await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`);
    expect(again.status).toBe(409);
    expect((await events(t)).filter((e) => e.type === 'reauth-required')).toHaveLength(1);
  });

  it('a refresh token past its exp → reauth-required without calling ANAF', async () => {
    control().setTokenLifetimes({ refreshSeconds: 2 });
    const { t, tokenId } = await connected();
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const res = await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('REAUTH_REQUIRED');
    expect(refreshCalls()).toBe(0);
    expect((await stored(t, tokenId)).record).toMatchObject({ status: 'reauth-required', lastError: 'REFRESH_TOKEN_EXPIRED' });
    expect((await events(t))[0]).toMatchObject({ type: 'reauth-required', details: { reason: 'REFRESH_TOKEN_EXPIRED' } });
  });

  it('invalid_client (the vendor rotated its secret at ANAF) → 502 ANAF_REJECTED, token stays active with CLIENT_REJECTED; fixing the secret heals it', async () => {
    const t = tenant();
    control().addClient('vendor-x', 'secret-one');
    const put = await stack.api.put(`/v1/tenants/${t}/anaf-client`, { clientId: 'vendor-x', clientSecret: 'secret-one' });
    expect(put.status).toBe(200);
    await stack.api.put(`/v1/tenants/${t}/companies/${CUIS[0]}`, {});
    const tokenId = await connectNew(stack.api, stack.emulator!, t, [CUIS[0]]);
    control().addClient('vendor-x', 'secret-two');

    const res = await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`);
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe('ANAF_REJECTED');
    expect(refreshCalls()).toBe(1); // a refusal is not retried
    const { record, pair } = await stored(t, tokenId);
    expect(record).toMatchObject({ status: 'active', lastError: 'CLIENT_REJECTED', failedAttempts: 1 });
    expect(control().isRefreshTokenLive(pair!.refreshToken)).toBe(true);
    expect((await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[0]}`)).body.status).toBe('active');

    await stack.api.put(`/v1/tenants/${t}/anaf-client`, { clientId: 'vendor-x', clientSecret: 'secret-two' });
    expect((await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`)).status).toBe(200);
    expect((await stored(t, tokenId)).record).toMatchObject({ lastError: null, failedAttempts: 0 });
  });
});

describe('manual refresh from the console payload and the local CLI', () => {
  it('the manual-refresh Lambda takes {tenantId, cui} or {tenantId, tokenId} and answers metadata or {error}', async () => {
    const { handler } = await import('../../functions/manual-refresh/handler.js');
    const { t, tokenId } = await connected();
    expect(await handler({ tenantId: t, cui: `RO${CUIS[0]}` })).toMatchObject({ tokenId, status: 'active' });
    expect(await handler({ tenantId: t, tokenId })).toMatchObject({ tokenId, status: 'active' });
    expect(await handler({ tenantId: t })).toMatchObject({ error: { code: 'VALIDATION_ERROR' } });
    expect(await handler({ tenantId: t, cui: CUIS[1] })).toMatchObject({ error: { code: 'COMPANY_NOT_FOUND' } });
    expect(refreshCalls()).toBe(2);
  });

  it('npm run refresh -- --tenant … --cui … | --token … (in process)', async () => {
    const { t, tokenId } = await connected();
    const out: string[] = [];
    const print = (line: string) => out.push(line);
    expect(await refreshCli(['--tenant', t, '--cui', CUIS[0]], print)).toBe(0);
    expect(JSON.parse(out.join('\n'))).toMatchObject({ tokenId, status: 'active' });
    out.length = 0;
    expect(await refreshCli(['--tenant', t, '--token', tokenId], print)).toBe(0);
    expect(JSON.parse(out.join('\n'))).toMatchObject({ tokenId });
    expect(refreshCalls()).toBe(2);
    out.length = 0;
    expect(await refreshCli(['--tenant', t, '--token', `tok_${'0'.repeat(24)}`], print)).toBe(1);
    expect(JSON.parse(out.join('\n'))).toMatchObject({ error: { code: 'TOKEN_NOT_FOUND' } });
    out.length = 0;
    expect(await refreshCli(['--tenant', t], print)).toBe(2);
    expect(out.join('\n')).toMatch(/usage/i);
    expect(out.join('\n')).not.toMatch(/eyJ/);
    // against a local stack without the emulator's URL it refuses rather than send a local token to the real ANAF
    const anafUrl = process.env.ANAF_OAUTH_BASE_URL;
    delete process.env.ANAF_OAUTH_BASE_URL;
    try {
      out.length = 0;
      expect(await refreshCli(['--tenant', t, '--token', tokenId], print)).toBe(2);
      expect(out.join('\n')).toMatch(/ANAF_OAUTH_BASE_URL/);
    } finally {
      process.env.ANAF_OAUTH_BASE_URL = anafUrl;
    }
    expect(refreshCalls()).toBe(2);
  });

  it('npm run refresh as its own process, against the stack through AWS_ENDPOINT_URL', async () => {
    const { t, tokenId } = await connected();
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
        const child = spawn('npm', ['run', '--silent', 'refresh', '--', ...args], {
          cwd: new URL('../..', import.meta.url).pathname,
          env: process.env,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        child.once('error', reject);
        child.once('exit', (code) => resolve({ code, stdout }));
      });
    const ok = await run(['--tenant', t, '--cui', `RO${CUIS[0]}`]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ tokenId, status: 'active', lastError: null });
    expect(refreshCalls()).toBe(1);
    const bad = await run(['--tenant', t, '--cui', '123']);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ error: { code: 'INVALID_CUI' } });
  }, 20_000);
});
