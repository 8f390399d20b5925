import { describe, expect, it } from 'vitest';
import type { TokenRecord } from '../../../shared/domain/model.js';
import { issueAccessToken } from '../../../shared/services/access.js';
import { storeAuthorization } from '../../../shared/services/authorization.js';
import { disconnect, disconnectToken } from '../../../shared/services/disconnect.js';
import { refreshToken } from '../../../shared/services/refresh.js';
import { breakMethod, createFakeWorld, type FakeWorld } from '../../support/fakes.js';

const T = 'acme';
const [A, B, C] = ['14399840', '18547290', '13548146'];
const record = (world: FakeWorld, t: TokenRecord) => world.tokens.records.get(`${t.tenantId}/${t.tokenId}`)!;
const disconnectedEvents = (world: FakeWorld) => ({
  audit: world.audit.filter((e) => e.type === 'disconnected'),
  bus: world.published.filter((e) => e.type === 'disconnected'),
});

describe('disconnectToken', () => {
  it('marks the token disconnected under a new version, deletes the pair, unlinks its companies and records it; twice is a no-op', async () => {
    const world = createFakeWorld();
    const token = await world.connect({ tenantId: T, cuis: [A, B] });
    await disconnectToken(world.deps, T, token.tokenId);
    expect(record(world, token)).toMatchObject({
      status: 'disconnected',
      version: token.version + 1,
      dueAt: null,
      leaseOwner: null,
      disconnection: { reason: 'REQUESTED', cuis: [A, B], auditedAt: expect.any(String), publishedAt: expect.any(String) },
    });
    expect(world.companies.get(`${T}/${A}`)?.tokenId).toBeNull();
    expect(world.companies.get(`${T}/${B}`)?.tokenId).toBeNull();
    expect(world.secrets.deleted.has(`${T}/${token.tokenId}`)).toBe(true);
    expect(await world.deps.secrets.getTokenPair(T, token.tokenId)).toBeNull();
    const events = disconnectedEvents(world);
    expect(events.audit).toHaveLength(1);
    expect(events.audit[0]).toMatchObject({ tokenId: token.tokenId, cuis: [A, B], details: { serial: token.serial, reason: 'REQUESTED' } });
    expect(events.bus).toHaveLength(1);

    await disconnectToken(world.deps, T, token.tokenId);
    expect(disconnectedEvents(world).audit).toHaveLength(1);
    expect(disconnectedEvents(world).bus).toHaveLength(1);
    expect((await refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'manual' })).error?.code).toBe('TOKEN_DISCONNECTED');
    await expect(issueAccessToken(world.deps, T, A)).rejects.toMatchObject({ code: 'NOT_CONNECTED' });
    expect(world.anaf.refreshCalls).toBe(0);
  });

  it.each(['AWS', 'moto'] as const)('a disconnect that lands while a refresh is calling ANAF wins (%s secret semantics): no pair revived, no `refreshed` event, the caller hears TOKEN_DISCONNECTED', async (semantics) => {
    const world = createFakeWorld();
    const token = await world.connect({ tenantId: T, cuis: [A] });
    if (semantics === 'moto') {
      // moto accepts a new value on a secret scheduled for deletion (AWS refuses it)
      const put = world.secrets.putTokenPair.bind(world.secrets);
      world.secrets.putTokenPair = async (tenantId, tokenId, pair, versionId) => {
        world.secrets.deleted.delete(`${tenantId}/${tokenId}`);
        return put(tenantId, tokenId, pair, versionId);
      };
    }
    world.anaf.latencyMs = 50;
    const refreshing = refreshToken(world.deps, { tenantId: T, tokenId: token.tokenId, trigger: 'manual' });
    await new Promise((resolve) => setTimeout(resolve, 10));
    await disconnectToken(world.deps, T, token.tokenId);
    const started = Date.now();
    const result = await refreshing;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(result.error?.code).toBe('TOKEN_DISCONNECTED');
    expect(record(world, token)).toMatchObject({ status: 'disconnected', dueAt: null });
    expect(await world.deps.secrets.getTokenPair(T, token.tokenId)).toBeNull();
    expect(world.audit.filter((e) => e.type === 'refreshed')).toEqual([]);
  });

  it('unknown token or tenant → 404 codes', async () => {
    const world = createFakeWorld();
    await world.connect({ tenantId: T, cuis: [A] });
    await expect(disconnectToken(world.deps, T, 'tok_ffffffffffffffffffffffff')).rejects.toMatchObject({ code: 'TOKEN_NOT_FOUND' });
    await expect(disconnectToken(world.deps, 'nobody', 'tok_ffffffffffffffffffffffff')).rejects.toMatchObject({ code: 'TENANT_NOT_FOUND' });
  });

  it('a re-authorization whose secret write AWS refuses (the token was disconnected after its read) connects a new token', async () => {
    const world = createFakeWorld();
    const token = await world.connect({ tenantId: T, cuis: [A], serial: '0a:bb:01' });
    const put = world.secrets.putTokenPair.bind(world.secrets);
    let raced = false;
    world.secrets.putTokenPair = async (tenantId, tokenId, pair, versionId) => {
      if (!raced && tokenId === token.tokenId) {
        raced = true;
        await disconnectToken(world.deps, T, token.tokenId);
      }
      return put(tenantId, tokenId, pair, versionId);
    };
    const pair = world.anaf.issue({ clientId: 'fake-client-id', serial: '0a:bb:01' });
    const again = await storeAuthorization(world.deps, {
      tenantId: T,
      pair,
      cuis: [A],
      source: 'callback',
      replaceActive: true,
      leaseDeadline: world.clock.now().getTime(),
    });
    expect(raced).toBe(true);
    expect(again.tokenId).not.toBe(token.tokenId);
    expect(record(world, token).status).toBe('disconnected');
    expect(await world.deps.secrets.getTokenPair(T, token.tokenId)).toBeNull();
    expect(world.companies.get(`${T}/${A}`)?.tokenId).toBe(again.tokenId);
    expect((await world.deps.secrets.getTokenPair(T, again.tokenId))?.refreshToken).toBe(pair.refreshToken);
  });

  const faults: Array<[string, (world: FakeWorld) => void]> = [
    ['DeleteSecret throws once', (world) => void breakMethod(world.secrets, 'deleteTokenPair', { times: 1 })],
    ['unlinking throws after the first company', (world) => void breakMethod(world.deps.companies, 'unlinkToken', { times: 1, skip: 1 })],
    ['the audit append throws once', (world) => void breakMethod(world.deps.audit, 'append', { times: 1 })],
    ['the bus publish throws once', (world) => void breakMethod(world.deps.events, 'publish', { times: 1 })],
    ['the flag write after the audit append fails once', (world) => void breakMethod(world.tokens, 'replace', { times: 1 })],
    ['the flag write after the publish fails once', (world) => void breakMethod(world.tokens, 'replace', { times: 1, skip: 1 })],
  ];
  it.each(faults)('%s: the call fails, the next one finishes: secret deleted, companies unlinked, one event in the trail', async (_, inject) => {
    const world = createFakeWorld();
    const token = await world.connect({ tenantId: T, cuis: [A, B, C] });
    inject(world);
    await expect(disconnectToken(world.deps, T, token.tokenId)).rejects.toThrow();
    expect(record(world, token).status).toBe('disconnected');
    await disconnectToken(world.deps, T, token.tokenId);
    expect(world.secrets.deleted.has(`${T}/${token.tokenId}`)).toBe(true);
    for (const cui of [A, B, C]) expect(world.companies.get(`${T}/${cui}`)?.tokenId).toBeNull();
    const events = disconnectedEvents(world);
    expect(events.audit).toHaveLength(1);
    expect(events.audit[0]!.cuis).toEqual([A, B, C].sort());
    expect(events.bus.length).toBeGreaterThanOrEqual(1);
    expect(record(world, token).disconnection).toMatchObject({ auditedAt: expect.any(String), publishedAt: expect.any(String) });
    await disconnectToken(world.deps, T, token.tokenId);
    expect(disconnectedEvents(world).audit).toHaveLength(1);
  });

  it('publishes on the bus once, unless the flag write after the publish is what failed', async () => {
    for (const [skip, expected] of [[0, 1], [1, 2]] as const) {
      const world = createFakeWorld();
      const token = await world.connect({ tenantId: T, cuis: [A] });
      breakMethod(world.tokens, 'replace', { times: 1, skip });
      await expect(disconnectToken(world.deps, T, token.tokenId)).rejects.toThrow();
      await disconnectToken(world.deps, T, token.tokenId);
      expect(disconnectedEvents(world).bus, `flag write ${skip + 1} failed`).toHaveLength(expected);
    }
  });

  it('three DELETEs at once flip once and record once', async () => {
    const world = createFakeWorld({ jitter: true });
    const token = await world.connect({ tenantId: T, cuis: [A, B] });
    await Promise.all([1, 2, 3].map(() => disconnectToken(world.deps, T, token.tokenId)));
    expect(record(world, token).version).toBe(token.version + 1);
    expect(disconnectedEvents(world).audit).toHaveLength(1);
    expect(disconnectedEvents(world).bus).toHaveLength(1);
  });

  it('a DELETE that finds another finisher holding the lease past its wait answers 409 CONFLICT; the next one finishes', async () => {
    const world = createFakeWorld();
    const token = await world.connect({ tenantId: T, cuis: [A] });
    breakMethod(world.secrets, 'deleteTokenPair', { times: 1 });
    await expect(disconnectToken(world.deps, T, token.tokenId)).rejects.toThrow();
    // A finisher that died holding the lease (60 s): the next DELETE waits 5 s, then gives up.
    expect(await world.tokens.acquireLease(T, token.tokenId, 'disc_dead', world.clock.now(), 60)).not.toBeNull();
    await expect(disconnectToken(world.deps, T, token.tokenId)).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(disconnectedEvents(world).audit).toEqual([]);
    world.clock.advance(61_000);
    await disconnectToken(world.deps, T, token.tokenId);
    expect(world.secrets.deleted.has(`${T}/${token.tokenId}`)).toBe(true);
    expect(disconnectedEvents(world).audit).toHaveLength(1);
  }, 15_000);

  it('a REPLACED disconnect flips only a reauth-required token with no company left; the event names the new token', async () => {
    const world = createFakeWorld();
    const token = await world.connect({ tenantId: T, cuis: [A, B] });
    // active: left to the sweep (UNUSED at its next due time)
    for (const cui of [A, B]) await world.deps.companies.unlinkToken(T, cui, token.tokenId, world.clock.now().toISOString());
    expect((await disconnect(world.deps, record(world, token), 'REPLACED', { replacedByTokenId: 'tok_new' })).flipped).toBe(false);
    expect(record(world, token).status).toBe('active');
    // reauth-required, but a company is linked again: stays
    world.tokens.records.set(`${T}/${token.tokenId}`, { ...record(world, token), status: 'reauth-required', dueAt: null });
    world.companies.set(`${T}/${B}`, { ...world.companies.get(`${T}/${B}`)!, tokenId: token.tokenId });
    expect((await disconnect(world.deps, record(world, token), 'REPLACED', { replacedByTokenId: 'tok_new' })).flipped).toBe(false);
    expect(record(world, token).status).toBe('reauth-required');
    expect(disconnectedEvents(world).audit).toEqual([]);
    // reauth-required, no company: disconnected, pair deleted, the event says why
    world.companies.set(`${T}/${B}`, { ...world.companies.get(`${T}/${B}`)!, tokenId: null });
    expect((await disconnect(world.deps, record(world, token), 'REPLACED', { replacedByTokenId: 'tok_new' })).flipped).toBe(true);
    expect(record(world, token)).toMatchObject({ status: 'disconnected', disconnection: { reason: 'REPLACED', replacedByTokenId: 'tok_new', cuis: [] } });
    expect(await world.deps.secrets.getTokenPair(T, token.tokenId)).toBeNull();
    expect(disconnectedEvents(world).audit).toMatchObject([{ tokenId: token.tokenId, cuis: [], details: { serial: token.serial, reason: 'REPLACED', replacedByTokenId: 'tok_new' } }]);
    expect(disconnectedEvents(world).bus).toHaveLength(1);
  });

  it('an UNUSED disconnect does not happen once a company is linked again', async () => {
    const world = createFakeWorld();
    const token = await world.connect({ tenantId: T, cuis: [A] });
    const result = await disconnect(world.deps, record(world, token), 'UNUSED');
    expect(result.flipped).toBe(false);
    expect(record(world, token).status).toBe('active');
    expect(disconnectedEvents(world).audit).toEqual([]);
  });
});
