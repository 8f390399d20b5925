import { describe, expect, it } from 'vitest';
import type { TokenRecord } from '../../../shared/domain/model.js';
import { disconnectToken } from '../../../shared/services/disconnect.js';
import { sweep } from '../../../shared/services/sweep.js';
import { refreshWorstCaseMs } from '../../../shared/services/refresh.js';
import { breakMethod, createFakeWorld, type FakeWorld } from '../../support/fakes.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const forever = { remainingMs: () => Number.POSITIVE_INFINITY };
/** The reconciliation reads the record of every token secret by design; these runs check the due pass alone. */
const duePassOnly = { ...forever, reconcile: false };
const key = (t: Pick<TokenRecord, 'tenantId' | 'tokenId'>) => `${t.tenantId}/${t.tokenId}`;
const record = (world: FakeWorld, t: TokenRecord) => world.tokens.records.get(key(t))!;
const cui = (n: number) => String(1_000_000 + n); // company ids only need to be distinct here

/** Connects `count` tokens whose access token has `accessDays` left. */
async function connectMany(world: FakeWorld, tenantId: string, count: number, accessDays: number, clientId?: string): Promise<TokenRecord[]> {
  world.anaf.lifetimes.accessSeconds = accessDays * 86_400;
  const tokens: TokenRecord[] = [];
  for (let i = 0; i < count; i++) tokens.push(await world.connect({ tenantId, cuis: [cui(tokens.length + count * accessDays)], clientId }));
  world.anaf.lifetimes.accessSeconds = 90 * 86_400;
  return tokens;
}

describe('sweep', () => {
  it('pages through the due index, reads only due tokens, refreshes each once; a second run finds nothing', async () => {
    const world = createFakeWorld();
    const due = [...(await connectMany(world, 'a', 40, 10)), ...(await connectMany(world, 'b', 35, 29))];
    const notDue = [...(await connectMany(world, 'a', 30, 45)), ...(await connectMany(world, 'c', 20, 90))];
    world.tokens.reads.length = 0;

    const summary = await sweep(world.deps, duePassOnly);
    expect(summary).toMatchObject({ due: 75, refreshed: 75, failed: 0, skipped: 0, reauthRequired: 0, stoppedEarly: false });
    expect(world.tokens.dueQueries).toBeGreaterThanOrEqual(2); // more than one page of 50
    const dueKeys = new Set(due.map(key));
    expect(world.tokens.reads.filter((k) => !dueKeys.has(k))).toEqual([]);
    expect(new Set(world.tokens.reads)).toEqual(dueKeys);
    expect(world.anaf.refreshCalls).toBe(75);
    expect(world.anaf.spentPresented).toEqual([]);
    for (const t of due) expect(record(world, t)).toMatchObject({ version: 2, status: 'active', leaseOwner: null });
    for (const t of notDue) expect(record(world, t).version).toBe(1);

    world.tokens.reads.length = 0;
    const again = await sweep(world.deps, duePassOnly);
    expect(again.due).toBe(0);
    expect(world.tokens.reads).toEqual([]);
    expect(world.anaf.refreshCalls).toBe(75);
  });

  it('bounds its concurrency to SWEEP_CONCURRENCY', async () => {
    const world = createFakeWorld({ settings: { sweepConcurrency: 3 } });
    await connectMany(world, 'a', 12, 5);
    world.anaf.latencyMs = 15;
    let inFlight = 0;
    let max = 0;
    const original = world.anaf.refresh.bind(world.anaf);
    world.deps.anaf = {
      ...world.anaf,
      refresh: async (input) => {
        max = Math.max(max, ++inFlight);
        try {
          return await original(input);
        } finally {
          inFlight--;
        }
      },
    };
    const summary = await sweep(world.deps, forever);
    expect(summary.refreshed).toBe(12);
    expect(max).toBe(3);
  });

  it('keeps going when tokens fail; failures stay active with the error recorded and are retried by a later run only', async () => {
    const world = createFakeWorld();
    world.anaf.clients.set('vendor-b', 'secret-b');
    const good = await connectMany(world, 'a', 6, 10);
    const rejected = await connectMany(world, 'b', 3, 10, 'vendor-b');
    const [broken] = await connectMany(world, 'a', 1, 10);
    const spent = (await connectMany(world, 'a', 1, 10))[0]!;
    world.anaf.clients.set('vendor-b', 'rotated'); // tenant b's stored secret no longer works: invalid_client
    breakMethod(world.tokens, 'get', { when: (_tenantId: string, tokenId: string) => tokenId === broken!.tokenId });
    // someone used this token's refresh token elsewhere: ANAF answers invalid_grant
    await world.anaf.refresh({ clientId: 'fake-client-id', clientSecret: 'fake-client-secret', refreshToken: world.secrets.pairs.get(key(spent))!.refreshToken });
    const callsBefore = world.anaf.refreshCalls;

    const summary = await sweep(world.deps, forever);
    expect(summary).toMatchObject({ due: 11, refreshed: 6, failed: 4, reauthRequired: 1 });
    for (const t of good) expect(record(world, t).version).toBe(2);
    for (const t of rejected) {
      expect(record(world, t)).toMatchObject({ status: 'active', lastError: 'CLIENT_REJECTED', failedAttempts: 1, version: 1 });
      expect(Date.parse(record(world, t).dueAt!)).toBe(world.clock.now().getTime() + HOUR);
    }
    expect(record(world, spent)).toMatchObject({ status: 'reauth-required', lastError: 'INVALID_GRANT', dueAt: null });
    expect(world.logs.some((l) => l.message === 'sweep item failed' && l.extra?.tokenId === broken!.tokenId)).toBe(true);
    expect(world.anaf.refreshCalls - callsBefore).toBe(6 + 3 + 1);

    // An hour later only the failed ones are due again.
    world.clock.advance(HOUR + 1000);
    world.tokens.reads.length = 0;
    const later = await sweep(world.deps, forever);
    expect(later.due).toBe(4); // the 3 rejected + the one whose read failed (its due time never moved)
    for (const t of rejected) expect(record(world, t).failedAttempts).toBe(2);
    const text = JSON.stringify([world.logs, world.audit, world.published]);
    for (const value of [...world.anaf.issued, 'secret-b', 'rotated', 'fake-client-secret']) expect(text).not.toContain(value);
  });

  it('stops taking work when the time left is under its reserve, and says so', async () => {
    const world = createFakeWorld();
    await connectMany(world, 'a', 10, 10);
    let left = 60_000;
    const summary = await sweep(world.deps, {
      remainingMs: () => {
        left -= 10_000;
        return left;
      },
      reserveMs: 25_000,
    });
    expect(summary.stoppedEarly).toBe(true);
    expect(summary.refreshed).toBeGreaterThan(0);
    expect(summary.refreshed).toBeLessThan(10);
    // the next run picks up the rest
    const next = await sweep(world.deps, forever);
    expect(summary.refreshed + next.refreshed).toBe(10);
  });

  it("never starts a refresh it may not finish: the default reserve covers a refresh's worst case (store calls at their bounds, 3 ANAF timeouts, Retry-After waits, secret-write retries, escrow)", async () => {
    const world = createFakeWorld({ settings: { anafTimeoutMs: 12_000 } });
    await connectMany(world, 'a', 3, 10);
    // ANAF alone: 3 × 12 s + 2 × 5 s = 46 s; 17 store calls at 7 s each, 6 secret-write attempts (3 × 2 SDK tries) at 7 s and their backoff: 162 s more
    expect(refreshWorstCaseMs({ anafTimeoutMs: 12_000 })).toBe(11 * 7_000 + 46_000 + 3 * 2 * 7_000 + 1_200 + 6 * 7_000);
    const tight = await sweep(world.deps, { remainingMs: () => 200_000 });
    expect(tight).toMatchObject({ stoppedEarly: true, refreshed: 0 });
    expect(world.anaf.refreshCalls).toBe(0);
    const roomy = await sweep(world.deps, { remainingMs: () => 220_000 });
    expect(roomy).toMatchObject({ stoppedEarly: false, refreshed: 3 });
  });

  it('warns 30, 14, 7 and 1 days before the refresh token ends, each once, with a connect link; then reauth-required', async () => {
    const world = createFakeWorld();
    world.anaf.lifetimes.refreshSeconds = 20 * 86_400; // access stays 90 days: only the warnings make it due
    const token = await world.connect({ tenantId: 'a', cuis: ['14399840'] });
    const start = world.clock.now().getTime();
    const expiring = () => world.audit.filter((e) => e.type === 'expiring');
    const steps: Array<[number, number[]]> = [
      [0, [30]],
      [0.5 * DAY, [30]],
      [5 * DAY, [30]],
      [6 * DAY + HOUR, [30, 14]],
      [10 * DAY, [30, 14]],
      [13 * DAY + HOUR, [30, 14, 7]],
      [19 * DAY + HOUR, [30, 14, 7, 1]],
      [19.5 * DAY, [30, 14, 7, 1]],
    ];
    for (const [offset, sent] of steps) {
      world.clock.set(new Date(start + offset));
      await sweep(world.deps, forever);
      expect(expiring().map((e) => e.details?.thresholdDays), `at day ${offset / DAY}`).toEqual(sent);
    }
    const refreshEnd = record(world, token).refreshExpiresAt;
    for (const event of expiring()) {
      // The real days left at the warning and the end itself, not only the threshold crossed.
      expect(event.details).toMatchObject({ refreshExpiresAt: refreshEnd, daysLeft: Math.floor((Date.parse(refreshEnd) - Date.parse(event.at)) / DAY) });
      expect(event.connectUrl).toMatch(/\/v1\/oauth\/authorize\?session=cs_/);
      expect(event.cuis).toEqual(['14399840']);
    }
    expect(world.anaf.refreshCalls).toBe(0);
    expect(record(world, token).status).toBe('active');

    world.clock.set(new Date(start + 20 * DAY + 1000));
    const end = await sweep(world.deps, forever);
    expect(end.reauthRequired).toBe(1);
    expect(record(world, token)).toMatchObject({ status: 'reauth-required', lastError: 'REFRESH_TOKEN_EXPIRED' });
    expect(world.audit.filter((e) => e.type === 'reauth-required')[0]?.connectUrl).toMatch(/session=cs_/);
    expect(world.anaf.refreshCalls).toBe(0);
  });

  it('a refresh that moves the refresh token end re-arms the warnings', async () => {
    const world = createFakeWorld();
    world.anaf.lifetimes = { accessSeconds: 10 * 86_400, refreshSeconds: 20 * 86_400 };
    const token = await world.connect({ tenantId: 'a', cuis: ['14399840'] });
    world.anaf.lifetimes = { accessSeconds: 90 * 86_400, refreshSeconds: 365 * 86_400 };
    const summary = await sweep(world.deps, forever);
    expect(summary).toMatchObject({ refreshed: 1, warned: 0 });
    expect(record(world, token)).toMatchObject({ version: 2, warningsSent: [] });
    expect(Date.parse(record(world, token).dueAt!)).toBe(world.clock.now().getTime() + 49 * DAY);
  });
});

describe('sweep: tokens no company uses, and Secrets Manager reconciliation', () => {
  it('a due token with no linked company is disconnected (UNUSED) instead of rotated; one not due is left until it is', async () => {
    const world = createFakeWorld();
    const [unused, used] = await connectMany(world, 'a', 2, 10);
    const [idle] = await connectMany(world, 'a', 1, 90);
    for (const t of [unused!, idle!]) {
      for (const [k, c] of world.companies) if (c.tokenId === t.tokenId) world.companies.set(k, { ...c, tokenId: null });
    }
    const summary = await sweep(world.deps, forever);
    expect(summary).toMatchObject({ due: 2, refreshed: 1, unusedDisconnected: 1, failed: 0 });
    expect(world.anaf.refreshCalls).toBe(1);
    expect(record(world, unused!)).toMatchObject({ status: 'disconnected', disconnection: { reason: 'UNUSED', cuis: [] } });
    expect(world.secrets.deleted.has(key(unused!))).toBe(true);
    expect(world.audit.filter((e) => e.type === 'disconnected')).toMatchObject([{ tokenId: unused!.tokenId, details: { reason: 'UNUSED' } }]);
    expect(record(world, used!)).toMatchObject({ status: 'active', version: 2 });
    expect(record(world, idle!)).toMatchObject({ status: 'active', version: 1 });

    world.clock.advance(61 * DAY);
    expect((await sweep(world.deps, forever)).unusedDisconnected).toBe(1);
    expect(record(world, idle!).status).toBe('disconnected');
  });

  it('deletes orphan secrets older than an hour, finishes disconnects whose secret survived, pages through the listing', async () => {
    const world = createFakeWorld();
    const live = await connectMany(world, 'a', 3, 90);
    const stranded = (await connectMany(world, 'b', 1, 90))[0]!;
    breakMethod(world.secrets, 'deleteTokenPair', { times: 1 });
    await expect(disconnectToken(world.deps, 'b', stranded.tokenId)).rejects.toThrow();
    const orphans = ['tok_0000000000000000000000a1', 'tok_0000000000000000000000a2'];
    for (const id of orphans) await world.secrets.putTokenPair('c', id, { accessToken: 'fake-a', refreshToken: 'fake-r', version: 1 }, `v-${id}-000000000000000000000`);
    world.secrets.listPageSize = 2;

    world.clock.advance(HOUR - 1000);
    const early = await sweep(world.deps, forever);
    expect(early).toMatchObject({ orphanSecretsDeleted: 0, disconnectsFinished: 1 });
    expect(world.secrets.deleted.has(key(stranded))).toBe(true);
    expect(world.audit.filter((e) => e.type === 'disconnected')).toHaveLength(1);

    world.clock.advance(2000);
    const late = await sweep(world.deps, forever);
    expect(late).toMatchObject({ orphanSecretsDeleted: 2, disconnectsFinished: 0 });
    for (const id of orphans) expect(world.secrets.deleted.has(`c/${id}`)).toBe(true);
    for (const t of live) expect(world.secrets.deleted.has(key(t))).toBe(false);
    expect((await sweep(world.deps, forever)).orphanSecretsDeleted).toBe(0);
  });

  it('reconciles within the time budget: it stops listing when the time left is under the reserve', async () => {
    const world = createFakeWorld();
    for (let i = 0; i < 6; i++) await world.secrets.putTokenPair('c', `tok_${String(i).padStart(24, '0')}`, { accessToken: 'a', refreshToken: 'r', version: 1 }, `v-${i}-0000000000000000000000000000`);
    world.secrets.listPageSize = 2;
    world.clock.advance(2 * HOUR);
    let left = 100_000;
    const summary = await sweep(world.deps, {
      remainingMs: () => (left -= 10_000),
      reserveMs: 55_000,
    });
    expect(summary.stoppedEarly).toBe(true);
    expect(summary.orphanSecretsDeleted).toBeGreaterThan(0);
    expect(summary.orphanSecretsDeleted).toBeLessThan(6);
    expect(summary.orphanSecretsDeleted + (await sweep(world.deps, forever)).orphanSecretsDeleted).toBe(6);
  });

  it('one secret failing to reconcile does not stop the others', async () => {
    const world = createFakeWorld();
    for (let i = 0; i < 3; i++) await world.secrets.putTokenPair('c', `tok_${String(i).padStart(24, '0')}`, { accessToken: 'a', refreshToken: 'r', version: 1 }, `v-${i}-0000000000000000000000000000`);
    world.clock.advance(2 * HOUR);
    breakMethod(world.secrets, 'deleteTokenPair', { times: 1 });
    expect(await sweep(world.deps, forever)).toMatchObject({ orphanSecretsDeleted: 2, failed: 0 });
    expect(world.logs.some((l) => l.level === 'error' && l.message === 'reconciling a token secret failed')).toBe(true);
  });
});
