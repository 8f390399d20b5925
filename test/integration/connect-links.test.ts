import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CUIS, follow, setupTenant, startTestStack } from '../support/stack.js';
import { connectNew } from '../support/refresh-helpers.js';

/*
 * Connect links are bearer capabilities (issue 10): the table never holds one in clear, and a link
 * minted for a token restores only that certificate holder's access.
 */

type Stack = Awaited<ReturnType<typeof startTestStack>>;
let stack: Stack;
let n = 0;
const tenant = () => `l${++n}-${Date.now().toString(36)}`;

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});
beforeEach(() => {
  stack.emulator!.control.reset();
});

async function scanTable(): Promise<string> {
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  const items: unknown[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await doc.send(new ScanCommand({ TableName: process.env.TABLE_NAME!, ConsistentRead: true, ExclusiveStartKey: start }));
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  doc.destroy();
  return JSON.stringify(items);
}

describe('session ids are stored only as hashes', () => {
  it('after minting, opening, failing and completing sessions, a scan of the table holds no session id; GET by id still answers', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0], CUIS[1]]);
    const minted = await Promise.all([0, 1, 2].map(() => stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[0]] })));
    const ids = minted.map((m) => m.body.sessionId as string);
    expect(ids.every((id) => /^cs_/.test(id))).toBe(true);
    // One opened only (a state is stored), one failed at ANAF (lastError, connect-failed), one completed.
    await fetch(minted[0]!.body.authorizeUrl, { redirect: 'manual' });
    stack.emulator!.control.setAuthorizeMode('deny');
    await follow(minted[1]!.body.authorizeUrl);
    stack.emulator!.control.setAuthorizeMode('approve');
    const done = await follow(minted[2]!.body.authorizeUrl);
    expect(done.at(-1)!.status).toBe(200);

    const table = await scanTable();
    for (const id of ids) expect(table).not.toContain(id.slice(3));
    expect((await stack.api.get(`/v1/tenants/${t}/connect-sessions/${ids[0]}`)).body).toMatchObject({ sessionId: ids[0], status: 'open' });
    expect((await stack.api.get(`/v1/tenants/${t}/connect-sessions/${ids[1]}`)).body).toMatchObject({ sessionId: ids[1], status: 'open', lastError: 'ACCESS_DENIED' });
    expect((await stack.api.get(`/v1/tenants/${t}/connect-sessions/${ids[2]}`)).body).toMatchObject({ sessionId: ids[2], status: 'completed' });
    const events = JSON.stringify((await stack.api.get(`/v1/tenants/${t}/events`)).body);
    for (const id of ids) expect(events).not.toContain(id.slice(3));
  });
});

const control = () => stack.emulator!.control;
let serials = 0;
const useCertificate = () => {
  const serial = `5b:00:00:00:00:${(++serials).toString(16).padStart(2, '0')}`;
  control().setCertificate({ serial, holder: `HOLDER ${serial}` });
  return serial;
};
const tokenOf = async (t: string, cui: string) => (await stack.api.get(`/v1/tenants/${t}/companies/${cui}`)).body.tokenId as string | null;
const events = async (t: string) => (await stack.api.get(`/v1/tenants/${t}/events`)).body.events as Array<{ type: string; tokenId: string | null; cuis: string[]; connectUrl?: string; details?: Record<string, unknown> }>;

describe('a session minted for a token restores that certificate holder only', () => {
  it('POST connect-sessions with tokenId, completed with another certificate: a new token, no company moves, the page says so', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0], CUIS[1]]);
    const tokenA = await connectNew(stack.api, stack.emulator!, t, [CUIS[0], CUIS[1]]);
    const original = (await stack.api.get(`/v1/tenants/${t}/tokens/${tokenA}`)).body.serial as string;
    const minted = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[0]], tokenId: tokenA });
    expect(minted.status).toBe(201);
    const serialB = useCertificate();
    const last = (await follow(minted.body.authorizeUrl)).at(-1)!;
    expect(last.status).toBe(409);
    const page = await last.text();
    expect(page).toContain('alt certificat');
    expect(page).toContain('another certificate');
    expect(await tokenOf(t, CUIS[0])).toBe(tokenA);
    expect(await tokenOf(t, CUIS[1])).toBe(tokenA);
    const tokens = (await stack.api.get(`/v1/tenants/${t}/tokens`)).body.tokens as Array<{ tokenId: string; serial: string; cuis: string[] }>;
    expect(tokens.find((x) => x.tokenId === tokenA)).toMatchObject({ serial: original, cuis: [CUIS[0], CUIS[1]].sort() });
    expect(tokens.find((x) => x.serial === serialB)).toMatchObject({ cuis: [] });
    expect((await events(t)).some((e) => e.type === 'relinked')).toBe(false);
  });

  it("POST connect-sessions with an unknown, malformed or another tenant's tokenId → 404 TOKEN_NOT_FOUND, nothing minted", async () => {
    const t = tenant();
    const other = tenant();
    await setupTenant(stack.api, t, [CUIS[0]]);
    await setupTenant(stack.api, other, [CUIS[0]]);
    const theirs = await connectNew(stack.api, stack.emulator!, other, [CUIS[0]]);
    const before = await scanTable();
    for (const tokenId of ['tok_000000000000000000000000', 'nope', theirs]) {
      const minted = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[0]], tokenId });
      expect(minted.status, tokenId).toBe(404);
      expect(minted.body.error.code).toBe('TOKEN_NOT_FOUND');
    }
    expect(await scanTable()).toBe(before);
  });

  it("the reauth-required event's link, completed with another certificate, moves nothing; with the holder's certificate it restores the token", async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0]]);
    const tokenA = await connectNew(stack.api, stack.emulator!, t, [CUIS[0]]);
    const holder = (await stack.api.get(`/v1/tenants/${t}/tokens/${tokenA}`)).body.serial as string;
    control().failNext('invalid_grant');
    expect((await stack.api.post(`/v1/tenants/${t}/tokens/${tokenA}/refresh`)).status).toBe(409);
    const link = (await events(t)).find((e) => e.type === 'reauth-required')!.connectUrl!;
    expect(link).toMatch(/session=cs_/);

    useCertificate();
    const wrong = await (await follow(link)).at(-1)!.text();
    expect(wrong).toContain('another certificate');
    expect(await tokenOf(t, CUIS[0])).toBe(tokenA);
    expect((await stack.api.get(`/v1/tenants/${t}/tokens/${tokenA}`)).body.status).toBe('reauth-required');

    control().setCertificate({ serial: holder, holder: 'HOLDER' });
    const right = (await follow(link)).at(-1)!;
    expect(right.status).toBe(200);
    expect(await right.text()).toContain('Conectare reușită');
    expect((await stack.api.get(`/v1/tenants/${t}/tokens/${tokenA}`)).body).toMatchObject({ status: 'active', cuis: [CUIS[0]] });
  });

  it('an ERP session without tokenId keeps moving companies; a move from an active token of another serial emits relinked naming both serials', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0], CUIS[1]]);
    await connectNew(stack.api, stack.emulator!, t, [CUIS[0], CUIS[1]]);
    const tokenA = (await tokenOf(t, CUIS[0]))!;
    const serialA = (await stack.api.get(`/v1/tenants/${t}/tokens/${tokenA}`)).body.serial as string;
    const serialB = useCertificate();
    const minted = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[0]] });
    expect((await follow(minted.body.authorizeUrl)).at(-1)!.status).toBe(200);
    const tokenB = (await tokenOf(t, CUIS[0]))!;
    expect(tokenB).not.toBe(tokenA);
    expect(await tokenOf(t, CUIS[1])).toBe(tokenA);
    const relinked = (await events(t)).filter((e) => e.type === 'relinked');
    expect(relinked).toHaveLength(1);
    expect(relinked[0]).toMatchObject({ tokenId: tokenB, cuis: [CUIS[0]], details: { fromTokenId: tokenA, fromSerial: serialA, serial: serialB } });
  });
});

describe("a successful connection closes the token's other open sessions", () => {
  it('two links for one token: the first success closes the second, which then answers the used page', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0]]);
    await connectNew(stack.api, stack.emulator!, t, [CUIS[0]]);
    const tokenA = (await tokenOf(t, CUIS[0]))!;
    const first = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[0]], tokenId: tokenA });
    const second = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[0]], tokenId: tokenA });
    expect((await follow(first.body.authorizeUrl)).at(-1)!.status).toBe(200);
    expect((await stack.api.get(`/v1/tenants/${t}/connect-sessions/${second.body.sessionId}`)).body).toMatchObject({ status: 'completed', tokenId: tokenA });
    const reopened = await follow(second.body.authorizeUrl);
    expect(reopened).toHaveLength(1);
    expect(reopened[0]!.status).toBe(200);
    const used = await reopened[0]!.text();
    expect(used).toContain('Linkul a fost deja folosit');
    expect(used).toContain('This link was already used');
  });
});
