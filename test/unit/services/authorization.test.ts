import { describe, expect, it } from 'vitest';
import { BrokerError } from '../../../shared/domain/errors.js';
import { storeAuthorization } from '../../../shared/services/authorization.js';
import { importToken } from '../../../shared/services/tokens.js';
import { createFakeWorld, type FakeAnafFailure } from '../../support/fakes.js';

const T = 'tenant-a';
const CUI = '14399840';
const SERIAL = '0a:00:99';

async function connected() {
  const world = createFakeWorld();
  const token = await world.connect({ tenantId: T, cuis: [CUI], serial: SERIAL });
  const clientId = [...world.anaf.clients.keys()][0]!;
  const pasted = () => world.anaf.issue({ clientId, serial: SERIAL });
  return { world, token, pasted, clientId };
}

const codeOf = (error: unknown) => (error instanceof BrokerError ? error.code : String(error));

describe('re-authorization of a certificate that has a token (fakes)', () => {
  it('numbers its pair past both the record and the secret (a pair an interrupted run left behind)', async () => {
    const { world, token, clientId } = await connected();
    // An interrupted refresh stored version 2 and died before its metadata write.
    const orphan = world.anaf.issue({ clientId, serial: SERIAL });
    await world.secrets.putTokenPair(T, token.tokenId, { ...orphan, version: 2 }, 'orphan-version-0000000000000000000');

    const fresh = world.anaf.issue({ clientId, serial: SERIAL });
    const stored = await storeAuthorization(world.deps, {
      tenantId: T,
      pair: fresh,
      cuis: [CUI],
      source: 'callback',
      replaceActive: true,
      leaseDeadline: world.clock.now().getTime(),
    });

    expect(stored).toMatchObject({ tokenId: token.tokenId, version: 3, leaseOwner: null });
    expect(world.tokens.records.get(`${T}/${token.tokenId}`)).toMatchObject({ version: 3, leaseOwner: null, leaseExpiresAt: null });
    expect(await world.secrets.getTokenPair(T, token.tokenId)).toMatchObject({ refreshToken: fresh.refreshToken, version: 3 });
  });

  it('an import for an active token is TOKEN_EXISTS without calling ANAF; with replace it rotates the pasted pair and stores the result', async () => {
    const { world, token, pasted } = await connected();
    const pair = pasted();
    const refused = await importToken(world.deps, { tenantId: T, ...pair, cuis: [] }).catch(codeOf);
    expect(refused).toBe('TOKEN_EXISTS');
    expect(world.anaf.refreshCalls).toBe(0);
    expect(world.anaf.isLive(pair.refreshToken)).toBe(true);

    const view = await importToken(world.deps, { tenantId: T, ...pair, cuis: [], replace: true });
    expect(view).toMatchObject({ tokenId: token.tokenId, status: 'active', cuis: [CUI] });
    expect(world.anaf.refreshCalls).toBe(1);
    const stored = await world.secrets.getTokenPair(T, token.tokenId);
    expect(stored!.version).toBe(2);
    expect(stored!.refreshToken).not.toBe(pair.refreshToken);
    expect(world.anaf.isLive(pair.refreshToken)).toBe(false);
    expect(world.anaf.isLive(stored!.refreshToken)).toBe(true);
  });

  it.each<[FakeAnafFailure, string]>([
    ['invalid_grant', 'IMPORT_REFRESH_REFUSED'],
    ['rejected', 'IMPORT_REFRESH_REFUSED'],
    ['invalid_client', 'ANAF_REJECTED'],
    ['unavailable', 'ANAF_UNAVAILABLE'],
    ['timeout', 'ANAF_UNAVAILABLE'],
    ['drop', 'ANAF_UNAVAILABLE'],
  ])('the import rotation fails with %s → %s, nothing stored, the lease released', async (failure, code) => {
    const { world, token, pasted } = await connected();
    const before = structuredClone(world.tokens.records.get(`${T}/${token.tokenId}`));
    const pairBefore = await world.secrets.getTokenPair(T, token.tokenId);
    world.anaf.failNext(failure);
    expect(await importToken(world.deps, { tenantId: T, ...pasted(), cuis: [], replace: true }).catch(codeOf)).toBe(code);
    expect(world.tokens.records.get(`${T}/${token.tokenId}`)).toEqual(before);
    expect(await world.secrets.getTokenPair(T, token.tokenId)).toEqual(pairBefore);
    expect(world.audit.filter((e) => e.type === 'connected')).toHaveLength(1);
  });
});

describe("an import whose record did not land after ANAF rotated the paste (fakes)", () => {
  /** What the SDK throws for a call past its timeout: a store fault (isStoreFault). */
  const timedOut = () => Object.assign(new Error('injected: the store did not answer'), { name: 'TimeoutError', $metadata: {} });

  async function firstAttemptLost() {
    const { world, clientId } = await connected();
    const paste = world.anaf.issue({ clientId, serial: '0b:00:01' });
    const connect = world.deps.tokens.connect.bind(world.deps.tokens);
    world.deps.tokens = { ...world.deps.tokens, connect: async () => Promise.reject(timedOut()) };
    // The service throws the store's fault as it is (the routes answer it 503 STORE_UNAVAILABLE).
    expect(await importToken(world.deps, { tenantId: T, ...paste, cuis: [] }).catch((error: Error) => error.name)).toBe('TimeoutError');
    world.deps.tokens = { ...world.deps.tokens, connect };
    expect(world.anaf.refreshCalls).toBe(1);
    expect(world.anaf.isLive(paste.refreshToken)).toBe(false);
    return { world, paste };
  }

  it('sent again within ADOPTABLE_ORPHAN_MAX_AGE_MS: the pair its first attempt left is stored, without a second rotation', async () => {
    const { world, paste } = await firstAttemptLost();
    world.clock.advance(49 * 60_000);
    const view = await importToken(world.deps, { tenantId: T, ...paste, cuis: [] });
    expect(view).toMatchObject({ status: 'active' });
    expect(world.anaf.refreshCalls).toBe(1);
    const stored = await world.secrets.getTokenPair(T, view.tokenId);
    expect(world.anaf.isLive(stored!.refreshToken)).toBe(true);
    expect(world.tokens.records.get(`${T}/${view.tokenId}`)).toMatchObject({ secretVersionId: stored!.versionId, version: stored!.version });
  });

  it('sent again later: not taken (the sweep may be deleting it as an orphan); the spent paste is refused and the pair is left alone', async () => {
    const { world, paste } = await firstAttemptLost();
    const tokensBefore = world.tokens.records.size;
    world.clock.advance(51 * 60_000);
    expect(await importToken(world.deps, { tenantId: T, ...paste, cuis: [] }).catch(codeOf)).toBe('IMPORT_REFRESH_REFUSED');
    expect(world.tokens.records.size).toBe(tokensBefore);
    expect(world.secrets.deleted.size).toBe(0);
  });
});
