import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CUIS, follow, setupTenant, startTestStack } from '../support/stack.js';
import { connectNew, stored } from '../support/refresh-helpers.js';
import { getRuntime } from '../../shared/runtime/runtime.js';
import { ALL_ADAPTERS } from '../../shared/runtime/adapters/index.js';

/*
 * Connect links are bearer capabilities (issue 10): the table never holds one in clear, and a link
 * minted for a token restores only that certificate holder's access, unless the token waits for a
 * person (a renewed certificate answers it). A lifecycle event's link lives until the access would be
 * lost plus 7 days (issue 12).
 */

type Stack = Awaited<ReturnType<typeof startTestStack>>;
let stack: Stack;
let n = 0;
const tenant = () => `l${++n}-${Date.now().toString(36)}`;

/** The services' clock runs this far ahead of the wall clock; the emulator's is moved with it. */
let aheadMs = 0;
beforeAll(async () => {
  stack = await startTestStack();
  // The gateway's handlers run on this process's runtime.
  getRuntime(...ALL_ADAPTERS).deps.clock = { now: () => new Date(Date.now() + aheadMs) };
});
afterAll(async () => {
  await stack?.stop();
});
beforeEach(() => {
  // The emulator's reset puts its clock back too.
  aheadMs = 0;
  stack.emulator!.control.reset();
});
const travel = (ms: number) => {
  aheadMs += ms;
  stack.emulator!.control.advanceClock(ms / 1000);
};

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

  /** A token of two companies whose certificate is renewed: ANAF refuses its refresh, it is `reauth-required` with the event's link. */
  async function renewedCertificate(t: string): Promise<{ tokenA: string; old: string; link: string }> {
    await setupTenant(stack.api, t, [CUIS[0], CUIS[1]]);
    const tokenA = await connectNew(stack.api, stack.emulator!, t, [CUIS[0], CUIS[1]]);
    const old = (await stack.api.get(`/v1/tenants/${t}/tokens/${tokenA}`)).body.serial as string;
    // The certificate is renewed: ANAF no longer refreshes the old one's grant.
    control().revokeCertificate(old);
    expect((await stack.api.post(`/v1/tenants/${t}/tokens/${tokenA}/refresh`)).status).toBe(409);
    const link = (await events(t)).find((e) => e.type === 'reauth-required')!.connectUrl!;
    return { tokenA, old, link };
  }

  it("a renewed certificate through the reauth-required event's link takes the companies over; the access-token route answers from its token", async () => {
    const t = tenant();
    const { tokenA, old, link } = await renewedCertificate(t);
    expect(link).toMatch(/session=cs_/);
    const older = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[0]], tokenId: tokenA });

    const renewed = useCertificate();
    const last = (await follow(link)).at(-1)!;
    expect(last.status).toBe(200);
    const page = await last.text();
    expect(page).toContain('Conectare reușită');
    expect(page).toContain('certificatul cu care v-ați autentificat');
    expect(page).toContain('the certificate you signed in with');
    const tokenB = (await tokenOf(t, CUIS[0]))!;
    expect(tokenB).not.toBe(tokenA);
    expect(await tokenOf(t, CUIS[1])).toBe(tokenB);
    expect((await stack.api.get(`/v1/tenants/${t}/tokens/${tokenB}`)).body).toMatchObject({ status: 'active', serial: renewed, cuis: [CUIS[0], CUIS[1]].sort() });
    // The old token keeps no company and is not restored by this link: replaced, it is disconnected.
    expect((await stack.api.get(`/v1/tenants/${t}/tokens/${tokenA}`)).body).toMatchObject({ status: 'disconnected', cuis: [] });
    const access = await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[1]}/access-token`);
    expect(access.status).toBe(200);
    expect(access.body.tokenId).toBe(tokenB);
    expect(JSON.parse(Buffer.from((access.body.accessToken as string).split('.')[1]!, 'base64url').toString()).serial).toBe(renewed);
    const trail = await events(t);
    expect(trail.find((e) => e.type === 'connected' && e.tokenId === tokenB)).toMatchObject({ cuis: [CUIS[0], CUIS[1]].sort() });
    // The ordinary path's events: a move away from a reauth-required token is no `relinked` news.
    expect(trail.some((e) => e.type === 'relinked')).toBe(false);
    // Used once: opened again, the link says so; the old token's other link is closed with it.
    expect(await (await follow(link)).at(-1)!.text()).toContain('Linkul a fost deja folosit');
    expect((await stack.api.get(`/v1/tenants/${t}/connect-sessions/${older.body.sessionId}`)).body).toMatchObject({ status: 'completed', tokenId: tokenB });
  });

  it('a reauth-required token that a renewed certificate leaves without companies is disconnected at once: pair deleted, a `disconnected` event (reason REPLACED)', async () => {
    const t = tenant();
    const { tokenA, old, link } = await renewedCertificate(t);
    useCertificate();
    expect((await follow(link)).at(-1)!.status).toBe(200);
    const tokenB = (await tokenOf(t, CUIS[0]))!;
    expect(tokenB).not.toBe(tokenA);
    expect((await stack.api.get(`/v1/tenants/${t}/tokens/${tokenA}`)).body).toMatchObject({ status: 'disconnected', cuis: [] });
    const { record, pair } = await stored(t, tokenA);
    expect(record).toMatchObject({ status: 'disconnected', dueAt: null });
    expect(pair).toBeNull();
    const trail = await events(t);
    expect(trail.filter((e) => e.type === 'disconnected')).toMatchObject([{ tokenId: tokenA, cuis: [], details: { serial: old, reason: 'REPLACED', replacedByTokenId: tokenB } }]);
    // The new token is untouched by it; the old certificate connecting again gets a new token (a disconnected one is never revived).
    expect((await stack.api.get(`/v1/tenants/${t}/tokens/${tokenB}`)).body).toMatchObject({ status: 'active', cuis: [CUIS[0], CUIS[1]].sort() });
    expect((await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[0]}/access-token`)).body.tokenId).toBe(tokenB);
  });

  it('a reauth-required token that keeps a company after the take-over stays reauth-required (the company still shows it)', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0], CUIS[1]]);
    const tokenA = await connectNew(stack.api, stack.emulator!, t, [CUIS[0], CUIS[1]]);
    control().revokeCertificate((await stack.api.get(`/v1/tenants/${t}/tokens/${tokenA}`)).body.serial as string);
    expect((await stack.api.post(`/v1/tenants/${t}/tokens/${tokenA}/refresh`)).status).toBe(409);
    // The ERP mints a link for the token and one of its companies only.
    const minted = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[0]], tokenId: tokenA });
    useCertificate();
    expect((await follow(minted.body.authorizeUrl)).at(-1)!.status).toBe(200);
    expect(await tokenOf(t, CUIS[0])).not.toBe(tokenA);
    expect((await stack.api.get(`/v1/tenants/${t}/tokens/${tokenA}`)).body).toMatchObject({ status: 'reauth-required', cuis: [CUIS[1]] });
    expect((await stored(t, tokenA)).pair).not.toBeNull();
    expect((await events(t)).some((e) => e.type === 'disconnected')).toBe(false);
  });

  it("a failing token's link (ERP-minted, with returnUrl) completed with another certificate moves the companies: relinked, and the redirect names both tokens", async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0]]);
    const tokenA = await connectNew(stack.api, stack.emulator!, t, [CUIS[0]]);
    control().failNext('server_error', 3);
    expect((await stack.api.post(`/v1/tenants/${t}/tokens/${tokenA}/refresh`)).status).toBe(503);
    const returnUrl = `${stack.apiUrl}/erp/back`;
    const minted = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[0]], tokenId: tokenA, returnUrl });
    expect(minted.status).toBe(201);
    useCertificate();
    const back = (await follow(minted.body.authorizeUrl)).find((hop) => (hop.headers.get('location') ?? '').startsWith(returnUrl))!;
    const params = new URL(back.headers.get('location')!).searchParams;
    const tokenB = (await tokenOf(t, CUIS[0]))!;
    expect(tokenB).not.toBe(tokenA);
    expect(Object.fromEntries(params)).toEqual({ status: 'connected', tokenId: tokenB, replacedTokenId: tokenA });
    // An active token left without companies is left to the sweep (UNUSED at its next due time).
    expect((await stack.api.get(`/v1/tenants/${t}/tokens/${tokenA}`)).body).toMatchObject({ status: 'active', cuis: [] });
    expect((await events(t)).filter((e) => e.type === 'relinked')).toMatchObject([{ tokenId: tokenB, cuis: [CUIS[0]], details: { fromTokenId: tokenA } }]);
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

describe("a lifecycle event's link lives until the access would be lost, plus 7 days", () => {
  it('a refresh-token warning (20 days left) sent a link that still restores the holder when opened 8 days later', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0]]);
    control().setTokenLifetimes({ refreshSeconds: 20 * 86_400 });
    const tokenA = await connectNew(stack.api, stack.emulator!, t, [CUIS[0]]);
    const before = (await stack.api.get(`/v1/tenants/${t}/tokens/${tokenA}`)).body as { refreshExpiresAt: string };
    await stack.runSweep();
    const warning = (await events(t)).find((e) => e.type === 'expiring' && e.tokenId === tokenA)!;
    expect(warning.details).toMatchObject({ reason: 'REFRESH_TOKEN_ENDING', thresholdDays: 30 });

    travel(8 * 86_400_000 + 3_600_000);
    const last = (await follow(warning.connectUrl!)).at(-1)!;
    expect(last.status).toBe(200);
    expect(await last.text()).toContain('Conectare reușită');
    const after = (await stack.api.get(`/v1/tenants/${t}/tokens/${tokenA}`)).body;
    expect(after).toMatchObject({ status: 'active', cuis: [CUIS[0]] });
    expect(Date.parse(after.refreshExpiresAt)).toBeGreaterThan(Date.parse(before.refreshExpiresAt));
    // It would have worked until a week after the refresh token's end; used, it is closed.
    const sessionId = new URL(warning.connectUrl!).searchParams.get('session')!;
    const session = (await stack.api.get(`/v1/tenants/${t}/connect-sessions/${sessionId}`)).body;
    expect(session).toMatchObject({ status: 'completed', tokenId: tokenA, expiresAt: new Date(Date.parse(before.refreshExpiresAt) + 7 * 86_400_000).toISOString() });
  });
});
