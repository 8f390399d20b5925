import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CUIS, connect, startTestStack, type ApiAnswer } from '../support/stack.js';
import { connectDueToken, stored } from '../support/refresh-helpers.js';

type Stack = Awaited<ReturnType<typeof startTestStack>>;
let stack: Stack;
let n = 0;
const tenant = () => `c${++n}-${Date.now().toString(36)}`;
const DAY_S = 86_400;
const control = () => stack.emulator!.control;

beforeAll(async () => {
  stack = await startTestStack({
    // A manual refresh within a minute of a success answers it (so the manual callers can join);
    // the access-token route refreshes below 30 days (so on-demand callers want a refresh too).
    MANUAL_REFRESH_COOLDOWN_SECONDS: '60',
    ACCESS_TOKEN_MIN_VALIDITY_SECONDS: String(30 * DAY_S),
    // the 50-round test rotates one token once per round at least
    MAX_ROTATIONS_PER_DAY: '1000',
  });
});
afterAll(async () => {
  await stack?.stop();
});
beforeEach(() => {
  control().reset();
});

const dueToken = () => connectDueToken(stack, tenant(), [CUIS[0], CUIS[1]]);

/** 8 manual (HTTP), 8 on-demand (HTTP) and 8 sweeps, all fired at once. */
function stampede(t: string, tokenId: string) {
  const calls: Array<Promise<{ kind: string; answer?: ApiAnswer; sweep?: Awaited<ReturnType<Stack['runSweep']>> }>> = [];
  for (let i = 0; i < 8; i++) {
    calls.push(stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`).then((answer) => ({ kind: 'manual', answer })));
    calls.push(stack.api.get(`/v1/tenants/${t}/companies/${CUIS[i % 2]}/access-token`).then((answer) => ({ kind: 'on-demand', answer })));
    calls.push(stack.runSweep().then((sweep) => ({ kind: 'sweep', sweep })));
  }
  return Promise.all(calls);
}

describe('concurrent refreshes of one token', () => {
  it.each([
    ['ANAF answering in 300 ms', 300],
    ['ANAF answering at once', 0],
  ])('24 simultaneous refreshes (sweep + manual + on-demand), %s: one call to ANAF, no spent token presented, newest pair stored', async (_name, latency) => {
    const { t, tokenId } = await dueToken();
    const original = (await stored(t, tokenId)).pair!;
    control().setLatency(latency);

    const results = await stampede(t, tokenId);

    expect(control().stats().tokenCalls.refresh_token).toBe(1);
    // Only the original refresh token was ever spent, so no call presented a spent one.
    expect(control().spentRefreshTokens()).toEqual([original.refreshToken]);
    const { record, pair } = await stored(t, tokenId);
    expect(record).toMatchObject({ status: 'active', version: 2, lastError: null, failedAttempts: 0, leaseOwner: null });
    expect(pair!.version).toBe(2);
    expect(control().isRefreshTokenLive(pair!.refreshToken)).toBe(true);

    for (const r of results.filter((r) => r.answer)) {
      expect(r.answer!.status, `${r.kind}: ${JSON.stringify(r.answer!.body)}`).toBe(200);
    }
    // an on-demand caller gets the newest token or, if it read before the rotation landed, the original
    // one (still valid for 10 days), and always the expiry of the token it got
    for (const r of results.filter((r) => r.kind === 'on-demand')) {
      expect([pair!.accessToken, original.accessToken]).toContain(r.answer!.body.accessToken);
      const claims = JSON.parse(Buffer.from(r.answer!.body.accessToken.split('.')[1], 'base64url').toString());
      expect(r.answer!.body.expiresAt).toBe(new Date(claims.exp * 1000).toISOString());
    }
    for (const r of results.filter((r) => r.kind === 'manual')) expect(r.answer!.body).toMatchObject({ tokenId, status: 'active' });
    const sweeps = results.filter((r) => r.sweep).map((r) => r.sweep!);
    expect(sweeps.reduce((sum, s) => sum + s.failed + s.reauthRequired, 0)).toBe(0);
    expect(sweeps.reduce((sum, s) => sum + s.refreshed, 0)).toBeLessThanOrEqual(1);

    const trail = (await stack.api.get(`/v1/tenants/${t}/events?limit=100`)).body.events as Array<{ type: string }>;
    expect(trail.filter((e) => e.type === 'refreshed')).toHaveLength(1);
    expect(trail.filter((e) => e.type === 'refresh-failed')).toHaveLength(0);
  }, 30_000);

  it('callers that wait for a failing refresh answer its failure: ANAF sees one run (3 attempts), not one per caller', async () => {
    const { t, tokenId } = await dueToken();
    const original = (await stored(t, tokenId)).pair!;
    control().setLatency(100);
    control().failNext('server_error', 100);
    const calls: Array<Promise<ApiAnswer & { kind: string }>> = [];
    for (let i = 0; i < 6; i++) {
      calls.push(stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`).then((a) => ({ ...a, kind: 'manual' })));
      calls.push(stack.api.get(`/v1/tenants/${t}/companies/${CUIS[0]}/access-token`).then((a) => ({ ...a, kind: 'on-demand' })));
    }
    const results = await Promise.all(calls);
    expect(control().stats().tokenCalls.refresh_token).toBe(3);
    for (const r of results.filter((r) => r.kind === 'manual')) {
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe('ANAF_UNAVAILABLE');
    }
    // the access token itself is still valid for 10 days: the ERP gets it, not an error
    for (const r of results.filter((r) => r.kind === 'on-demand')) {
      expect(r.status).toBe(200);
      expect(r.body.accessToken).toBe(original.accessToken);
    }
    const { record } = await stored(t, tokenId);
    expect(record).toMatchObject({ status: 'active', failedAttempts: 1, lastError: 'ANAF_UNAVAILABLE', version: 1, leaseOwner: null });
    expect(control().isRefreshTokenLive(original.refreshToken)).toBe(true);
  }, 30_000);

  it('a manual refresh within the cool-down answers the last result without calling ANAF', async () => {
    const { t, tokenId } = await dueToken();
    const first = await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`);
    const second = await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(second.body.lastRefreshAt).toBe(first.body.lastRefreshAt);
    expect(control().stats().tokenCalls.refresh_token).toBe(1);
  });
});

describe('50 rounds of mixed sweep / manual / on-demand / re-authorization on one token (atomic moto)', () => {
  it('0 spent refresh tokens presented, 0 false events, exactly one ANAF call per rotation, record and secret in step after every round', async () => {
    const { t, tokenId } = await dueToken();
    // every pair issued stays inside the 30-day margin, so each round's sweeps find the token due again
    control().setTokenLifetimes({ accessSeconds: 10 * DAY_S });
    control().setLatency(20);
    let reauthorizations = 0;
    for (let round = 0; round < 50; round++) {
      const calls: Array<Promise<{ kind: string; status: number }>> = [];
      for (let i = 0; i < 2; i++) {
        calls.push(stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`).then((a) => ({ kind: 'manual', status: a.status })));
        calls.push(stack.api.get(`/v1/tenants/${t}/companies/${CUIS[i]}/access-token`).then((a) => ({ kind: 'on-demand', status: a.status })));
        calls.push(stack.runSweep().then((s) => ({ kind: 'sweep', status: s.failed + s.reauthRequired === 0 ? 200 : 500 })));
      }
      // the same certificate logs in again (a callback for its serial), racing the refreshes
      calls.push(
        connect(stack.api, t, [CUIS[0]]).then(({ tokenId: linked }) => {
          if (linked === tokenId) reauthorizations++;
          return { kind: 'reauthorization', status: linked === tokenId ? 200 : 500 };
        }),
      );
      const results = await Promise.all(calls);
      for (const r of results) expect(r.status, `round ${round}: ${r.kind}`).toBe(200);
      expect(control().stats().refusedRefreshes, `round ${round}: a spent refresh token was presented`).toBe(0);
      const { record, pair } = await stored(t, tokenId);
      expect(record, `round ${round}`).toMatchObject({ status: 'active', leaseOwner: null, failedAttempts: 0, version: pair!.version });
      expect(control().isRefreshTokenLive(pair!.refreshToken), `round ${round}: the stored refresh token is live`).toBe(true);
    }
    const trail: Array<{ type: string; details?: Record<string, unknown> }> = [];
    for (let cursor: string | null = null; ; ) {
      const page: ApiAnswer = await stack.api.get(`/v1/tenants/${t}/events?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      trail.push(...page.body.events);
      cursor = page.body.nextCursor;
      if (!cursor) break;
    }
    const rotations = trail.filter((e) => e.type === 'refreshed' && !e.details?.recovered).length;
    expect(rotations).toBeGreaterThanOrEqual(50);
    expect(control().stats().tokenCalls.refresh_token).toBe(rotations);
    expect(reauthorizations).toBe(50);
    expect(trail.filter((e) => e.type === 'connected')).toHaveLength(51);
    expect(trail.filter((e) => ['refresh-failed', 'reauth-required', 'expiring', 'recovered'].includes(e.type))).toEqual([]);
  }, 300_000);
});
