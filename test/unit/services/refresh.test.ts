import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TokenRecord } from '../../../shared/domain/model.js';
import { refreshToken, warnIfExpiring } from '../../../shared/services/refresh.js';
import { importToken } from '../../../shared/services/tokens.js';
import { breakMethod, createFakeWorld, type FakeWorld } from '../../support/fakes.js';
import { withFastSleeps } from '../../support/fast-timers.js';

const DAY = 86_400_000;
const T = 'acme';
const CUI = '14399840';

afterEach(() => {
  vi.useRealTimers();
});

/** A world with one connected token whose access token is due (10 days left, margin 30). */
async function dueWorld(settings: Parameters<typeof createFakeWorld>[0] = {}) {
  const world = createFakeWorld(settings);
  world.anaf.lifetimes.accessSeconds = 10 * 86_400;
  const token = await world.connect({ tenantId: T, cuis: [CUI] });
  world.anaf.lifetimes.accessSeconds = 90 * 86_400;
  return { world, token };
}

const record = (world: FakeWorld, token: TokenRecord) => world.tokens.records.get(`${token.tenantId}/${token.tokenId}`)!;
const pair = (world: FakeWorld, token: TokenRecord) => world.secrets.pairs.get(`${token.tenantId}/${token.tokenId}`)!;
const eventsOf = (world: FakeWorld, type: string) => world.audit.filter((e) => e.type === type);

/** Nothing the service logged, recorded or published carries a token or a secret. */
function expectNoSecrets(world: FakeWorld) {
  const text = JSON.stringify({ logs: world.logs, audit: world.audit, published: world.published, records: [...world.tokens.records.values()] });
  for (const value of [...world.anaf.issued, ...world.anaf.clients.values()]) expect(text).not.toContain(value);
}

describe('refreshToken: outcomes', () => {
  it('manual refresh rotates: new pair stored (version+1) before the metadata, old refresh token spent, event recorded', async () => {
    const { world, token } = await dueWorld();
    const before = pair(world, token);
    const result = await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'manual' });
    expect(result.outcome).toBe('refreshed');
    expect(world.anaf.refreshCalls).toBe(1);
    const after = pair(world, token);
    expect(after.version).toBe(2);
    expect(after.refreshToken).not.toBe(before.refreshToken);
    expect(world.anaf.isLive(after.refreshToken)).toBe(true);
    expect(world.anaf.isLive(before.refreshToken)).toBe(false);
    expect(record(world, token)).toMatchObject({
      version: 2,
      status: 'active',
      lastError: null,
      failedAttempts: 0,
      lastRefreshAt: world.clock.now().toISOString(),
      leaseOwner: null,
      leaseExpiresAt: null,
    });
    expect(Date.parse(record(world, token).accessExpiresAt)).toBe(world.clock.now().getTime() + 90 * DAY);
    // due again at access expiry minus the margin, the outage allowance and a sweep period (90 − 41 days)
    expect(record(world, token).dueAt).toBe(new Date(world.clock.now().getTime() + 49 * DAY).toISOString());
    expect(eventsOf(world, 'refreshed')).toHaveLength(1);
    expect(eventsOf(world, 'refreshed')[0]).toMatchObject({ tokenId: token.tokenId, cuis: [CUI], details: { trigger: 'manual' } });
    expect(world.published.map((e) => e.type)).toContain('refreshed');
    expectNoSecrets(world);
  });

  it('rotation is persisted: each refresh presents the refresh token stored by the one before', async () => {
    const { world, token } = await dueWorld();
    for (let i = 0; i < 4; i++) {
      world.clock.advance(61_000);
      expect((await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'manual' })).outcome).toBe('refreshed');
    }
    expect(world.anaf.refreshCalls).toBe(4);
    expect(world.anaf.spentPresented).toEqual([]);
    expect(pair(world, token).version).toBe(5);
    expect(record(world, token).version).toBe(5);
    expect(world.anaf.isLive(pair(world, token).refreshToken)).toBe(true);
  });

  it('manual refresh within the cool-down answers the last result without calling ANAF', async () => {
    const { world, token } = await dueWorld();
    await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'manual' });
    world.clock.advance(30_000);
    const again = await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'manual' });
    expect(again.outcome).toBe('skipped');
    expect(again.error).toBeUndefined();
    expect(again.token.version).toBe(2);
    expect(world.anaf.refreshCalls).toBe(1);
  });

  it('sweep: a token not due is skipped without a lease or an ANAF call', async () => {
    const world = createFakeWorld();
    const token = await world.connect({ tenantId: T, cuis: [CUI] });
    const acquire = vi.spyOn(world.tokens, 'acquireLease');
    const result = await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'sweep' });
    expect(result.outcome).toBe('skipped');
    expect(acquire).not.toHaveBeenCalled();
    expect(world.anaf.refreshCalls).toBe(0);
  });

  it('on-demand: refreshes only below the minimum validity', async () => {
    const world = createFakeWorld({ settings: { accessTokenMinValiditySeconds: 20 * 86_400 } });
    const token = await world.connect({ tenantId: T, cuis: [CUI] });
    expect((await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'on-demand' })).outcome).toBe('skipped');
    world.clock.advance(71 * DAY);
    expect((await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'on-demand' })).outcome).toBe('refreshed');
    expect(world.anaf.refreshCalls).toBe(1);
  });

  it('a refresh token past its exp → reauth-required without calling ANAF, event with a connect link', async () => {
    const world = createFakeWorld();
    world.anaf.lifetimes.refreshSeconds = 3 * 86_400;
    const token = await world.connect({ tenantId: T, cuis: [CUI] });
    world.clock.advance(3 * DAY + 1000);
    const result = await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'sweep' });
    expect(result.outcome).toBe('reauth-required');
    expect(result.error?.code).toBe('REAUTH_REQUIRED');
    expect(world.anaf.refreshCalls).toBe(0);
    expect(record(world, token)).toMatchObject({ status: 'reauth-required', lastError: 'REFRESH_TOKEN_EXPIRED', dueAt: null, leaseOwner: null });
    const [event] = eventsOf(world, 'reauth-required');
    expect(event?.connectUrl).toMatch(/^https:\/\/broker\.example\.test\/v1\/oauth\/authorize\?session=cs_/);
    expect(event?.details).toMatchObject({ reason: 'REFRESH_TOKEN_EXPIRED' });
  });

  it('invalid_grant → reauth-required (409 REAUTH_REQUIRED), event with a connect link', async () => {
    const { world, token } = await dueWorld();
    world.anaf.failNext('invalid_grant');
    const result = await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'manual' });
    expect(result.outcome).toBe('reauth-required');
    expect(result.error?.code).toBe('REAUTH_REQUIRED');
    expect(world.anaf.refreshCalls).toBe(1);
    expect(record(world, token)).toMatchObject({ status: 'reauth-required', lastError: 'INVALID_GRANT', dueAt: null });
    expect(eventsOf(world, 'reauth-required')[0]?.connectUrl).toMatch(/session=cs_/);
    // refused afterwards by the sweep and the access-token route, without ANAF
    for (const trigger of ['sweep', 'on-demand'] as const) {
      const again = await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger });
      expect(again.error?.code).toBe('REAUTH_REQUIRED');
    }
    expect(world.anaf.refreshCalls).toBe(1);
    expectNoSecrets(world);
  });

  it('a wrong verdict can be undone: a manual refresh of a reauth-required token tries ANAF once; success → active and a `recovered` event', async () => {
    const { world, token } = await dueWorld();
    // ANAF refused once without spending the token (what a wrong verdict looks like)
    world.anaf.failNext('invalid_grant');
    await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'sweep' });
    expect(record(world, token).status).toBe('reauth-required');
    const result = await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'manual' });
    expect(result.outcome).toBe('refreshed');
    expect(record(world, token)).toMatchObject({ status: 'active', lastError: null, version: 2 });
    expect(eventsOf(world, 'recovered')).toHaveLength(1);
    expect(world.anaf.refreshCalls).toBe(2);
  });

  it('a refused recovery attempt announces nothing new and is not retried within the cool-down', async () => {
    const { world, token } = await dueWorld();
    world.anaf.failNext('invalid_grant', 2);
    await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'sweep' });
    const tried = await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'manual' });
    expect(tried.error?.code).toBe('REAUTH_REQUIRED');
    expect(eventsOf(world, 'reauth-required')).toHaveLength(1);
    const again = await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'manual' });
    expect(again.error?.code).toBe('REAUTH_REQUIRED');
    expect(world.anaf.refreshCalls).toBe(2);
  });

  it('invalid_client → stays active, lastError CLIENT_REJECTED, 502 ANAF_REJECTED, no in-run retry', async () => {
    const { world, token } = await dueWorld();
    world.anaf.clients.set('fake-client-id', 'rotated-by-the-vendor');
    const result = await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'manual' });
    expect(result.outcome).toBe('failed');
    expect(result.error?.code).toBe('ANAF_REJECTED');
    expect(world.anaf.refreshCalls).toBe(1);
    expect(record(world, token)).toMatchObject({ status: 'active', lastError: 'CLIENT_REJECTED', failedAttempts: 1, version: 1 });
    expect(eventsOf(world, 'refresh-failed')[0]?.details).toMatchObject({ reason: 'CLIENT_REJECTED', failedAttempts: 1 });
    // the stored pair is untouched and still works once the vendor fixes the secret
    expect(world.anaf.isLive(pair(world, token).refreshToken)).toBe(true);
    expectNoSecrets(world);
  });

  it('5xx: retried in the run with backoff (3 attempts), then stays active with the error, attempt count and a retry time', async () => {
    const { world, token } = await dueWorld();
    world.anaf.failNext('unavailable', 3);
    const started = Date.now();
    const result = await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'sweep' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(700); // 250 ms + 500 ms
    expect(result.outcome).toBe('failed');
    expect(result.error?.code).toBe('ANAF_UNAVAILABLE');
    expect(world.anaf.refreshCalls).toBe(3);
    expect(record(world, token)).toMatchObject({ status: 'active', lastError: 'ANAF_UNAVAILABLE', failedAttempts: 1, leaseOwner: null });
    expect(record(world, token).dueAt).toBe(new Date(world.clock.now().getTime() + 3_600_000).toISOString());
    expect(world.anaf.isLive(pair(world, token).refreshToken)).toBe(true);
  });

  it('5xx twice then success: refreshed in the same run', async () => {
    const { world, token } = await dueWorld();
    world.anaf.failNext('unavailable', 2);
    const result = await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'sweep' });
    expect(result.outcome).toBe('refreshed');
    expect(world.anaf.refreshCalls).toBe(3);
    expect(world.anaf.spentPresented).toEqual([]);
  });

  it('429 with Retry-After: waits as told before the retry', async () => {
    const { world, token } = await dueWorld();
    world.anaf.failNext({ kind: 'unavailable', status: 429, retryAfterSeconds: 1 });
    const started = Date.now();
    const result = await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'manual' });
    expect(result.outcome).toBe('refreshed');
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(world.anaf.calls).toHaveLength(2);
  });

  it('429 with a Retry-After longer than the run may wait: no retry in this run (never earlier than told)', async () => {
    const { world, token } = await dueWorld();
    world.anaf.failNext({ kind: 'unavailable', status: 429, retryAfterSeconds: 120 }, 3);
    const started = Date.now();
    const result = await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'manual' });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(result.error?.code).toBe('ANAF_UNAVAILABLE');
    expect(world.anaf.refreshCalls).toBe(1);
    expect(Date.parse(record(world, token).dueAt!)).toBeGreaterThanOrEqual(world.clock.now().getTime() + 120_000);
  });

  it('a read timeout is never retried in the run: ANAF may have rotated', async () => {
    const { world, token } = await dueWorld();
    world.anaf.failNext('timeout');
    const result = await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'manual' });
    expect(result.error?.code).toBe('ANAF_UNAVAILABLE');
    expect(world.anaf.refreshCalls).toBe(1);
    expect(record(world, token)).toMatchObject({ status: 'active', lastError: 'ANAF_TIMEOUT', failedAttempts: 1 });
    // ANAF had not acted: the next run works with the stored refresh token
    world.clock.advance(2 * 3_600_000);
    expect((await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'sweep' })).outcome).toBe('refreshed');
    expect(record(world, token)).toMatchObject({ failedAttempts: 0, lastError: null, version: 2 });
  });

  it('ANAF acted and the answer was lost (drop): one call only; the next run learns invalid_grant and asks for re-authorization', async () => {
    const { world, token } = await dueWorld();
    world.anaf.failNext('drop');
    const result = await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'sweep' });
    expect(result.outcome).toBe('failed');
    expect(world.anaf.refreshCalls).toBe(1);
    expect(world.anaf.spentPresented).toEqual([]);
    expect(record(world, token)).toMatchObject({ status: 'active', lastError: 'ANAF_TIMEOUT' });
    world.clock.advance(2 * 3_600_000);
    const next = await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'sweep' });
    expect(next.outcome).toBe('reauth-required');
    expect(eventsOf(world, 'reauth-required')[0]?.connectUrl).toBeTruthy();
  });

  it('3 consecutive failed runs send one `expiring` warning with a connect link; the 4th does not repeat it', async () => {
    const { world, token } = await dueWorld();
    world.anaf.clients.set('fake-client-id', 'wrong');
    for (let run = 1; run <= 4; run++) {
      const result = await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'sweep' });
      expect(result.outcome).toBe('failed');
      expect(record(world, token).failedAttempts).toBe(run);
      world.clock.set(record(world, token).dueAt!);
    }
    const warnings = eventsOf(world, 'expiring');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ details: { reason: 'REFRESH_FAILING', failedAttempts: 3 } });
    expect(warnings[0]?.connectUrl).toMatch(/session=cs_/);
    expect(eventsOf(world, 'refresh-failed')).toHaveLength(4);
  });

  it('refuses reauth-required and disconnected tokens without calling ANAF', async () => {
    const world = createFakeWorld();
    const a = await world.connect({ tenantId: T, cuis: [CUI] });
    const b = await world.connect({ tenantId: T, cuis: ['18547290'] });
    world.tokens.records.set(`${T}/${a.tokenId}`, { ...record(world, a), status: 'reauth-required' });
    world.tokens.records.set(`${T}/${b.tokenId}`, { ...record(world, b), status: 'disconnected' });
    // a reauth-required refresh token past its exp is refused even to a manual refresh
    world.tokens.records.set(`${T}/${a.tokenId}`, { ...record(world, a), status: 'reauth-required', refreshExpiresAt: world.clock.now().toISOString() });
    for (const trigger of ['sweep', 'manual', 'on-demand'] as const) {
      expect((await refreshToken(world.deps, { tenantId: T, tokenId: a.tokenId, trigger })).error?.code).toBe('REAUTH_REQUIRED');
      expect((await refreshToken(world.deps, { tenantId: T, tokenId: b.tokenId, trigger })).error?.code).toBe('TOKEN_DISCONNECTED');
    }
    expect(world.anaf.refreshCalls).toBe(0);
  });

  it('an unknown token is TOKEN_NOT_FOUND', async () => {
    const world = createFakeWorld();
    await expect(refreshToken(world.deps, { tenantId: T, tokenId: 'tok_000000000000000000000000', trigger: 'manual' })).rejects.toMatchObject({
      code: 'TOKEN_NOT_FOUND',
    });
  });
});

describe('refreshToken: a failure injected after each step, then the next run', () => {
  it('before ANAF (client secret unreadable): nothing changes, the lease is released, the next run refreshes', async () => {
    const { world, token } = await dueWorld();
    const broken = breakMethod(world.secrets, 'getClientSecret', { times: 1 });
    await expect(refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'sweep' })).rejects.toThrow(/injected/);
    expect(broken.failures).toBe(1);
    expect(world.anaf.refreshCalls).toBe(0);
    expect(record(world, token)).toMatchObject({ version: 1, leaseOwner: null });
    expect((await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'sweep' })).outcome).toBe('refreshed');
    expect(world.anaf.isLive(pair(world, token).refreshToken)).toBe(true);
  });

  it('after ANAF answered, the secret write fails twice: retried in the run, the new pair lands', async () => {
    const { world, token } = await dueWorld();
    breakMethod(world.secrets, 'putTokenPair', { times: 2 });
    const result = await withFastSleeps(() => refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'sweep' }));
    expect(result.outcome).toBe('refreshed');
    expect(world.anaf.refreshCalls).toBe(1);
    expect(pair(world, token).version).toBe(2);
    expect(record(world, token).version).toBe(2);
    expect(world.anaf.isLive(pair(world, token).refreshToken)).toBe(true);
  });

  it('after ANAF answered, every secret write fails: the pair goes to the escrow, the next run moves it into the secret and access continues', async () => {
    const { world, token } = await dueWorld();
    const broken = breakMethod(world.secrets, 'putTokenPair');
    const result = await withFastSleeps(() => refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'sweep' }));
    expect(result.outcome).toBe('refreshed');
    expect(broken.failures).toBe(3);
    const escrowed = world.escrow.items.get(`${T}/${token.tokenId}`)!;
    expect(escrowed.version).toBe(2);
    expect(world.anaf.isLive(escrowed.refreshToken)).toBe(true);
    expect(record(world, token)).toMatchObject({ version: 2, status: 'active', secretVersionId: escrowed.versionId });
    broken.restore();
    world.clock.advance(80 * DAY);
    const next = await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'sweep' });
    expect(next.outcome).toBe('refreshed');
    expect(world.anaf.spentPresented).toEqual([]);
    expect(world.escrow.items.size).toBe(0);
    expect(record(world, token)).toMatchObject({ version: 3, status: 'active' });
    expect(world.anaf.isLive(pair(world, token).refreshToken)).toBe(true);
    expectNoSecrets(world);
  });

  it('after ANAF answered, the secret store and the escrow are both down: the run fails loudly and the record is untouched (the one unclosable window)', async () => {
    const { world, token } = await dueWorld();
    const broken = breakMethod(world.secrets, 'putTokenPair');
    breakMethod(world.escrow, 'put');
    await expect(withFastSleeps(() => refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'sweep' }))).rejects.toThrow(/injected/);
    expect(broken.failures).toBe(3);
    expect(record(world, token)).toMatchObject({ version: 1, status: 'active', leaseOwner: null });
    broken.restore();
    // ANAF rotated and the answer is gone: the next run learns it and asks a person to connect again.
    const next = await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'sweep' });
    expect(next.outcome).toBe('reauth-required');
    expect(world.logs.some((l) => l.level === 'error' && l.message.includes('storing the rotated pair failed'))).toBe(true);
    expectNoSecrets(world);
  });

  it('after the secret write, the metadata write fails: the next run adopts the stored pair without calling ANAF', async () => {
    const { world, token } = await dueWorld();
    breakMethod(world.tokens, 'replace', { times: 1 });
    await expect(refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'sweep' })).rejects.toThrow(/injected/);
    expect(pair(world, token).version).toBe(2);
    expect(record(world, token)).toMatchObject({ version: 1, leaseOwner: null });

    const next = await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'sweep' });
    expect(next.outcome).toBe('recovered');
    expect(world.anaf.refreshCalls).toBe(1);
    expect(record(world, token)).toMatchObject({ version: 2, status: 'active', lastError: null, leaseOwner: null });
    expect(Date.parse(record(world, token).accessExpiresAt)).toBe(world.clock.now().getTime() + 90 * DAY);
    expect(world.anaf.isLive(pair(world, token).refreshToken)).toBe(true);
    expect(eventsOf(world, 'refreshed').at(-1)?.details).toMatchObject({ recovered: true });
  });

  it('the process dies after the secret write (lease never released): others wait, then the next run after the lease term adopts', async () => {
    const { world, token } = await dueWorld();
    breakMethod(world.tokens, 'replace', { times: 1 });
    breakMethod(world.tokens, 'releaseLease', { times: 1 });
    await expect(refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'sweep' })).rejects.toThrow(/injected/);
    expect(record(world, token).leaseOwner).toMatch(/^lease_/);

    const busy = await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'sweep' });
    expect(busy.outcome).toBe('busy');
    expect(world.anaf.refreshCalls).toBe(1);

    world.clock.set(new Date(Date.parse(record(world, token).leaseExpiresAt!) + 1000));
    const next = await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'sweep' });
    expect(next.outcome).toBe('recovered');
    expect(world.anaf.refreshCalls).toBe(1);
    expect(record(world, token)).toMatchObject({ version: 2, leaseOwner: null });
    expect(world.anaf.isLive(pair(world, token).refreshToken)).toBe(true);
  });

  it('after the metadata write, recording the event fails: the refresh still counts and the pair works', async () => {
    const { world, token } = await dueWorld();
    breakMethod(world.deps.companies, 'listByToken', { times: 1 });
    const result = await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'manual' });
    expect(result.outcome).toBe('refreshed');
    expect(record(world, token)).toMatchObject({ version: 2, status: 'active' });
    expect(world.anaf.isLive(pair(world, token).refreshToken)).toBe(true);
  });
});

describe('refreshToken under concurrency (in memory, interleaved)', () => {
  it('25 simultaneous refreshes (sweep + manual + on-demand) make one ANAF call and leave the newest pair', async () => {
    const { world, token } = await dueWorld({ jitter: true, settings: { accessTokenMinValiditySeconds: 30 * 86_400 } });
    world.anaf.latencyMs = 30;
    const triggers = Array.from({ length: 25 }, (_, i) => (['sweep', 'manual', 'on-demand'] as const)[i % 3]!);
    const results = await Promise.all(triggers.map((trigger) => refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger })));
    expect(world.anaf.refreshCalls).toBe(1);
    expect(world.anaf.spentPresented).toEqual([]);
    expect(results.filter((r) => r.outcome === 'refreshed')).toHaveLength(1);
    // Callers wait for the holder's result; only the sweep skips a leased token (busy) and moves on.
    results.forEach((r, i) => {
      if (triggers[i] === 'sweep' && r.outcome === 'busy') return;
      expect(r.error, `${triggers[i]}: ${r.outcome}`).toBeUndefined();
    });
    expect(record(world, token)).toMatchObject({ version: 2, status: 'active', leaseOwner: null });
    expect(pair(world, token).version).toBe(2);
    expect(world.anaf.isLive(pair(world, token).refreshToken)).toBe(true);
    expect(eventsOf(world, 'refreshed')).toHaveLength(1);
  });

  it('callers that waited for a failing refresh answer its result instead of calling ANAF again', async () => {
    const { world, token } = await dueWorld({ jitter: true, settings: { accessTokenMinValiditySeconds: 30 * 86_400 } });
    // past half of the 10-day token's life, so that the access-token route wants a refresh too
    world.clock.advance(6 * DAY);
    world.anaf.latencyMs = 30;
    world.anaf.failNext('unavailable', 100);
    const triggers = Array.from({ length: 8 }, (_, i) => (i % 2 ? 'manual' : 'on-demand') as 'manual' | 'on-demand');
    const results = await Promise.all(triggers.map((trigger) => refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger })));
    expect(world.anaf.refreshCalls).toBe(3); // one run's in-run attempts
    for (const r of results) expect(r.error?.code).toBe('ANAF_UNAVAILABLE');
    expect(record(world, token)).toMatchObject({ status: 'active', failedAttempts: 1, lastError: 'ANAF_UNAVAILABLE', leaseOwner: null });
  });

  it('a holder that outlives its lease: the run that took over hits invalid_grant, yet the pair the holder stores is adopted, not stranded', async () => {
    const { world, token } = await dueWorld();
    // holder A: ANAF rotates, then A stalls (a slow store, a paused container) past its lease
    let resume!: () => void;
    const stalled = new Promise<void>((resolve) => (resume = resolve));
    let reachedAnaf!: () => void;
    const atAnaf = new Promise<void>((resolve) => (reachedAnaf = resolve));
    const slowDeps = {
      ...world.deps,
      anaf: {
        ...world.anaf,
        refresh: async (input: Parameters<typeof world.anaf.refresh>[0]) => {
          const answer = await world.anaf.refresh(input);
          reachedAnaf();
          await stalled;
          return answer;
        },
      },
    };
    const holder = refreshToken(slowDeps, { tenantId: T, tokenId: token.tokenId, trigger: 'manual' });
    await atAnaf;
    world.clock.set(new Date(Date.parse(record(world, token).leaseExpiresAt!) + 1000));
    // B takes the lapsed lease and presents the refresh token A just spent
    const taker = await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'sweep' });
    expect(taker.outcome).toBe('reauth-required');
    resume();
    await holder;
    expect(pair(world, token).version).toBe(2);
    expect(world.anaf.isLive(pair(world, token).refreshToken)).toBe(true);
    // the next run sees a stored pair newer than the record and adopts it instead of refusing
    world.clock.advance(61_000);
    const next = await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'manual' });
    expect(next.error).toBeUndefined();
    expect(record(world, token)).toMatchObject({ status: 'active', lastError: null });
    expect(world.anaf.isLive(pair(world, token).refreshToken)).toBe(true);
  });

  it('a refresh-token warning never takes over a live refresh lease', async () => {
    const world = createFakeWorld();
    world.anaf.lifetimes.refreshSeconds = 20 * 86_400;
    const token = await world.connect({ tenantId: T, cuis: [CUI] });
    const readBefore = record(world, token);
    const leased = await world.tokens.acquireLease(T, token.tokenId, 'lease_other', world.clock.now(), 60);
    expect(leased).not.toBeNull();
    await warnIfExpiring(world.deps, readBefore);
    expect(record(world, token).leaseOwner).toBe('lease_other');
    // once the lease is free the warning goes out, once
    await world.tokens.releaseLease(T, token.tokenId, 'lease_other');
    await warnIfExpiring(world.deps, record(world, token));
    await warnIfExpiring(world.deps, record(world, token));
    expect(eventsOf(world, 'expiring')).toHaveLength(1);
    expect(record(world, token)).toMatchObject({ warningsSent: [30], leaseOwner: null });
  });
});

describe('rotations per authorization (ANAF_ROTATION_CAP)', () => {
  it('counts one per rotation at ANAF: 0 after the login, +1 per refresh, unchanged by a failed one', async () => {
    const { world, token } = await dueWorld({ settings: { manualRefreshCooldownSeconds: 0 } });
    expect(record(world, token).rotationCount).toBe(0);
    await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'manual' });
    await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'manual' });
    expect(record(world, token).rotationCount).toBe(2);
    world.anaf.failNext('unavailable', 3);
    await withFastSleeps(() => refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'manual' }));
    expect(record(world, token)).toMatchObject({ rotationCount: 2, failedAttempts: 1 });
    expectNoSecrets(world);
  });

  it('a rotation whose metadata write was lost counts once, when the next run adopts its pair', async () => {
    const { world, token } = await dueWorld();
    breakMethod(world.tokens, 'replace', { times: 1 });
    await expect(refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'sweep' })).rejects.toThrow(/injected/);
    expect(record(world, token).rotationCount).toBe(0);
    expect((await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'sweep' })).outcome).toBe('recovered');
    expect(world.anaf.refreshCalls).toBe(1);
    expect(record(world, token).rotationCount).toBe(1);
    // a later run with nothing to do changes nothing
    await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'sweep' });
    expect(record(world, token).rotationCount).toBe(1);
  });

  it('a new authorization starts again: a re-authorization by the same certificate resets it to 0, an import counts its own rotation', async () => {
    const { world, token } = await dueWorld({ settings: { manualRefreshCooldownSeconds: 0 } });
    await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'manual' });
    const again = await world.connect({ tenantId: T, cuis: [CUI], serial: token.serial! });
    expect(again.tokenId).toBe(token.tokenId);
    expect(record(world, token).rotationCount).toBe(0);
    const clientId = [...world.anaf.clients.keys()][0]!;
    const pasted = world.anaf.issue({ clientId, serial: token.serial! });
    await importToken(world.deps, { tenantId: T, ...pasted, cuis: [], replace: true });
    expect(record(world, token).rotationCount).toBe(1);
  });

  it('under a cap, the rotations running out before the refresh token ends send the `expiring` warnings against that end, with a link', async () => {
    const { world, token } = await dueWorld({ settings: { rotationCap: 2, manualRefreshCooldownSeconds: 0 } });
    await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'manual' });
    // one left: the rotations run out 49 + 49 days ahead, the refresh token in 365: nothing to warn of yet
    expect(await warnIfExpiring(world.deps, record(world, token))).toBe(record(world, token));
    await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'manual' });
    const spent = record(world, token);
    // none left: the next rotation the sweep needs (in 49 days) is the one ANAF would refuse; its 30-day warning is due in 19
    expect(spent.dueAt).toBe(new Date(world.clock.now().getTime() + 19 * DAY).toISOString());
    world.clock.advance(19 * DAY);
    await warnIfExpiring(world.deps, record(world, token));
    const [warning] = eventsOf(world, 'expiring');
    expect(warning).toMatchObject({
      connectUrl: expect.stringMatching(/\/v1\/oauth\/authorize\?session=cs_/),
      details: { reason: 'ROTATION_CAP', thresholdDays: 30, daysLeft: 30, rotationsLeft: 0, rotationCap: 2, endsAt: new Date(Date.parse(spent.accessExpiresAt) - 41 * DAY).toISOString(), refreshExpiresAt: spent.refreshExpiresAt },
    });
    expect(record(world, token).warningsSent).toEqual([30]);
    // the same token without a cap assumed warns of nothing
    world.deps.settings.rotationCap = null;
    world.clock.advance(20 * DAY);
    await warnIfExpiring(world.deps, record(world, token));
    expect(eventsOf(world, 'expiring')).toHaveLength(1);
  });

  it('under a cap, the sweep spends no early rotation in the warning window once none is left; it warns instead', async () => {
    const world = createFakeWorld({ settings: { rotationCap: 1 } });
    world.anaf.lifetimes.accessSeconds = 200 * 86_400;
    world.anaf.lifetimes.refreshSeconds = 100 * 86_400;
    const token = await world.connect({ tenantId: T, cuis: [CUI] });
    world.tokens.records.set(`${T}/${token.tokenId}`, { ...record(world, token), rotationCount: 1 });
    world.clock.advance(71 * DAY);
    const result = await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'sweep' });
    expect(result.outcome).toBe('skipped');
    expect(world.anaf.refreshCalls).toBe(0);
    await warnIfExpiring(world.deps, record(world, token));
    expect(eventsOf(world, 'expiring')[0]?.details).toMatchObject({ reason: 'REFRESH_TOKEN_ENDING', thresholdDays: 30 });
    // with one rotation left it is spent (the suspect-1 rotation)
    world.tokens.records.set(`${T}/${token.tokenId}`, { ...record(world, token), rotationCount: 0, warningsSent: [] });
    expect((await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'sweep' })).outcome).toBe('refreshed');
    expect(world.anaf.refreshCalls).toBe(1);
  });
});

describe('refreshToken: waiting for another run', () => {
  it('a caller waiting on a live lease reads with a back-off and never asks for the lease it can see is held', async () => {
    const { world, token } = await dueWorld();
    await world.tokens.acquireLease(T, token.tokenId, 'lease_elsewhere', world.clock.now(), 60);
    const acquire = vi.spyOn(world.tokens, 'acquireLease');
    const get = vi.spyOn(world.tokens, 'get');
    const result = await withFastSleeps(() => refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'manual' }), ['setTimeout', 'Date']);
    expect(result.outcome).toBe('busy');
    expect(result.error?.code).toBe('REFRESH_IN_PROGRESS');
    expect(world.anaf.refreshCalls).toBe(0);
    // One try for the lease, then reads only while the record shows it held: a refused conditional write
    // costs a write in DynamoDB, and 100 ms polls of both for 5 s made ~50 of each per waiting caller.
    expect(acquire).toHaveBeenCalledTimes(1);
    expect(get.mock.calls.length).toBeGreaterThan(3);
    expect(get.mock.calls.length).toBeLessThanOrEqual(12);
  });

  it('takes the lease as soon as a read shows it free, and refreshes', async () => {
    const { world, token } = await dueWorld();
    await world.tokens.acquireLease(T, token.tokenId, 'lease_elsewhere', world.clock.now(), 60);
    const acquire = vi.spyOn(world.tokens, 'acquireLease');
    const result = await withFastSleeps(async () => {
      const waiting = refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'manual' });
      // the holder gives up without writing anything (a failure before ANAF): the record is unchanged
      await new Promise((resolve) => setTimeout(resolve, 700));
      await world.tokens.releaseLease(T, token.tokenId, 'lease_elsewhere');
      return waiting;
    }, ['setTimeout', 'Date']);
    expect(result.outcome).toBe('refreshed');
    expect(world.anaf.refreshCalls).toBe(1);
    expect(acquire).toHaveBeenCalledTimes(2);
    expect(record(world, token)).toMatchObject({ version: 2, leaseOwner: null });
  });
});
