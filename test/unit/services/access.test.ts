import { describe, expect, it } from 'vitest';
import type { TokenRecord } from '../../../shared/domain/model.js';
import { issueAccessToken, manualRefresh } from '../../../shared/services/access.js';
import { refreshToken } from '../../../shared/services/refresh.js';
import { createFakeWorld, type FakeWorld } from '../../support/fakes.js';
import { withFastSleeps } from '../../support/fast-timers.js';

const DAY = 86_400_000;
const T = 'acme';
const [A, B] = ['14399840', '18547290'];
const record = (world: FakeWorld, t: TokenRecord) => world.tokens.records.get(`${t.tenantId}/${t.tokenId}`)!;
const pairOf = (world: FakeWorld, t: TokenRecord) => world.secrets.pairs.get(`${t.tenantId}/${t.tokenId}`)!;

describe('issueAccessToken (GET …/access-token)', () => {
  it('answers the stored access token without refreshing when enough validity is left, and audits the hand-out', async () => {
    const world = createFakeWorld();
    const token = await world.connect({ tenantId: T, cuis: [A, B] });
    const answer = await issueAccessToken(world.deps, T, B);
    expect(answer).toEqual({ accessToken: pairOf(world, token).accessToken, expiresAt: token.accessExpiresAt, tokenId: token.tokenId });
    expect(world.anaf.refreshCalls).toBe(0);
    const issued = world.audit.filter((e) => e.type === 'token-issued');
    expect(issued).toHaveLength(1);
    expect(issued[0]).toMatchObject({ cuis: [B], details: { refreshed: false } });
    expect(JSON.stringify(world.audit)).not.toContain(answer.accessToken);
  });

  it('refreshes first below ACCESS_TOKEN_MIN_VALIDITY_SECONDS and answers the new token', async () => {
    const world = createFakeWorld({ settings: { accessTokenMinValiditySeconds: 3600 } });
    const token = await world.connect({ tenantId: T, cuis: [A] });
    world.clock.advance(90 * DAY - 1800_000);
    const answer = await issueAccessToken(world.deps, T, A);
    expect(world.anaf.refreshCalls).toBe(1);
    expect(answer.accessToken).toBe(pairOf(world, token).accessToken);
    expect(pairOf(world, token).version).toBe(2);
    expect(Date.parse(answer.expiresAt)).toBe(world.clock.now().getTime() + 90 * DAY);
    expect(world.audit.find((e) => e.type === 'token-issued')?.details).toMatchObject({ refreshed: true });
  });

  it('a transient refresh failure still hands out a token that is valid; 503 once nothing valid is left', async () => {
    const world = createFakeWorld({ settings: { accessTokenMinValiditySeconds: 3600 } });
    const token = await world.connect({ tenantId: T, cuis: [A] });
    world.clock.advance(90 * DAY - 1800_000);
    world.anaf.failNext('timeout');
    const answer = await issueAccessToken(world.deps, T, A);
    expect(answer.accessToken).toBe(pairOf(world, token).accessToken);
    expect(record(world, token)).toMatchObject({ failedAttempts: 1, lastError: 'ANAF_TIMEOUT', status: 'active' });

    world.clock.advance(3_600_000);
    world.anaf.failNext('unavailable', 3);
    await expect(issueAccessToken(world.deps, T, A)).rejects.toMatchObject({ code: 'ANAF_UNAVAILABLE' });
  });

  it('while another run holds the refresh lease, a token that is still valid is handed out instead of 409', async () => {
    const world = createFakeWorld({ settings: { accessTokenMinValiditySeconds: 3600 } });
    const token = await world.connect({ tenantId: T, cuis: [A] });
    world.clock.advance(90 * DAY - 1800_000); // 30 minutes left: below the minimum, still valid
    await world.tokens.acquireLease(T, token.tokenId, 'lease_stuck', world.clock.now(), 60);
    // The join wait (JOIN_WAIT_MS of Date.now() and sleeps) on fake timers: the same wait, in milliseconds.
    const fastJoin = <R>(fn: () => Promise<R>) => withFastSleeps(fn, ['setTimeout', 'Date']);
    const { answer, waited } = await fastJoin(async () => {
      const started = Date.now();
      return { answer: await issueAccessToken(world.deps, T, A), waited: Date.now() - started };
    });
    expect(waited).toBeLessThan(6000); // waited for the holder at most the join time
    expect(answer.accessToken).toBe(pairOf(world, token).accessToken);
    expect(world.anaf.refreshCalls).toBe(0);
    // an expired one is not: then the caller hears REFRESH_IN_PROGRESS
    world.clock.advance(3600_000);
    await world.tokens.acquireLease(T, token.tokenId, 'lease_stuck_2', world.clock.now(), 60);
    await expect(fastJoin(() => issueAccessToken(world.deps, T, A))).rejects.toMatchObject({ code: 'REFRESH_IN_PROGRESS' });
  });

  it('reauth-required, not connected, unknown company and unknown tenant are clear errors', async () => {
    const world = createFakeWorld();
    const token = await world.connect({ tenantId: T, cuis: [A] });
    world.companies.set(`${T}/${B}`, { tenantId: T, cui: B, name: null, tokenId: null, createdAt: '', updatedAt: '' });
    await expect(issueAccessToken(world.deps, T, B)).rejects.toMatchObject({ code: 'NOT_CONNECTED' });
    await expect(issueAccessToken(world.deps, T, '13548146')).rejects.toMatchObject({ code: 'COMPANY_NOT_FOUND' });
    await expect(issueAccessToken(world.deps, 'nobody', A)).rejects.toMatchObject({ code: 'TENANT_NOT_FOUND' });
    world.tokens.records.set(`${T}/${token.tokenId}`, { ...record(world, token), status: 'reauth-required', accessExpiresAt: new Date(world.clock.now().getTime() - 1000).toISOString() });
    await expect(issueAccessToken(world.deps, T, A)).rejects.toMatchObject({ code: 'REAUTH_REQUIRED' });
  });

  it('reauth-required with an access token still valid: handed out until it expires (the companies keep working while the holder reconnects), never refreshed', async () => {
    const world = createFakeWorld();
    const token = await world.connect({ tenantId: T, cuis: [A] });
    world.tokens.records.set(`${T}/${token.tokenId}`, { ...record(world, token), status: 'reauth-required', lastError: 'INVALID_GRANT' });
    world.clock.advance(89 * DAY);
    const answer = await issueAccessToken(world.deps, T, A);
    expect(answer).toEqual({ accessToken: pairOf(world, token).accessToken, expiresAt: token.accessExpiresAt, tokenId: token.tokenId });
    expect(world.anaf.refreshCalls).toBe(0);
    expect(world.audit.find((e) => e.type === 'token-issued')?.details).toMatchObject({ refreshed: false, reauthRequired: true });
    world.clock.advance(DAY);
    await expect(issueAccessToken(world.deps, T, A)).rejects.toMatchObject({ code: 'REAUTH_REQUIRED' });
    expect(world.anaf.refreshCalls).toBe(0);
  });
});

describe('manualRefresh (HTTP button, console, CLI)', () => {
  it('by tokenId or by CUI answers the token metadata, never a token', async () => {
    const world = createFakeWorld({ settings: { manualRefreshCooldownSeconds: 0 } });
    const token = await world.connect({ tenantId: T, cuis: [A, B] });
    const byId = await manualRefresh(world.deps, { tenantId: T, tokenId: token.tokenId });
    expect(byId).toMatchObject({ tokenId: token.tokenId, status: 'active', cuis: [A, B], lastError: null });
    const byCui = await manualRefresh(world.deps, { tenantId: T, cui: B });
    expect(byCui.tokenId).toBe(token.tokenId);
    expect(world.anaf.refreshCalls).toBe(2);
    for (const value of world.anaf.issued) expect(JSON.stringify([byId, byCui])).not.toContain(value);
  });

  it('answers the failure as the error the route maps (502 / 503 / 409)', async () => {
    const world = createFakeWorld({ settings: { manualRefreshCooldownSeconds: 0 } });
    const token = await world.connect({ tenantId: T, cuis: [A] });
    world.anaf.failNext('invalid_client');
    await expect(manualRefresh(world.deps, { tenantId: T, tokenId: token.tokenId })).rejects.toMatchObject({ code: 'ANAF_REJECTED' });
    world.anaf.failNext('timeout');
    await expect(manualRefresh(world.deps, { tenantId: T, tokenId: token.tokenId })).rejects.toMatchObject({ code: 'ANAF_UNAVAILABLE' });
    world.anaf.failNext('invalid_grant');
    await expect(manualRefresh(world.deps, { tenantId: T, tokenId: token.tokenId })).rejects.toMatchObject({ code: 'REAUTH_REQUIRED' });
    await expect(manualRefresh(world.deps, { tenantId: T, tokenId: 'tok_ffffffffffffffffffffffff' })).rejects.toMatchObject({ code: 'TOKEN_NOT_FOUND' });
  });
});
