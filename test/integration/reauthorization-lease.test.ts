/**
 * A re-authorization (callback or import) of a certificate whose token is being refreshed takes the
 * refresh lease: it waits for the holder, re-reads, and writes under the lease, so the two rotations of
 * one token serialize and each pair gets its own version. Runs in-process against moto + the emulator:
 * the refresh's ANAF call is held open by a wrapped adapter, and the re-authorization's wait is seen
 * through its lease attempts (no timing assumptions).
 */
import { describe, expect, it } from 'vitest';
import { BrokerError } from '../../shared/domain/errors.js';
import type { TokenPair } from '../../shared/domain/model.js';
import type { AnafTokenResponse } from '../../shared/ports.js';
import { REAUTHORIZATION_WAIT_MS, completeAuthorization } from '../../shared/services/authorization.js';
import type { ServiceDeps } from '../../shared/services/deps.js';
import { JOIN_WAIT_MS, refreshToken } from '../../shared/services/refresh.js';
import { importToken } from '../../shared/services/tokens.js';
import { CUIS, pairObtainedByHand, type TestStack } from '../support/stack.js';
import { useTestStack } from '../support/use-stack.js';
import { connectDueToken, freshDeps, stored } from '../support/refresh-helpers.js';

let stack: TestStack;
let n = 0;
const tenant = () => `r${++n}-${Date.now().toString(36)}`;
const control = () => stack.emulator!.control;

useTestStack((started) => (stack = started));

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Runs the browser flow up to ANAF's redirect and answers the callback's query (real state, real code). */
async function callbackQuery(t: string, cuis: string[]): Promise<{ state: string; code: string }> {
  const session = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis });
  expect(session.status).toBe(201);
  const toAnaf = await fetch(session.body.authorizeUrl, { redirect: 'manual' });
  const fromAnaf = await fetch(toAnaf.headers.get('location')!, { redirect: 'manual' });
  const callback = new URL(fromAnaf.headers.get('location')!);
  return { state: callback.searchParams.get('state')!, code: callback.searchParams.get('code')! };
}

/** Records the version of every pair written to the secret, in order, with who wrote it. */
function recordingWrites(deps: ServiceDeps, who: string, log: Array<{ who: string; version: number }>): void {
  const put = deps.secrets.putTokenPair.bind(deps.secrets);
  deps.secrets = {
    ...deps.secrets,
    putTokenPair: async (tenantId: string, tokenId: string, pair: TokenPair, versionId: string) => {
      await put(tenantId, tokenId, pair, versionId);
      log.push({ who, version: pair.version });
    },
  };
}

/** Signals the first time a lease acquisition fails (the caller found the lease held and waits). */
function signallingBlockedLease(deps: ServiceDeps): Promise<void> {
  const blocked = deferred();
  const acquire = deps.tokens.acquireLease.bind(deps.tokens);
  deps.tokens = {
    ...deps.tokens,
    acquireLease: async (...args: Parameters<ServiceDeps['tokens']['acquireLease']>) => {
      const leased = await acquire(...args);
      if (!leased) blocked.resolve();
      return leased;
    },
  };
  return blocked.promise;
}

/** After the first failed lease acquisition, the clock reads `aheadMs` later (the wait's bound has passed). */
function clockJumpingAfterBlockedLease(deps: ServiceDeps, aheadMs: number): void {
  let offset = 0;
  deps.clock = { now: () => new Date(Date.now() + offset) };
  const acquire = deps.tokens.acquireLease.bind(deps.tokens);
  deps.tokens = {
    ...deps.tokens,
    acquireLease: async (...args: Parameters<ServiceDeps['tokens']['acquireLease']>) => {
      const leased = await acquire(...args);
      if (!leased) offset = aheadMs;
      return leased;
    },
  };
}

type Reauthorization = 'callback' | 'import';

describe('a re-authorization of a certificate whose token is being refreshed', () => {
  it.each<Reauthorization>(['callback', 'import'])(
    '%s: waits for the refresh lease, then writes under it: versions 2 then 3, the last pair stored and live',
    async (kind) => {
      const { t, tokenId } = await connectDueToken(stack, tenant(), [CUIS[0], CUIS[1]]);
      const original = (await stored(t, tokenId)).pair!;
      const writes: Array<{ who: string; version: number }> = [];

      // The refresh takes the lease and is held inside its ANAF call until `release`.
      const refreshDeps = freshDeps();
      recordingWrites(refreshDeps, 'refresh', writes);
      const insideAnaf = deferred();
      const release = deferred();
      const realRefresh = refreshDeps.anaf.refresh.bind(refreshDeps.anaf);
      let rotatedByRefresh: AnafTokenResponse | undefined;
      refreshDeps.anaf = {
        ...refreshDeps.anaf,
        refresh: async (input) => {
          insideAnaf.resolve();
          await release.promise;
          rotatedByRefresh = await realRefresh(input);
          return rotatedByRefresh;
        },
      };
      const refreshing = refreshToken(refreshDeps, { tenantId: t, tokenId, trigger: 'manual' });
      await insideAnaf.promise;

      // The re-authorization of the same certificate arrives while the lease is held.
      const reauthDeps = freshDeps();
      recordingWrites(reauthDeps, kind, writes);
      const waiting = signallingBlockedLease(reauthDeps);
      let expectedPair: { accessToken: string; refreshToken?: string } | undefined;
      let reauthorizing: Promise<unknown>;
      if (kind === 'callback') {
        const query = await callbackQuery(t, [CUIS[1]]);
        const exchange = reauthDeps.anaf.exchangeCode.bind(reauthDeps.anaf);
        reauthDeps.anaf = {
          ...reauthDeps.anaf,
          exchangeCode: async (input) => (expectedPair = await exchange(input)),
        };
        reauthorizing = completeAuthorization(reauthDeps, query);
      } else {
        const pasted = await pairObtainedByHand(stack.emulator!);
        const rotate = reauthDeps.anaf.refresh.bind(reauthDeps.anaf);
        reauthDeps.anaf = { ...reauthDeps.anaf, refresh: async (input) => (expectedPair = await rotate(input)) };
        reauthorizing = importToken(reauthDeps, { tenantId: t, ...pasted, cuis: [CUIS[1]], replace: true });
      }
      await Promise.race([waiting, reauthorizing]);
      release.resolve();
      const [refreshed, reauthorized] = await Promise.all([refreshing, reauthorizing]);

      expect(refreshed.outcome).toBe('refreshed');
      expect(refreshed.token.version).toBe(2);
      expect(reauthorized).toMatchObject(kind === 'callback' ? { kind: 'connected', tokenId } : { tokenId, status: 'active' });
      // The writes serialized: the refresh's pair first, then the re-authorization's, each its own version.
      expect(writes).toEqual([
        { who: 'refresh', version: 2 },
        { who: kind, version: 3 },
      ]);
      const { record, pair } = await stored(t, tokenId);
      expect(record).toMatchObject({ status: 'active', version: 3, leaseOwner: null, leaseExpiresAt: null, lastError: null });
      expect(pair!.version).toBe(record.version);
      expect(pair!.refreshToken).toBe(expectedPair!.refreshToken);
      expect(pair!.refreshToken).not.toBe(rotatedByRefresh!.refreshToken);
      expect(control().isRefreshTokenLive(pair!.refreshToken)).toBe(true);
      // The refresh presented the original token once; nobody presented a spent one.
      expect(control().spentRefreshTokens()[0]).toBe(original.refreshToken);
      expect(control().stats().tokenCalls.refresh_token).toBe(kind === 'import' ? 2 : 1);
      const companies = (await stack.api.get(`/v1/tenants/${t}/companies`)).body.companies as Array<{ cui: string; tokenId: string }>;
      expect(companies.map((c) => c.tokenId)).toEqual([tokenId, tokenId]);
    },
    30_000,
  );

  it('callback: a lease held past the wait gives the try-again page, stores nothing, and the same link works later', async () => {
    const { t, tokenId } = await connectDueToken(stack, tenant(), [CUIS[0]]);
    const before = await stored(t, tokenId);
    // A holder that keeps the lease (a refresh stuck on a slow ANAF, as far as the callback can tell).
    expect(await freshDeps().tokens.acquireLease(t, tokenId, 'lease_stuck', new Date(), 3600)).not.toBeNull();

    const session = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[0]] });
    const toAnaf = await fetch(session.body.authorizeUrl, { redirect: 'manual' });
    const fromAnaf = new URL((await fetch(toAnaf.headers.get('location')!, { redirect: 'manual' })).headers.get('location')!);
    const deps = freshDeps();
    clockJumpingAfterBlockedLease(deps, REAUTHORIZATION_WAIT_MS + 1000);
    const outcome = await completeAuthorization(deps, { state: fromAnaf.searchParams.get('state')!, code: fromAnaf.searchParams.get('code')! });

    expect(outcome).toMatchObject({ kind: 'failed', reason: 'ANAF_UNAVAILABLE' });
    const after = await stored(t, tokenId);
    expect(after.record).toMatchObject({ status: 'active', version: 1, leaseOwner: 'lease_stuck', accessExpiresAt: before.record.accessExpiresAt });
    expect(after.pair).toEqual(before.pair);
    expect(control().isRefreshTokenLive(before.pair!.refreshToken)).toBe(true);
    expect(await freshDeps().sessions.get(session.body.sessionId)).toMatchObject({ completedAt: null, tokenId: null });

    // Once the lease is free, the same link connects.
    await freshDeps().tokens.releaseLease(t, tokenId, 'lease_stuck');
    const hops = await fetch(session.body.authorizeUrl, { redirect: 'manual' })
      .then((r) => fetch(r.headers.get('location')!, { redirect: 'manual' }))
      .then((r) => fetch(r.headers.get('location')!, { redirect: 'manual' }));
    expect(hops.status).toBe(200);
    const done = await stored(t, tokenId);
    expect(done.record).toMatchObject({ status: 'active', version: 2, leaseOwner: null });
    expect(done.pair!.version).toBe(2);
    expect(control().isRefreshTokenLive(done.pair!.refreshToken)).toBe(true);
  }, 30_000);

  it('import: a lease held past the wait → REFRESH_IN_PROGRESS, nothing stored, the pasted token not spent', async () => {
    const { t, tokenId } = await connectDueToken(stack, tenant(), [CUIS[0]]);
    const before = await stored(t, tokenId);
    expect(await freshDeps().tokens.acquireLease(t, tokenId, 'lease_stuck', new Date(), 3600)).not.toBeNull();
    const pasted = await pairObtainedByHand(stack.emulator!);
    const deps = freshDeps();
    clockJumpingAfterBlockedLease(deps, JOIN_WAIT_MS + 1000);

    const refused = await importToken(deps, { tenantId: t, ...pasted, cuis: [CUIS[0]], replace: true }).catch((e: unknown) => e);

    expect(refused).toBeInstanceOf(BrokerError);
    expect((refused as BrokerError).code).toBe('REFRESH_IN_PROGRESS');
    expect(control().stats().tokenCalls.refresh_token).toBe(0);
    expect(control().isRefreshTokenLive(pasted.refreshToken)).toBe(true);
    const after = await stored(t, tokenId);
    expect(after.record).toMatchObject({ version: 1, leaseOwner: 'lease_stuck' });
    expect(after.pair).toEqual(before.pair);
  });
});
