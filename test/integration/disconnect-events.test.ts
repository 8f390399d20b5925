import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CUIS, follow, setupTenant, startTestStack, type ApiAnswer } from '../support/stack.js';
import { captureOutput, connectNew, freshDeps, leaks, stored, tapBus, type BusEvent } from '../support/refresh-helpers.js';

type Stack = Awaited<ReturnType<typeof startTestStack>>;
let stack: Stack;
let output: ReturnType<typeof captureOutput>;
let n = 0;
const tenant = () => `d${++n}-${Date.now().toString(36)}`;
const DAY_S = 86_400;
const control = () => stack.emulator!.control;
const LIFECYCLE = ['connected', 'refreshed', 'refresh-failed', 'reauth-required', 'expiring', 'disconnected'];

beforeAll(async () => {
  output = captureOutput();
  // Every log line the handlers write is captured and searched for secrets below.
  stack = await startTestStack({ POWERTOOLS_LOG_LEVEL: 'DEBUG', MANUAL_REFRESH_COOLDOWN_SECONDS: '0' });
});
afterAll(async () => {
  output?.stop();
  await stack?.stop();
});
beforeEach(() => {
  control().reset();
});

type Entry = { type: string; tokenId: string | null; cuis: string[]; at: string; connectUrl?: string; details?: Record<string, unknown> };

async function allEvents(t: string, limit: number): Promise<{ events: Entry[]; pages: number }> {
  const events: Entry[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res: ApiAnswer = await stack.api.get(`/v1/tenants/${t}/events?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(res.status).toBe(200);
    events.push(...res.body.events);
    cursor = res.body.nextCursor;
    pages += 1;
  } while (cursor && pages < 50);
  return { events, pages };
}

describe('lifecycle events: on the EventBridge bus and in the audit trail', () => {
  it('connected, expiring, refreshed, refresh-failed, reauth-required, connected again, disconnected — each on the bus and in the trail, newest first, paginated, never a token', async () => {
    const tap = await tapBus();
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0], CUIS[1]]);
    control().setTokenLifetimes({ refreshSeconds: 20 * DAY_S }); // the sweep will warn (30 days)
    const tokenId = await connectNew(stack.api, stack.emulator!, t, [CUIS[0], CUIS[1]]);

    expect((await stack.runSweep()).warned).toBeGreaterThanOrEqual(1); // expiring (30 days)
    expect((await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`)).status).toBe(200); // refreshed
    expect((await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[1]}/access-token`)).status).toBe(200); // token-issued
    control().failNext('server_error', 3);
    expect((await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`)).status).toBe(503); // refresh-failed
    control().failNext('invalid_grant');
    expect((await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`)).status).toBe(409); // reauth-required
    const { events: beforeReconnect } = await allEvents(t, 100);
    const reauthLink = beforeReconnect.find((e) => e.type === 'reauth-required')!.connectUrl!;
    expect((await follow(reauthLink)).at(-1)!.status).toBe(200); // connected (re-authorization)
    expect((await stack.api.del(`/v1/tenants/${t}/tokens/${tokenId}`)).status).toBe(204); // disconnected

    const { events: trail } = await allEvents(t, 100);
    expect(trail.map((e) => e.type)).toEqual(['disconnected', 'connected', 'reauth-required', 'refresh-failed', 'token-issued', 'refreshed', 'expiring', 'connected']);
    for (let i = 1; i < trail.length; i++) expect(trail[i - 1]!.at >= trail[i]!.at).toBe(true);
    for (const e of trail) {
      expect(e.tokenId).toBe(tokenId);
      expect(e.cuis.length).toBeGreaterThan(0);
    }
    for (const type of ['expiring', 'reauth-required']) {
      expect(trail.find((e) => e.type === type)!.connectUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1\/oauth\/authorize\?session=cs_/);
    }
    expect(trail.find((e) => e.type === 'expiring')!.details).toMatchObject({ reason: 'REFRESH_TOKEN_ENDING', thresholdDays: 30, daysLeft: expect.any(Number), refreshExpiresAt: expect.any(String) });
    expect(trail.find((e) => e.type === 'refresh-failed')!.details).toMatchObject({ reason: 'ANAF_UNAVAILABLE', failedAttempts: 1 });

    // pagination: pages of 2 give the same list, in the same order
    const paged = await allEvents(t, 2);
    expect(paged.pages).toBe(Math.ceil(trail.length / 2));
    expect(paged.events).toEqual(trail);
    expect((await stack.api.get(`/v1/tenants/${t}/events?cursor=not-a-cursor`)).status).toBe(400);
    const other = tenant();
    await setupTenant(stack.api, other, []);
    const firstPage = await stack.api.get(`/v1/tenants/${t}/events?limit=2`);
    expect((await stack.api.get(`/v1/tenants/${other}/events?cursor=${firstPage.body.nextCursor}`)).status).toBe(400);
    expect((await stack.api.get(`/v1/tenants/${other}/events`)).body).toEqual({ events: [], nextCursor: null });
    expect((await stack.api.get(`/v1/tenants/${t}/events?limit=0`)).status).toBe(400);

    // the bus got every lifecycle change, with the documented shape
    let onBus: BusEvent[] = [];
    for (let i = 0; i < 20 && onBus.filter((e) => e.detail.tenantId === t).length < trail.filter((e) => e.type !== 'token-issued').length; i++) {
      onBus = await tap.events();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await tap.close();
    const mine = onBus.filter((e) => e.detail.tenantId === t);
    // Hand-outs (token-issued) stay in the audit trail only; every lifecycle change reaches the bus.
    const lifecycle = trail.filter((e) => e.type !== 'token-issued');
    expect(trail.length).toBeGreaterThan(lifecycle.length);
    expect(mine.map((e) => e['detail-type']).sort()).toEqual(lifecycle.map((e) => e.type).sort());
    expect(new Set(mine.map((e) => e['detail-type']))).toEqual(new Set(LIFECYCLE));
    for (const e of mine) {
      expect(e.source).toBe('anaf-broker');
      expect(e.detail).toMatchObject({ tenantId: t, tokenId, cuis: expect.any(Array), at: expect.any(String) });
      if (e['detail-type'] === 'expiring' || e['detail-type'] === 'reauth-required') expect(e.detail.connectUrl).toMatch(/session=cs_/);
    }

    // no token and no client secret anywhere: bus, trail, logs, DynamoDB items
    const secrets = [...control().issuedTokens(), 'emulator-client-secret'];
    expect(control().issuedTokens().length).toBeGreaterThanOrEqual(6);
    expect(leaks(JSON.stringify(onBus), secrets)).toEqual([]);
    expect(leaks(JSON.stringify(trail), secrets)).toEqual([]);
    expect(output.text()).toContain('"level":"INFO"'); // the capture does see the handlers' log lines
    expect(leaks(output.text(), secrets)).toEqual([]);
    const items = await new DynamoDBClient({}).send(new ScanCommand({ TableName: process.env.TABLE_NAME! }));
    expect(items.Items!.length).toBeGreaterThan(5);
    expect(leaks(JSON.stringify(items.Items), secrets)).toEqual([]);
  }, 30_000);
});

describe('disconnect (DELETE /v1/tenants/{tenantId}/tokens/{tokenId})', () => {
  it('deletes the secret, unlinks the companies, records it once; the token is never refreshed or revived', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0], CUIS[1]]);
    const tokenId = await connectNew(stack.api, stack.emulator!, t, [CUIS[0], CUIS[1]]);

    const res = await stack.api.del(`/v1/tenants/${t}/tokens/${tokenId}`);
    expect(res.status).toBe(204);
    const token = await stack.api.get(`/v1/tenants/${t}/tokens/${tokenId}`);
    expect(token.body).toMatchObject({ tokenId, status: 'disconnected', cuis: [] });
    for (const cui of [CUIS[0], CUIS[1]]) {
      expect((await stack.api.get(`/v1/tenants/${t}/companies/${cui}`)).body).toMatchObject({ tokenId: null, status: 'not-connected' });
    }
    const { record, pair } = await stored(t, tokenId);
    expect(record).toMatchObject({ status: 'disconnected', dueAt: null });
    expect(pair).toBeNull();
    const secret = await new SecretsManagerClient({}).send(new DescribeSecretCommand({ SecretId: `${process.env.SECRET_PREFIX}${t}/tokens/${tokenId}` }));
    expect(secret.DeletedDate).toBeInstanceOf(Date);

    expect((await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[0]}/access-token`)).body.error.code).toBe('NOT_CONNECTED');
    expect((await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`)).body.error.code).toBe('TOKEN_DISCONNECTED');
    expect((await stack.api.del(`/v1/tenants/${t}/tokens/${tokenId}`)).status).toBe(204);
    const trail = (await stack.api.get(`/v1/tenants/${t}/events`)).body.events as Entry[];
    expect(trail.filter((e) => e.type === 'disconnected')).toHaveLength(1);
    expect(trail[0]).toMatchObject({ type: 'disconnected', tokenId, cuis: [CUIS[0], CUIS[1]].sort() });
    expect(control().stats().tokenCalls.refresh_token).toBe(0);

    // the same certificate connecting again gets a new token; the old one stays disconnected
    const again = await connectNew(stack.api, stack.emulator!, t, [CUIS[0]]);
    expect(again).not.toBe(tokenId);
    expect((await stored(t, tokenId)).record.status).toBe('disconnected');
    expect((await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[0]}`)).body).toMatchObject({ tokenId: again, status: 'active' });
  });

  it('a disconnect during a refresh wins: the caller gets 409 TOKEN_DISCONNECTED and the pair stays deleted', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0]]);
    const tokenId = await connectNew(stack.api, stack.emulator!, t, [CUIS[0]]);
    control().setLatency(600);
    const refreshing = stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await stack.api.del(`/v1/tenants/${t}/tokens/${tokenId}`)).status).toBe(204);
    const res = await refreshing;
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('TOKEN_DISCONNECTED');
    expect(await freshDeps().secrets.getTokenPair(t, tokenId)).toBeNull();
    expect((await stored(t, tokenId)).record.status).toBe('disconnected');
    const trail = (await stack.api.get(`/v1/tenants/${t}/events`)).body.events as Entry[];
    expect(trail.map((e) => e.type)).toEqual(['disconnected', 'connected']);
  });

  it('unknown token → 404 TOKEN_NOT_FOUND, unknown tenant → 404 TENANT_NOT_FOUND', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, []);
    expect((await stack.api.del(`/v1/tenants/${t}/tokens/tok_${'0'.repeat(24)}`)).body.error.code).toBe('TOKEN_NOT_FOUND');
    expect((await stack.api.del(`/v1/tenants/nobody-${t}/tokens/tok_${'0'.repeat(24)}`)).body.error.code).toBe('TENANT_NOT_FOUND');
  });
});
