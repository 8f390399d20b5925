/**
 * A store that does not answer (a timeout, a reset connection, throttling, a 5xx of DynamoDB or Secrets
 * Manager, after the SDK's own attempts) is a fault an ERP should retry, not a defect: the routes answer
 * 503 STORE_UNAVAILABLE with Retry-After, the console/CLI refresh the same code, and nothing is changed
 * or handed out. The faults are injected in the runtime's own SDK clients, inside the SDK's retry loop
 * (so its attempts and the error it finally throws are the real ones); the handlers run in this process
 * as Lambda calls them, against moto and the emulator.
 */
import type { Context } from 'aws-lambda';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { apiGatewayEvent, lambdaContext, matchRoute } from '../../local/gateway.js';
import { STORE_RETRY_AFTER_SECONDS } from '../../shared/config/aws-calls.js';
import { ALL_ADAPTERS } from '../../shared/runtime/adapters/index.js';
import { getRuntime } from '../../shared/runtime/runtime.js';
import { connectDueToken, freshDeps, stored } from '../support/refresh-helpers.js';
import { CUIS, connect, follow, pairObtainedByHand, setupTenant, type TestStack } from '../support/stack.js';
import { useTestStack } from '../support/use-stack.js';

let stack: TestStack;
useTestStack((s) => (stack = s), { MANUAL_REFRESH_COOLDOWN_SECONDS: '0' });

/**
 * The fault the next matching calls meet: the error a failing attempt throws, and which calls. `lands`:
 * the attempt reaches the store (its write is done) and only its answer is lost.
 */
let fault: { match: (command: string, input: string) => boolean; error: () => Error; lands?: (attempt: number) => boolean } | null = null;
let faulted = 0;

beforeAll(() => {
  for (const client of Object.values(getRuntime(...ALL_ADAPTERS).clients) as Array<{ middlewareStack: any }>) {
    client.middlewareStack.add(
      (next: (args: any) => Promise<any>, context: { commandName?: string }) => async (args: any) => {
        if (fault?.match(String(context.commandName), JSON.stringify(args.input ?? {}))) {
          faulted++;
          if (fault.lands?.(faulted)) await next(args);
          throw fault.error();
        }
        return next(args);
      },
      // Below the retry middleware: each of the SDK's attempts meets the fault.
      { step: 'finalizeRequest', priority: 'low', name: 'storeFaultsTest', override: true },
    );
  }
});
afterEach(() => {
  fault = null;
  faulted = 0;
});

/** What node's HTTP handler throws for a call past its request timeout, and for a reset connection. */
const timedOut = () => Object.assign(new Error('Request timed out'), { name: 'TimeoutError' });
const reset = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
/** What DynamoDB answers a throttled call (a client fault with a 400). */
const throttled = () =>
  Object.assign(new Error('The level of configured provisioned throughput for the table was exceeded'), {
    name: 'ProvisionedThroughputExceededException',
    $fault: 'client',
    $metadata: { httpStatusCode: 400 },
  });

let n = 0;
const tenant = () => `sf${++n}-${Date.now().toString(36)}`;

type Handler = (event: unknown, context: Context) => Promise<any>;
async function invoke(fn: string, event: unknown): Promise<any> {
  const { handler } = (await import(`../../functions/${fn}/handler.ts`)) as { handler: Handler };
  return handler(event, lambdaContext(fn));
}
function request(method: string, path: string, body?: unknown): unknown {
  const url = new URL(path, stack.apiUrl);
  return apiGatewayEvent(matchRoute(method, url.pathname)!, {
    url,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : Buffer.from(JSON.stringify(body)),
  });
}
const codeOf = (answer: any) => JSON.parse(answer.body).error?.code;

/** A connect session's link followed to ANAF and back: the callback's path and query, not yet called. */
async function callbackFromAnaf(t: string, cui: string): Promise<string> {
  const session = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis: [cui] });
  const toAnaf = (await follow(session.body.authorizeUrl, 1))[0]!.headers.get('location')!;
  const back = new URL((await fetch(toAnaf, { redirect: 'manual' })).headers.get('location')!);
  return `${back.pathname}${back.search}`;
}

describe('a store that does not answer', () => {
  it('access token: the token record read times out → 503 STORE_UNAVAILABLE with Retry-After, nothing handed out or audited; the next call works', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0]]);
    const { tokenId } = await connect(stack.api, t, [CUIS[0]]);
    const path = `/v1/tenants/${t}/companies/${CUIS[0]}/access-token`;
    const issuedBefore = (await stack.api.get(`/v1/tenants/${t}/events?limit=100`)).body.events.filter((e: any) => e.type === 'token-issued').length;

    fault = { match: (command, input) => command === 'GetItemCommand' && input.includes(`TOKEN#${tokenId}`), error: timedOut };
    const answer = await invoke('access-token-get', request('GET', path));
    expect([answer.statusCode, codeOf(answer)], answer.body).toEqual([503, 'STORE_UNAVAILABLE']);
    expect(answer.headers['retry-after']).toBe(String(STORE_RETRY_AFTER_SECONDS));
    // The SDK tried twice (its own attempts), and the body names no internals.
    expect(faulted).toBe(2);
    expect(answer.body).not.toMatch(/timed out|TimeoutError|GetItem|TOKEN#/);
    expect(JSON.parse(answer.body).accessToken).toBeUndefined();

    fault = null;
    const again = await invoke('access-token-get', request('GET', path));
    expect(again.statusCode, again.body).toBe(200);
    const issued = (await stack.api.get(`/v1/tenants/${t}/events?limit=100`)).body.events.filter((e: any) => e.type === 'token-issued');
    expect(issued.length).toBe(issuedBefore + 1);
  });

  it('access token: an audit write that fails does not block the hand-out, and the next hand-out records it (not "already audited")', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[5]]);
    await connect(stack.api, t, [CUIS[5]]);
    const path = `/v1/tenants/${t}/companies/${CUIS[5]}/access-token`;
    const issued = async () => (await stack.api.get(`/v1/tenants/${t}/events?limit=100`)).body.events.filter((e: any) => e.type === 'token-issued');

    // Both of the SDK's attempts of the first audit write fail; nothing after them.
    fault = { match: (command, input) => command === 'PutItemCommand' && input.includes(`EVENTS#${t}`) && faulted < 2, error: timedOut };
    const first = await invoke('access-token-get', request('GET', path));
    expect(first.statusCode, first.body).toBe(200);
    expect(faulted).toBe(2);
    expect(await issued()).toHaveLength(0);

    const second = await invoke('access-token-get', request('GET', path));
    expect(second.statusCode, second.body).toBe(200);
    expect(JSON.parse(second.body).accessToken).toBe(JSON.parse(first.body).accessToken);
    expect(await issued()).toHaveLength(1);
    // Once recorded, the same hand-out is not recorded again.
    await invoke('access-token-get', request('GET', path));
    expect(await issued()).toHaveLength(1);
  });

  it('callback: the metadata transaction lands but both attempts lose their answer → the connection stands (page 200, token active, its pair readable), the pair is not deleted', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[6]]);
    const callback = await callbackFromAnaf(t, CUIS[6]);

    // The first attempt commits and times out; the SDK's second meets a store that still does not answer.
    fault = { match: (command) => command === 'TransactWriteItemsCommand', error: timedOut, lands: (attempt) => attempt === 1 };
    const answer = await invoke('oauth-callback', request('GET', callback));
    expect(faulted).toBe(2);
    fault = null;

    const tokens = (await stack.api.get(`/v1/tenants/${t}/tokens`)).body.tokens;
    expect(tokens).toHaveLength(1);
    expect(tokens[0]).toMatchObject({ status: 'active', cuis: [CUIS[6]] });
    // The record the transaction committed points at a pair that is still there.
    const { record, pair } = await stored(t, tokens[0].tokenId);
    expect(pair).not.toBeNull();
    expect(record.secretVersionId).not.toBeNull();
    expect(answer.statusCode, answer.body).toBe(200);
    const token = await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[6]}/access-token`);
    expect(token.status, JSON.stringify(token.body)).toBe(200);
  });

  it("callback of a re-authorization (the certificate's token exists): the transaction lands, both answers lost → the connection stands (page 200, the new pair current)", async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[6]]);
    const { tokenId } = await connect(stack.api, t, [CUIS[6]]);
    const before = await stored(t, tokenId);
    const callback = await callbackFromAnaf(t, CUIS[6]);

    fault = { match: (command) => command === 'TransactWriteItemsCommand', error: timedOut, lands: (attempt) => attempt === 1 };
    const answer = await invoke('oauth-callback', request('GET', callback));
    expect(faulted).toBe(2);
    fault = null;

    const after = await stored(t, tokenId);
    expect(after.record).toMatchObject({ status: 'active', version: before.record.version + 1, leaseOwner: null });
    expect(after.record.secretVersionId).not.toBe(before.record.secretVersionId);
    expect(after.pair?.refreshToken).not.toBe(before.pair?.refreshToken);
    expect([answer.statusCode, answer.headers['content-type']], answer.body).toEqual([200, expect.stringMatching(/^text\/html/)]);
    const token = await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[6]}/access-token`);
    expect([token.status, token.body.accessToken], JSON.stringify(token.body)).toEqual([200, after.pair?.accessToken]);
  });

  it('callback: the transaction does not land → a 503 page (Romanian first, Retry-After), no token, and the pair left for the reconciliation, not deleted', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[7]]);
    const callback = await callbackFromAnaf(t, CUIS[7]);

    fault = { match: (command) => command === 'TransactWriteItemsCommand', error: timedOut };
    const answer = await invoke('oauth-callback', request('GET', callback));
    fault = null;
    expect(answer.statusCode).toBe(503);
    expect(answer.headers['content-type']).toMatch(/^text\/html/);
    expect(answer.headers['retry-after']).toBe(String(STORE_RETRY_AFTER_SECONDS));
    expect(answer.body.indexOf('lang="ro"')).toBeLessThan(answer.body.indexOf('lang="en"'));
    expect(answer.body).toContain('Serviciul nu a răspuns');
    expect(answer.body).toContain('STORE_UNAVAILABLE');
    expect(answer.body).not.toMatch(/timed out|TimeoutError|Transact/);

    expect((await stack.api.get(`/v1/tenants/${t}/tokens`)).body.tokens).toEqual([]);
    // The secret written before the transaction is still there: only the reconciliation, which reads the
    // record first, deletes a secret no record points at (an hour after it was written).
    const secrets = [];
    let cursor: string | undefined;
    do {
      const page = await freshDeps().secrets.listTokenSecrets(cursor);
      secrets.push(...page.secrets.filter((secret) => secret.tenantId === t));
      cursor = page.cursor;
    } while (cursor);
    expect(secrets).toHaveLength(1);
  });

  it('import: the transaction does not land after ANAF rotated the paste → 503; the same import sent again stores the rotated pair (no second rotation), nothing lost', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[2]]);
    const pasted = await pairObtainedByHand(stack.emulator!);
    const rotationsBefore = stack.emulator!.control.stats().tokenCalls.refresh_token;
    const body = { ...pasted, cuis: [CUIS[2]] };

    fault = { match: (command) => command === 'TransactWriteItemsCommand', error: timedOut };
    const first = await invoke('token-import', request('POST', `/v1/tenants/${t}/tokens`, body));
    fault = null;
    expect([first.statusCode, codeOf(first)], first.body).toEqual([503, 'STORE_UNAVAILABLE']);
    expect(stack.emulator!.control.stats().tokenCalls.refresh_token).toBe(rotationsBefore + 1);
    expect((await stack.api.get(`/v1/tenants/${t}/tokens`)).body.tokens).toEqual([]);

    // The paste is spent at ANAF now: only the pair the first attempt stored can connect the company.
    const again = await invoke('token-import', request('POST', `/v1/tenants/${t}/tokens`, body));
    expect(again.statusCode, again.body).toBe(201);
    expect(stack.emulator!.control.stats().tokenCalls.refresh_token).toBe(rotationsBefore + 1);
    const { tokenId } = JSON.parse(again.body);
    expect((await stored(t, tokenId)).record).toMatchObject({ status: 'active', version: 1 });
    const token = await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[2]}/access-token`);
    expect(token.status, JSON.stringify(token.body)).toBe(200);
    expect(token.body.accessToken).not.toBe(pasted.accessToken);
    // And the chain is live: the stored refresh token rotates.
    const refreshed = await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`);
    expect(refreshed.status, JSON.stringify(refreshed.body)).toBe(200);
  });

  it('import: every secret write fails (the pair goes to the escrow), then the transaction → 503; sent again, the escrowed pair is stored (no second rotation)', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[3]]);
    const pasted = await pairObtainedByHand(stack.emulator!);
    const rotationsBefore = stack.emulator!.control.stats().tokenCalls.refresh_token;
    const body = { ...pasted, cuis: [CUIS[3]] };

    const writes = new Set(['TransactWriteItemsCommand', 'PutSecretValueCommand', 'CreateSecretCommand']);
    fault = { match: (command) => writes.has(command), error: timedOut };
    const first = await invoke('token-import', request('POST', `/v1/tenants/${t}/tokens`, body));
    fault = null;
    expect([first.statusCode, codeOf(first)], first.body).toEqual([503, 'STORE_UNAVAILABLE']);

    const again = await invoke('token-import', request('POST', `/v1/tenants/${t}/tokens`, body));
    expect(again.statusCode, again.body).toBe(201);
    expect(stack.emulator!.control.stats().tokenCalls.refresh_token).toBe(rotationsBefore + 1);
    const { tokenId } = JSON.parse(again.body);
    const escrowed = await freshDeps().escrow.get(t, tokenId);
    expect((await stored(t, tokenId)).record).toMatchObject({ status: 'active', secretVersionId: escrowed?.versionId });
    // The record names the escrowed version: handed out from there, and a refresh moves it on.
    const token = await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[3]}/access-token`);
    expect([token.status, token.body.accessToken], JSON.stringify(token.body)).toEqual([200, escrowed?.accessToken]);
    const refreshed = await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`);
    expect(refreshed.status, JSON.stringify(refreshed.body)).toBe(200);
  }, 60_000);

  it('authorize and callback: a store fault or an error of ours is a page, not JSON (503 and 500)', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0]]);
    const session = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[0]] });
    const authorize = new URL(session.body.authorizeUrl);

    fault = { match: (command) => command === 'GetItemCommand' || command === 'UpdateItemCommand' || command === 'PutItemCommand', error: reset };
    const down = await invoke('oauth-authorize', request('GET', `${authorize.pathname}${authorize.search}`));
    expect([down.statusCode, down.headers['content-type']]).toEqual([503, expect.stringMatching(/^text\/html/)]);
    expect(down.body).toContain('Deschideți din nou același link');

    fault = null;
    const location = (await follow(session.body.authorizeUrl, 1))[0]!.headers.get('location')!;
    const back = new URL((await fetch(location, { redirect: 'manual' })).headers.get('location')!);
    fault = { match: (command) => command === 'UpdateItemCommand', error: () => new TypeError('x is not a function') };
    const broken = await invoke('oauth-callback', request('GET', `${back.pathname}${back.search}`));
    expect([broken.statusCode, broken.headers['content-type']]).toEqual([500, expect.stringMatching(/^text\/html/)]);
    expect(broken.body).toContain('A apărut o eroare neașteptată');
    expect(broken.body).toContain('INTERNAL_ERROR');
    expect(broken.body).not.toContain('is not a function');
  });

  it('company PUT: the write is throttled → 503 STORE_UNAVAILABLE, and no company was stored', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[1]]);
    fault = { match: (command, input) => command === 'PutItemCommand' && input.includes(`COMPANY#${CUIS[2]}`), error: throttled };
    const answer = await invoke('company-put', request('PUT', `/v1/tenants/${t}/companies/${CUIS[2]}`, { name: 'Throttled SRL' }));
    expect([answer.statusCode, codeOf(answer)], answer.body).toEqual([503, 'STORE_UNAVAILABLE']);
    expect(answer.headers['retry-after']).toBe(String(STORE_RETRY_AFTER_SECONDS));
    fault = null;
    const company = await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[2]}`);
    expect([company.status, company.body.error?.code]).toEqual([404, 'COMPANY_NOT_FOUND']);
  });

  it('manual refresh (console/CLI): the pair read is reset → STORE_UNAVAILABLE; ANAF not called, the record and the pair as they were', async () => {
    const { t, tokenId } = await connectDueToken(stack, tenant(), [CUIS[3]]);
    const before = await stored(t, tokenId);
    const refreshCalls = stack.emulator!.control.stats().tokenCalls.refresh_token;

    fault = { match: (command, input) => command === 'GetSecretValueCommand' && input.includes(tokenId), error: reset };
    const answer = await invoke('manual-refresh', { tenantId: t, tokenId });
    expect(answer).toEqual({ error: { code: 'STORE_UNAVAILABLE', message: expect.any(String) } });
    expect(faulted).toBeGreaterThan(0);

    fault = null;
    expect(stack.emulator!.control.stats().tokenCalls.refresh_token).toBe(refreshCalls);
    const after = await stored(t, tokenId);
    expect(after.pair).toEqual(before.pair);
    expect(after.record).toMatchObject({ version: before.record.version, secretVersionId: before.record.secretVersionId, status: 'active' });
  });

  it('an error of ours is still a 500 INTERNAL_ERROR: only the SDK\'s transient faults are the store\'s', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[4]]);
    fault = { match: (command, input) => command === 'GetItemCommand' && input.includes(`COMPANY#${CUIS[4]}`), error: () => new TypeError('x is not a function') };
    const answer = await invoke('company-get', request('GET', `/v1/tenants/${t}/companies/${CUIS[4]}`));
    expect([answer.statusCode, codeOf(answer)], answer.body).toEqual([500, 'INTERNAL_ERROR']);
    expect(answer.headers?.['retry-after']).toBeUndefined();
  });
});
