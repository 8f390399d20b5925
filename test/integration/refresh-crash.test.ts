/**
 * Rotation safety: a failure or a real crash between the steps of a refresh (lease → ANAF → secret →
 * metadata → event), then the next run. Failures are injected by wrapping the adapters of an in-process
 * runtime; crashes by SIGKILLing a child process that runs the refresh (no `finally`, the lease stays).
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../shared/adapters/dynamodb/client.js';
import { leaseSecondsFor, refreshToken } from '../../shared/services/refresh.js';
import { sweep } from '../../shared/services/sweep.js';
import { CUIS, follow, startTestStack } from '../support/stack.js';
import { connectDueToken, failing, freshDeps, later, leaks, refreshAndKill, stored } from '../support/refresh-helpers.js';

type Stack = Awaited<ReturnType<typeof startTestStack>>;
let stack: Stack;
let n = 0;
const tenant = () => `k${++n}-${Date.now().toString(36)}`;
/** Past the lease term of the test stack (a refresh's worst case at ANAF_TIMEOUT_MS 1500, plus 4 s). */
const AFTER_LEASE_MS = (leaseSecondsFor({ settings: { anafTimeoutMs: 1500 } as never }) + 5) * 1000;
const control = () => stack.emulator!.control;
const refreshCalls = () => control().stats().tokenCalls.refresh_token;
const forever = { remainingMs: () => Number.POSITIVE_INFINITY };
const scanTable = async () => (await createDocumentClient().send(new ScanCommand({ TableName: process.env.TABLE_NAME! }))).Items ?? [];

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});
beforeEach(() => {
  control().reset();
});

const dueToken = () => connectDueToken(stack, tenant(), [CUIS[0]]);

/** The pair stored for the token works: its refresh token is ANAF's live one and the ERP gets a usable access token. */
async function expectWorkingPair(t: string, tokenId: string, version: number) {
  const { record, pair } = await stored(t, tokenId);
  expect(record).toMatchObject({ status: 'active', version, lastError: null });
  expect(pair!.version).toBe(version);
  expect(control().isRefreshTokenLive(pair!.refreshToken)).toBe(true);
  const access = await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[0]}/access-token`);
  expect(access.status).toBe(200);
  expect(access.body.accessToken).toBe(pair!.accessToken);
  const efactura = await fetch(`${stack.emulator!.apiBaseUrl}/listaMesajeFactura?zile=5&cif=${CUIS[0]}`, {
    headers: { authorization: `Bearer ${access.body.accessToken}` },
  });
  expect(efactura.status).toBe(200);
}

describe('an adapter failing between the steps, then the next run', () => {
  it('after ANAF answered, the secret write fails twice: retried in the same run, the new pair lands', async () => {
    const { t, tokenId } = await dueToken();
    const deps = freshDeps();
    deps.secrets = failing(deps.secrets, 'putTokenPair', { times: 2 });
    const result = await refreshToken(deps, { tenantId: t, tokenId, trigger: 'sweep' });
    expect(result.outcome).toBe('refreshed');
    expect(refreshCalls()).toBe(1);
    await expectWorkingPair(t, tokenId, 2);
  });

  it('after the secret write, the metadata write fails: the next sweep adopts the stored pair without calling ANAF', async () => {
    const { t, tokenId } = await dueToken();
    const deps = freshDeps();
    deps.tokens = failing(deps.tokens, 'replace', { times: 1 });
    await expect(refreshToken(deps, { tenantId: t, tokenId, trigger: 'sweep' })).rejects.toThrow(/injected/);
    const between = await stored(t, tokenId);
    expect(between.record).toMatchObject({ version: 1, leaseOwner: null });
    expect(between.pair!.version).toBe(2);

    const summary = await stack.runSweep();
    expect(summary.refreshed).toBe(1);
    expect(refreshCalls()).toBe(1);
    await expectWorkingPair(t, tokenId, 2);
    const trail = (await stack.api.get(`/v1/tenants/${t}/events`)).body.events;
    expect(trail.find((e: { type: string }) => e.type === 'refreshed')?.details).toMatchObject({ recovered: true });
  });

  it('after the secret write, the metadata write and the lease release fail: others skip the leased token, the run after the lease term adopts', async () => {
    const { t, tokenId } = await dueToken();
    const deps = freshDeps();
    deps.tokens = failing(failing(deps.tokens, 'replace', { times: 1 }), 'releaseLease', { times: 1 });
    await expect(refreshToken(deps, { tenantId: t, tokenId, trigger: 'manual' })).rejects.toThrow(/injected/);
    expect((await stored(t, tokenId)).record.leaseOwner).toMatch(/^lease_/);

    const meanwhile = await stack.runSweep();
    expect(meanwhile).toMatchObject({ refreshed: 0, failed: 0 });
    const next = await sweep(later(freshDeps(), AFTER_LEASE_MS), forever);
    expect(next.refreshed).toBe(1);
    expect(refreshCalls()).toBe(1);
    await expectWorkingPair(t, tokenId, 2);
  });

  it('after ANAF answered, every secret write fails: the pair goes to the KMS-encrypted escrow item, the next run moves it into the secret and access continues', async () => {
    const { t, tokenId } = await dueToken();
    const deps = freshDeps();
    deps.secrets = failing(deps.secrets, 'putTokenPair');
    const result = await refreshToken(deps, { tenantId: t, tokenId, trigger: 'sweep' });
    expect(result.outcome).toBe('refreshed');
    const { record, pair } = await stored(t, tokenId);
    expect(record).toMatchObject({ version: 2, status: 'active', leaseOwner: null });
    expect(pair!.version).toBe(1); // the secret still holds the spent pair…
    const escrowed = (await freshDeps().escrow.get(t, tokenId))!;
    expect(escrowed).toMatchObject({ version: 2, versionId: record.secretVersionId }); // …the escrow the live one
    expect(control().isRefreshTokenLive(escrowed.refreshToken)).toBe(true);
    // the escrow item is ciphertext: no token string in the table
    const items = JSON.stringify((await scanTable()).filter((i) => String(i.sk).startsWith('ESCROW#')));
    expect(items).toMatch(/ciphertext/);
    expect(leaks(items, [escrowed.accessToken, escrowed.refreshToken])).toEqual([]);

    // the access-token route hands out the escrowed token meanwhile
    const handed = await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[0]}/access-token`);
    expect(handed.status).toBe(200);
    expect(handed.body.accessToken).toBe(escrowed.accessToken);
    // the next refresh (past the manual cool-down) presents the escrowed refresh token, never the spent
    // one, and empties the escrow
    const next = await refreshToken(later(freshDeps(), 660_000), { tenantId: t, tokenId, trigger: 'manual' });
    expect(next.outcome).toBe('refreshed');
    expect(control().spentRefreshTokens()).toEqual([pair!.refreshToken, escrowed.refreshToken]);
    expect(await freshDeps().escrow.get(t, tokenId)).toBeNull();
    await expectWorkingPair(t, tokenId, 3);
  }, 30_000);

  it('after ANAF answered, the secret store and the escrow both fail: the run fails loudly, the record is untouched, and the next run asks for re-authorization with a working link (the one unclosable window)', async () => {
    const { t, tokenId } = await dueToken();
    const deps = freshDeps();
    deps.secrets = failing(deps.secrets, 'putTokenPair');
    deps.escrow = failing(deps.escrow, 'put');
    await expect(refreshToken(deps, { tenantId: t, tokenId, trigger: 'sweep' })).rejects.toThrow(/injected/);
    expect((await stored(t, tokenId)).record).toMatchObject({ version: 1, status: 'active', leaseOwner: null });

    // ANAF rotated and the only copy of the new pair is gone: the one window no write order can close.
    const res = await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`);
    expect(res.body.error.code).toBe('REAUTH_REQUIRED');
    const [event] = (await stack.api.get(`/v1/tenants/${t}/events`)).body.events;
    expect(event).toMatchObject({ type: 'reauth-required' });
    expect((await follow(event.connectUrl)).at(-1)!.status).toBe(200);
    expect((await stored(t, tokenId)).record.status).toBe('active');
  }, 30_000);
});

describe('the process killed (SIGKILL) between the steps, then the next run', () => {
  it('killed after taking the lease, before calling ANAF: the lease expires and the next run refreshes', async () => {
    const { t, tokenId } = await dueToken();
    const killed = await refreshAndKill({ tenantId: t, tokenId, point: 'before-anaf' });
    expect(killed.signal).toBe('SIGKILL');
    expect(refreshCalls()).toBe(0);
    expect((await stored(t, tokenId)).record.leaseOwner).toMatch(/^lease_/);

    expect((await stack.runSweep()).refreshed).toBe(0); // leased: skipped, not waited for
    expect((await sweep(later(freshDeps(), AFTER_LEASE_MS), forever)).refreshed).toBe(1);
    expect(refreshCalls()).toBe(1);
    await expectWorkingPair(t, tokenId, 2);
  });

  it('killed after ANAF answered, before the secret write: the one unclosable window ends in reauth-required with a connect link, not a silent failure', async () => {
    const { t, tokenId } = await dueToken();
    const killed = await refreshAndKill({ tenantId: t, tokenId, point: 'after-anaf-before-secret' });
    expect(killed.signal).toBe('SIGKILL');
    expect(refreshCalls()).toBe(1);

    const next = await sweep(later(freshDeps(), AFTER_LEASE_MS), forever);
    expect(next.reauthRequired).toBe(1);
    const { record } = await stored(t, tokenId);
    expect(record).toMatchObject({ status: 'reauth-required', lastError: 'INVALID_GRANT' });
    const [event] = (await stack.api.get(`/v1/tenants/${t}/events`)).body.events;
    expect(event.type).toBe('reauth-required');
    expect(event.connectUrl).toMatch(/session=cs_/);
  });

  it('killed after the secret write, before the metadata update: the next run adopts the stored pair without calling ANAF', async () => {
    const { t, tokenId } = await dueToken();
    const killed = await refreshAndKill({ tenantId: t, tokenId, point: 'after-secret-before-metadata' });
    expect(killed.signal).toBe('SIGKILL');
    expect(refreshCalls()).toBe(1);
    const between = await stored(t, tokenId);
    expect(between.record.version).toBe(1);
    expect(between.pair!.version).toBe(2);

    const next = await sweep(later(freshDeps(), AFTER_LEASE_MS), forever);
    expect(next.refreshed).toBe(1);
    expect(refreshCalls()).toBe(1);
    await expectWorkingPair(t, tokenId, 2);
    // the next refresh presents the adopted (rotated) refresh token (11 minutes on: past the manual cool-down)
    const again = await refreshToken(later(freshDeps(), AFTER_LEASE_MS + 660_000), { tenantId: t, tokenId, trigger: 'manual' });
    expect(again.outcome).toBe('refreshed');
    expect(refreshCalls()).toBe(2);
    await expectWorkingPair(t, tokenId, 3);
  });

  it('killed after the metadata update, before the event: the refresh stands and the pair works at once', async () => {
    const { t, tokenId } = await dueToken();
    const killed = await refreshAndKill({ tenantId: t, tokenId, point: 'after-metadata-before-event' });
    expect(killed.signal).toBe('SIGKILL');
    expect((await stored(t, tokenId)).record.leaseOwner).toBeNull();
    await expectWorkingPair(t, tokenId, 2);
    expect((await stack.runSweep()).due).toBe(0);
    expect(refreshCalls()).toBe(1);
    // nothing a killed child wrote to its logs carries a token or the client secret
    expect(leaks(killed.output, [...control().issuedTokens(), 'emulator-client-secret'])).toEqual([]);
  });
});
