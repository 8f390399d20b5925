/**
 * The sweep cleans what a crash leaves in Secrets Manager, and retires tokens no company uses (moto + the
 * ANAF emulator over HTTP). Ages are seen through the sweep's clock (`later`): moto's CreatedDate is
 * real time, so a secret written now is "an hour old" for a sweep whose clock is an hour ahead.
 */
import { randomBytes } from 'node:crypto';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { disconnectToken } from '../../shared/services/disconnect.js';
import { sweep } from '../../shared/services/sweep.js';
import { CUIS, setupTenant, type TestStack } from '../support/stack.js';
import { useTestStack } from '../support/use-stack.js';
import { connectNew, failing, freshDeps, later, stored } from '../support/refresh-helpers.js';

let stack: TestStack;
let n = 0;
const tenant = () => `o${++n}-${Date.now().toString(36)}`;
const HOUR = 3_600_000;
const DAY_S = 86_400;
const control = () => stack.emulator!.control;
const refreshCalls = () => control().stats().tokenCalls.refresh_token;
const forever = { remainingMs: () => Number.POSITIVE_INFINITY };

useTestStack((started) => (stack = started));

type Entry = { type: string; tokenId: string | null; cuis: string[]; details?: Record<string, unknown> };
const trail = async (t: string) => (await stack.api.get(`/v1/tenants/${t}/events?limit=100`)).body.events as Entry[];
const describeSecret = (t: string, tokenId: string) =>
  new SecretsManagerClient({}).send(new DescribeSecretCommand({ SecretId: `${process.env.SECRET_PREFIX}${t}/tokens/${tokenId}` }));

describe('the sweep reconciles Secrets Manager with the table (path 11)', () => {
  it('deletes a token secret no record points at once it is older than an hour; keeps a younger one and every live token\'s secret', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0]]);
    const live = await connectNew(stack.api, stack.emulator!, t, [CUIS[0]]);
    // What a callback that died between its secret write and its transaction leaves behind.
    const orphan = `tok_${randomBytes(12).toString('hex')}`;
    await freshDeps().secrets.putTokenPair(t, orphan, { accessToken: 'fake-orphan-access', refreshToken: 'fake-orphan-refresh', version: 1 }, 'orphan-version-00000000000000000001');

    const young = await sweep(later(freshDeps(), HOUR - 60_000), forever);
    expect(young.orphanSecretsDeleted).toBe(0);
    expect(await freshDeps().secrets.getTokenPair(t, orphan)).not.toBeNull();

    const old = await sweep(later(freshDeps(), HOUR + 60_000), forever);
    expect(old.orphanSecretsDeleted).toBe(1);
    expect(old.stoppedEarly).toBe(false);
    expect(await freshDeps().secrets.getTokenPair(t, orphan)).toBeNull();
    expect((await describeSecret(t, orphan)).DeletedDate).toBeInstanceOf(Date);

    const kept = await stored(t, live);
    expect(kept.record.status).toBe('active');
    expect(control().isRefreshTokenLive(kept.pair!.refreshToken)).toBe(true);
    expect((await describeSecret(t, live)).DeletedDate).toBeUndefined();
    // The next run finds nothing more to clean.
    expect((await sweep(later(freshDeps(), 2 * HOUR), forever)).orphanSecretsDeleted).toBe(0);
  });

  it('finishes a disconnect whose secret delete failed: the secret goes, the companies are unlinked, the event is recorded once', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0], CUIS[1]]);
    const tokenId = await connectNew(stack.api, stack.emulator!, t, [CUIS[0], CUIS[1]]);
    const deps = freshDeps();
    deps.secrets = failing(deps.secrets, 'deleteTokenPair');
    await expect(disconnectToken(deps, t, tokenId)).rejects.toThrow(/injected/);
    const between = await stored(t, tokenId);
    expect(between.record.status).toBe('disconnected');
    expect(between.pair).not.toBeNull();

    const summary = await sweep(freshDeps(), forever);
    expect(summary.disconnectsFinished).toBe(1);
    expect(await freshDeps().secrets.getTokenPair(t, tokenId)).toBeNull();
    expect((await describeSecret(t, tokenId)).DeletedDate).toBeInstanceOf(Date);
    for (const cui of [CUIS[0], CUIS[1]]) expect((await freshDeps().companies.get(t, cui))?.tokenId).toBeNull();
    const events = (await trail(t)).filter((e) => e.type === 'disconnected');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ tokenId, cuis: [CUIS[0], CUIS[1]].sort() });

    // Finished: the next run (and a DELETE) leave it alone.
    expect((await sweep(freshDeps(), forever)).disconnectsFinished).toBe(0);
    expect((await stack.api.del(`/v1/tenants/${t}/tokens/${tokenId}`)).status).toBe(204);
    expect((await trail(t)).filter((e) => e.type === 'disconnected')).toHaveLength(1);
  });

  it('a due token no company uses any more is disconnected (reason UNUSED), not rotated; the token its company moved to is refreshed', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0]]);
    control().setTokenLifetimes({ accessSeconds: 10 * DAY_S });
    const unused = await connectNew(stack.api, stack.emulator!, t, [CUIS[0]]);
    // Another certificate connects the same company: it moves to the new token, the old one keeps no company.
    const current = await connectNew(stack.api, stack.emulator!, t, [CUIS[0]]);
    control().setTokenLifetimes({ accessSeconds: 90 * DAY_S });
    expect((await stack.api.get(`/v1/tenants/${t}/tokens/${unused}`)).body).toMatchObject({ status: 'active', cuis: [] });

    const summary = await sweep(freshDeps(), forever);
    expect(summary).toMatchObject({ due: 2, refreshed: 1, unusedDisconnected: 1, failed: 0 });
    expect(refreshCalls()).toBe(1);

    const old = await stored(t, unused);
    expect(old.record).toMatchObject({ status: 'disconnected', dueAt: null });
    expect(old.pair).toBeNull();
    expect((await describeSecret(t, unused)).DeletedDate).toBeInstanceOf(Date);
    const events = (await trail(t)).filter((e) => e.type === 'disconnected');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ tokenId: unused, cuis: [], details: { reason: 'UNUSED' } });

    expect((await stored(t, current)).record).toMatchObject({ status: 'active', version: 2 });
    expect((await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[0]}`)).body).toMatchObject({ tokenId: current, status: 'active' });
  });

  it('reads the records of the listed secrets in batches (no read per secret); a batch of over 100 keys, repeats and unknown keys answers in order', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0]]);
    const live = await connectNew(stack.api, stack.emulator!, t, [CUIS[0]]);
    const orphans = Array.from({ length: 3 }, () => `tok_${randomBytes(12).toString('hex')}`);
    for (const orphan of orphans) {
      await freshDeps().secrets.putTokenPair(t, orphan, { accessToken: 'fake-orphan-access', refreshToken: 'fake-orphan-refresh', version: 1 }, `orphan-version-${orphan.slice(4, 28)}`);
    }
    const deps = freshDeps();
    const singles: string[] = [];
    const batches: string[][] = [];
    const store = deps.tokens;
    deps.tokens = {
      ...store,
      get: (tenantId, tokenId) => (singles.push(tokenId), store.get(tenantId, tokenId)),
      getMany: (keys) => (batches.push(keys.map((k) => k.tokenId)), store.getMany(keys)),
    };
    const summary = await sweep(later(deps, 2 * HOUR), { ...forever });
    expect(summary.orphanSecretsDeleted).toBeGreaterThanOrEqual(3);
    for (const orphan of orphans) expect(await freshDeps().secrets.getTokenPair(t, orphan)).toBeNull();
    expect((await stored(t, live)).record.status).toBe('active');
    // Every listed secret's record came from a batch, none from a read of its own.
    const batched = batches.flat();
    for (const id of [live, ...orphans]) expect(batched).toContain(id);
    expect(singles.filter((id) => [live, ...orphans].includes(id))).toEqual([]);
    expect(batches.every((b) => b.length <= 100)).toBe(true);

    // The store splits a long key list into BatchGetItem's 100 and answers one entry per key, in order.
    const keys = [
      { tenantId: t, tokenId: live },
      ...Array.from({ length: 150 }, (_, i) => ({ tenantId: t, tokenId: `tok_missing_${i}` })),
      { tenantId: t, tokenId: live },
      { tenantId: `${t}-other`, tokenId: live },
    ];
    const answers = await freshDeps().tokens.getMany(keys);
    expect(answers).toHaveLength(keys.length);
    expect(answers[0]).toMatchObject({ tenantId: t, tokenId: live, status: 'active' });
    expect(answers[151]).toEqual(answers[0]);
    expect(answers.filter((a) => a !== null)).toHaveLength(2);
    expect(await freshDeps().tokens.getMany([])).toEqual([]);
  });
});
