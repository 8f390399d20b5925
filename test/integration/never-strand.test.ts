/**
 * Paths that used to strand a connection, leak a pair or raise a false alarm ("Never strand a
 * connection"), each on moto + the ANAF emulator over HTTP, with faults injected in an adapter where a
 * real one cannot be made (Secrets Manager's eventual consistency, a stalled store call, failing writes).
 */
import { describe, expect, it } from 'vitest';
import { STORE_RETRY_AFTER_SECONDS } from '../../shared/config/aws-calls.js';
import { AnafError } from '../../shared/domain/anaf-errors.js';
import type { StoredPair } from '../../shared/ports.js';
import { issueAccessToken } from '../../shared/services/access.js';
import type { ServiceDeps } from '../../shared/services/deps.js';
import { refreshToken } from '../../shared/services/refresh.js';
import { CUIS, follow, setupTenant, type TestStack } from '../support/stack.js';
import { useTestStack } from '../support/use-stack.js';
import { connectDueToken, freshDeps, later, stored } from '../support/refresh-helpers.js';

let stack: TestStack;
let n = 0;
const tenant = () => `s${++n}-${Date.now().toString(36)}`;
const DAY_S = 86_400;
const control = () => stack.emulator!.control;
const refreshCalls = () => control().stats().tokenCalls.refresh_token;

useTestStack((started) => (stack = started), { MANUAL_REFRESH_COOLDOWN_SECONDS: '0' });

const events = async (t: string) =>
  (await stack.api.get(`/v1/tenants/${t}/events?limit=100`)).body.events as Array<{ type: string; details?: Record<string, unknown> }>;
const dueToken = (cuis: string[] = [CUIS[0]]) => connectDueToken(stack, tenant(), cuis);

async function efacturaAccepts(accessToken: string, cui: string): Promise<boolean> {
  const res = await fetch(`${stack.emulator!.apiBaseUrl}/listaMesajeFactura?zile=10&cif=${cui}`, { headers: { authorization: `Bearer ${accessToken}` } });
  return res.status === 200;
}

describe('1. a 2xx from the token endpoint is a rotation, whatever its shape', () => {
  it('opaque tokens from a refresh are stored, expiries estimated (expires_in, 365 days); the next refresh presents the new refresh token', async () => {
    const { t, tokenId } = await dueToken();
    const before = Date.now();
    control().setTokenBehaviour({ format: 'opaque' });
    const res = await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`);
    expect(res.status).toBe(200);
    const { record, pair } = await stored(t, tokenId);
    expect(pair!.accessToken).toMatch(/^[0-9a-f]{64}$/);
    expect(control().isRefreshTokenLive(pair!.refreshToken)).toBe(true);
    expect(record).toMatchObject({ status: 'active', version: 2, accessExpiryEstimated: true, refreshExpiryEstimated: true });
    // access from expires_in (90 days at the emulator), refresh from ANAF's 365-day lifetime
    expect(Date.parse(record.accessExpiresAt)).toBeGreaterThanOrEqual(before + 90 * DAY_S * 1000 - 5000);
    expect(Date.parse(record.refreshExpiresAt)).toBeGreaterThanOrEqual(before + 365 * DAY_S * 1000 - 5000);

    const again = await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`);
    expect(again.status).toBe(200);
    expect(control().spentRefreshTokens()).toHaveLength(2);
    expect((await stored(t, tokenId)).record).toMatchObject({ status: 'active', version: 3 });
    const token = await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[0]}/access-token`);
    expect(token.status).toBe(200);
    expect(await efacturaAccepts(token.body.accessToken, CUIS[0])).toBe(true);
  });

  it('a refresh answer without refresh_token keeps the stored refresh token (RFC 6749 §6) and stores the new access token', async () => {
    const { t, tokenId } = await dueToken();
    const original = (await stored(t, tokenId)).pair!;
    control().setTokenBehaviour({ omitRefreshToken: true });
    const res = await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`);
    expect(res.status).toBe(200);
    const { record, pair } = await stored(t, tokenId);
    expect(pair!.refreshToken).toBe(original.refreshToken);
    expect(pair!.accessToken).not.toBe(original.accessToken);
    expect(record).toMatchObject({ version: 2, refreshExpiryEstimated: false });
    expect(record.refreshExpiresAt).toBe(res.body.refreshExpiresAt);
    // the kept refresh token still works
    control().setTokenBehaviour({ omitRefreshToken: false });
    expect((await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`)).status).toBe(200);
    expect((await stored(t, tokenId)).record.status).toBe('active');
  });

  it('a code exchange answering opaque tokens connects the company (no 502 page blaming the client)', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[1]]);
    control().setTokenBehaviour({ format: 'opaque' });
    const session = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[1]] });
    const hops = await follow(session.body.authorizeUrl);
    expect(hops.at(-1)!.status).toBe(200);
    const company = await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[1]}`);
    expect(company.body).toMatchObject({ status: 'active' });
    const { record } = await stored(t, company.body.tokenId);
    expect(record).toMatchObject({ accessExpiryEstimated: true, refreshExpiryEstimated: true, serial: null });
  });
});

/** The secret store's reads as an eventually consistent store may answer them right after a write. */
function staleReads(deps: ServiceDeps, options: { previous: StoredPair; pinnedInvisibleFor: number }): ServiceDeps & { pinnedReads(): number } {
  const original = deps.secrets.getTokenPair.bind(deps.secrets);
  let pinnedReads = 0;
  const secrets = {
    ...deps.secrets,
    async getTokenPair(tenantId: string, tokenId: string, versionId?: string) {
      if (!versionId) return options.previous; // the current stage still shows the older version
      pinnedReads++;
      if (pinnedReads <= options.pinnedInvisibleFor) return null; // the exact version is not visible yet
      return original(tenantId, tokenId, versionId);
    },
  };
  return Object.assign({ ...deps, secrets }, { pinnedReads: () => pinnedReads });
}

describe('2. never present a pair older than the record (eventually consistent secret reads)', () => {
  it('a read that returns the previous version is never sent to ANAF: the exact version is read, retried until visible', async () => {
    const { t, tokenId } = await dueToken();
    const previous = (await stored(t, tokenId)).pair! as StoredPair;
    expect((await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`)).status).toBe(200);
    const deps = staleReads(freshDeps(), { previous, pinnedInvisibleFor: 2 });
    const result = await refreshToken(deps, { tenantId: t, tokenId, trigger: 'manual' });
    expect(result.outcome).toBe('refreshed');
    expect(deps.pinnedReads()).toBe(3);
    expect(control().spentRefreshTokens()).toEqual([previous.refreshToken, expect.any(String)]);
    expect((await stored(t, tokenId)).record).toMatchObject({ status: 'active', version: 3 });
  });

  it('while the exact version stays invisible: 503 STORE_UNAVAILABLE, no ANAF call, nothing recorded; the access-token route does not hand out the older token', async () => {
    const { t, tokenId } = await dueToken();
    const previous = (await stored(t, tokenId)).pair! as StoredPair;
    await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`);
    const calls = refreshCalls();
    const deps = staleReads(freshDeps(), { previous, pinnedInvisibleFor: 1000 });
    const result = await refreshToken(deps, { tenantId: t, tokenId, trigger: 'manual' });
    expect(result.error).toMatchObject({ code: 'STORE_UNAVAILABLE', retryAfterSeconds: STORE_RETRY_AFTER_SECONDS });
    expect(refreshCalls()).toBe(calls);
    expect((await stored(t, tokenId)).record).toMatchObject({ status: 'active', version: 2, failedAttempts: 0, leaseOwner: null });
    await expect(issueAccessToken(deps, t, CUIS[0])).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', retryAfterSeconds: STORE_RETRY_AFTER_SECONDS });
  });

  it("the access-token route answers the expiresAt of the token it hands out", async () => {
    const { t } = await dueToken();
    const res = await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[0]}/access-token`);
    const claims = JSON.parse(Buffer.from(res.body.accessToken.split('.')[1], 'base64url').toString());
    expect(res.body.expiresAt).toBe(new Date(claims.exp * 1000).toISOString());
  });
});

describe('3. a holder that lost its lease never calls ANAF', () => {
  it('a run whose store calls stalled past its lease finds the lease gone at the checkpoint and does not present the refresh token', async () => {
    const { t, tokenId } = await dueToken();
    const stalled = freshDeps();
    const other = later(freshDeps(), 600_000); // a run that comes after the stalled run's lease ended
    let otherResult: Awaited<ReturnType<typeof refreshToken>> | undefined;
    const getClientSecret = stalled.secrets.getClientSecret.bind(stalled.secrets);
    stalled.secrets = {
      ...stalled.secrets,
      async getClientSecret(tenantId: string) {
        // while this run stalls, its lease expires and another run takes it over and rotates
        otherResult = await refreshToken(other, { tenantId: t, tokenId, trigger: 'manual' });
        return getClientSecret(tenantId);
      },
    };
    const result = await refreshToken(stalled, { tenantId: t, tokenId, trigger: 'manual' });
    expect(otherResult?.outcome).toBe('refreshed');
    expect(refreshCalls()).toBe(1);
    expect(result.outcome).toBe('joined');
    expect((await stored(t, tokenId)).record).toMatchObject({ status: 'active', version: 2 });
    expect(control().spentRefreshTokens()).toHaveLength(1);
  });
});

describe('3b. an in-run retry checks the lease again', () => {
  it("ANAF answers 503, the lease ends during the retry wait and another run rotates: the retry is not sent", async () => {
    const { t, tokenId } = await dueToken();
    const deps = freshDeps();
    const refresh = deps.anaf.refresh.bind(deps.anaf);
    let calls = 0;
    deps.anaf = {
      ...deps.anaf,
      async refresh(input) {
        calls++;
        if (calls > 1) return refresh(input);
        await refreshToken(later(freshDeps(), 600_000), { tenantId: t, tokenId, trigger: 'manual' });
        throw new AnafError('unavailable', 'ANAF answered HTTP 503', { status: 503 });
      },
    };
    const result = await refreshToken(deps, { tenantId: t, tokenId, trigger: 'manual' });
    expect(calls).toBe(1);
    expect(result.outcome).toBe('joined');
    expect(refreshCalls()).toBe(1);
    expect(control().spentRefreshTokens()).toHaveLength(1);
    expect((await events(t)).filter((e) => e.type === 'refresh-failed')).toHaveLength(0);
  });
});

describe('4. no event or answer from a write that did not land', () => {
  it('a disconnect landing while ANAF refuses the refresh: no reauth-required event, the caller hears TOKEN_DISCONNECTED', async () => {
    const { t, tokenId } = await dueToken();
    const deps = freshDeps();
    const refresh = deps.anaf.refresh.bind(deps.anaf);
    deps.anaf = {
      ...deps.anaf,
      async refresh(input) {
        const del = await stack.api.del(`/v1/tenants/${t}/tokens/${tokenId}`);
        expect(del.status).toBe(204);
        control().failNext('invalid_grant');
        return refresh(input);
      },
    };
    const result = await refreshToken(deps, { tenantId: t, tokenId, trigger: 'manual' });
    expect(result.error?.code).toBe('TOKEN_DISCONNECTED');
    const trail = await events(t);
    expect(trail.filter((e) => e.type === 'reauth-required')).toHaveLength(0);
    expect((await stored(t, tokenId)).record.status).toBe('disconnected');
  });

  it('a failure whose write lost to another run is not announced: no refresh-failed event, the stored state answers', async () => {
    const { t, tokenId } = await dueToken();
    const deps = freshDeps();
    let other: Awaited<ReturnType<typeof refreshToken>> | undefined;
    deps.anaf = {
      ...deps.anaf,
      async refresh() {
        // this run's call is in flight when its lease ends; a later run takes over and rotates; then
        // this run's call times out
        other = await refreshToken(later(freshDeps(), 600_000), { tenantId: t, tokenId, trigger: 'manual' });
        throw new AnafError('timeout', 'ANAF did not answer in time');
      },
    };
    const result = await refreshToken(deps, { tenantId: t, tokenId, trigger: 'manual' });
    expect(other?.outcome).toBe('refreshed');
    expect(result.outcome).toBe('joined');
    expect(result.error).toBeUndefined();
    expect((await events(t)).filter((e) => e.type === 'refresh-failed')).toHaveLength(0);
    expect((await stored(t, tokenId)).record).toMatchObject({ status: 'active', version: 2, failedAttempts: 0, lastError: null });
  });
});

describe('9. Secrets Manager write rate: at most MAX_ROTATIONS_PER_DAY rotations in 24 hours', () => {
  it('over the limit a manual refresh answers 429 REFRESH_RATE_LIMITED with Retry-After, without calling ANAF; the access-token route hands out the current token', async () => {
    const { t, tokenId } = await dueToken();
    const deps = { ...freshDeps() };
    deps.settings = { ...deps.settings, maxRotationsPerDay: 2, manualRefreshCooldownSeconds: 0 };
    for (let i = 0; i < 2; i++) expect((await refreshToken(deps, { tenantId: t, tokenId, trigger: 'manual' })).outcome).toBe('refreshed');
    const third = await refreshToken(deps, { tenantId: t, tokenId, trigger: 'manual' });
    expect(third.outcome).toBe('limited');
    expect(third.error).toMatchObject({ code: 'REFRESH_RATE_LIMITED' });
    expect(third.error!.retryAfterSeconds).toBeGreaterThan(86_000);
    expect(refreshCalls()).toBe(2);
    const handed = await issueAccessToken({ ...deps, settings: { ...deps.settings, accessTokenMinValiditySeconds: 365 * DAY_S } }, t, CUIS[0]);
    expect(handed.accessToken).toBe((await stored(t, tokenId)).pair!.accessToken);
    expect(refreshCalls()).toBe(2);
  });

  it('the HTTP route answers 429 with a Retry-After header after MAX_ROTATIONS_PER_DAY (24) rotations', async () => {
    const { t, tokenId } = await dueToken();
    for (let i = 0; i < 24; i++) expect((await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`)).status).toBe(200);
    const over = await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`);
    expect(over.status).toBe(429);
    expect(over.body.error.code).toBe('REFRESH_RATE_LIMITED');
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(86_000);
    expect(refreshCalls()).toBe(24);
  });
});

describe('14. never hand out an expired access token', () => {
  it('a refresh that returned an already-expired access token: the pair is stored (it is a rotation), the access-token route answers 503, not the dead token', async () => {
    const { t, tokenId } = await dueToken();
    control().setTokenLifetimes({ accessSeconds: -60 });
    const refreshed = await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`);
    expect(refreshed.status).toBe(200);
    const { record, pair } = await stored(t, tokenId);
    expect(record.version).toBe(2);
    expect(control().isRefreshTokenLive(pair!.refreshToken)).toBe(true);
    const res = await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[0]}/access-token`);
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('ANAF_UNAVAILABLE');
    expect(JSON.stringify(res.body)).not.toContain(pair!.accessToken);
    // once ANAF issues a good token again, the route refreshes and hands it out
    control().setTokenLifetimes({ accessSeconds: 90 * DAY_S });
    const good = await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[0]}/access-token`);
    expect(good.status).toBe(200);
    expect(Date.parse(good.body.expiresAt)).toBeGreaterThan(Date.now() + 89 * DAY_S * 1000);
    expect(await efacturaAccepts(good.body.accessToken, CUIS[0])).toBe(true);
  });
});
