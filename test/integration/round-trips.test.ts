/**
 * The AWS round trips of the hot paths, step by step: each step is the set of calls in flight together
 * (test/support/aws-actions.ts, `answeredBefore`), so a read made one after another instead of at once,
 * or a call that comes back (a second read of the token, an audit write per hand-out, a lease release
 * after the write that released it), changes the list and fails here. The handlers run in this process
 * as Lambda calls them, against moto and the emulator.
 */
import type { Context } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { apiGatewayEvent, lambdaContext, matchRoute } from '../../local/gateway.js';
import { ALL_ADAPTERS } from '../../shared/runtime/adapters/index.js';
import { getRuntime } from '../../shared/runtime/runtime.js';
import { sweep } from '../../shared/services/sweep.js';
import { createActionRecorder, type SentCall } from '../support/aws-actions.js';
import { connectDueToken, stored } from '../support/refresh-helpers.js';
import { CUIS, EMULATOR_DEFAULT_CLIENT, connect, follow, setupTenant, type TestStack } from '../support/stack.js';
import { useTestStack } from '../support/use-stack.js';

let stack: TestStack;
useTestStack((s) => (stack = s), { MANUAL_REFRESH_COOLDOWN_SECONDS: '0' });
const recorder = createActionRecorder();
beforeAll(() => {
  recorder.attach(Object.values(getRuntime(...ALL_ADAPTERS).clients));
});

let n = 0;
const tenant = () => `rt${++n}-${Date.now().toString(36)}`;

type Handler = (event: unknown, context: Context) => Promise<any>;
async function invoke(fn: string, event: unknown): Promise<{ answer: any; steps: string[][] }> {
  const { handler } = (await import(`../../functions/${fn}/handler.ts`)) as { handler: Handler };
  recorder.take();
  const answer = await recorder.as(fn, () => handler(event, lambdaContext(fn)));
  return { answer, steps: steps(recorder.take().get(fn) ?? []) };
}

function get(path: string): unknown {
  const url = new URL(path, stack.apiUrl);
  return apiGatewayEvent(matchRoute('GET', url.pathname)!, { url, headers: {} });
}

/** What a call touches, short: `GetItem TOKEN`, `GetSecretValue tokens`, `PutEvents`. */
function label(call: SentCall): string {
  const item = call.params.Key ?? call.params.Item;
  if (String(item?.pk?.S).startsWith('EVENTS#')) return `${call.operation} AUDIT`;
  if (typeof item?.sk?.S === 'string') return `${call.operation} ${item.sk.S.split('#')[0]}`;
  if (call.service === 'secretsmanager') return `${call.operation} ${/\/(anaf-client|tokens)\b/.exec(String(call.params.SecretId))?.[1]}`;
  return call.operation;
}

/** The calls as sequential steps, each the sorted labels of the calls sent together. */
function steps(calls: SentCall[]): string[][] {
  const byStep = new Map<number, string[]>();
  for (const call of calls) byStep.set(call.answeredBefore, [...(byStep.get(call.answeredBefore) ?? []), label(call)]);
  return [...byStep.entries()].sort(([a], [b]) => a - b).map(([, labels]) => labels.sort());
}

describe('round trips', () => {
  it('access token, not due: the company (it stands for the tenant), then the token and its pair at once; the hand-out audited once per access token and company', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0]]);
    await connect(stack.api, t, [CUIS[0]]);
    const path = `/v1/tenants/${t}/companies/${CUIS[0]}/access-token`;

    const first = await invoke('access-token-get', get(path));
    expect(first.answer.statusCode, first.answer.body).toBe(200);
    expect(first.steps).toEqual([['GetItem COMPANY'], ['GetItem ESCROW', 'GetItem TOKEN', 'GetSecretValue tokens'], ['PutItem AUDIT']]);

    const again = await invoke('access-token-get', get(path));
    expect(JSON.parse(again.answer.body).accessToken).toBe(JSON.parse(first.answer.body).accessToken);
    expect(again.steps).toEqual([['GetItem COMPANY'], ['GetItem ESCROW', 'GetItem TOKEN', 'GetSecretValue tokens']]);

    // The tenant is read only to tell an unknown tenant from an unknown company.
    const unknown = await invoke('access-token-get', get(`/v1/tenants/${t}/companies/${CUIS[5]}/access-token`));
    expect([unknown.answer.statusCode, JSON.parse(unknown.answer.body).error.code]).toEqual([404, 'COMPANY_NOT_FOUND']);
    expect(unknown.steps).toEqual([['GetItem COMPANY'], ['GetItem CLIENT']]);
  });

  it('manual refresh: the tenant and the token at once, read once; the client secret from memory (the connect read it); no lease release after the write that released it', async () => {
    const { t, tokenId } = await connectDueToken(stack, tenant(), [CUIS[1]]);
    const { answer, steps: seen } = await invoke('manual-refresh', { tenantId: t, tokenId });
    expect(answer.tokenId, JSON.stringify(answer)).toBe(tokenId);
    expect(seen).toEqual([
      ['GetItem CLIENT', 'GetItem TOKEN'],
      ['UpdateItem TOKEN'],
      ['GetItem ESCROW', 'GetSecretValue tokens'],
      ['GetItem CLIENT'],
      ['UpdateItem TOKEN'],
      ['PutSecretValue tokens'],
      ['PutItem TOKEN'],
      ['Query'],
      ['PutEvents', 'PutItem AUDIT'],
      ['Query'],
    ]);
  });

  it('the tenant\'s client secret: kept in memory for the next refresh, read again once the client is stored anew', async () => {
    const { t, tokenId } = await connectDueToken(stack, tenant(), [CUIS[3]]);
    const clientReads = (seen: string[][]) => seen.filter((step) => (step.includes('GetItem CLIENT') || step.includes('GetSecretValue anaf-client')) && !step.includes('GetItem TOKEN'));
    const refresh = async () => (await invoke('manual-refresh', { tenantId: t, tokenId })).steps;

    // the connect's callback read the secret; the cool-down is 0 here: every manual refresh goes to ANAF
    expect(clientReads(await refresh())).toEqual([['GetItem CLIENT']]);
    const put = await stack.api.put(`/v1/tenants/${t}/anaf-client`, { clientId: EMULATOR_DEFAULT_CLIENT.clientId, clientSecret: EMULATOR_DEFAULT_CLIENT.clientSecret });
    expect(put.status).toBe(200);
    expect(clientReads(await refresh())).toEqual([['GetItem CLIENT'], ['GetSecretValue anaf-client']]);
    expect(clientReads(await refresh())).toEqual([['GetItem CLIENT']]);
  });

  it('callback, a tenant new to this container: the session, the client and its secret at once; the companies and the certificate\'s token at once', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[2]]);
    const session = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[2]] });
    const toAnaf = (await follow(session.body.authorizeUrl, 1))[0]!.headers.get('location')!;
    const back = new URL((await fetch(toAnaf, { redirect: 'manual' })).headers.get('location')!);
    const { answer, steps: seen } = await invoke('oauth-callback', get(`${back.pathname}${back.search}`));
    expect(answer.statusCode, answer.body).toBe(200);
    // No query for the new token's links or its other connect links, no second read of the tenant.
    expect(seen).toEqual([
      ['UpdateItem STATE'],
      ['GetItem CLIENT', 'GetItem SESSION', 'GetSecretValue anaf-client'],
      ['GetItem COMPANY', 'GetItem SERIAL'],
      ['PutSecretValue tokens'],
      ['CreateSecret undefined'],
      ['TransactWriteItems'],
      ['PutEvents', 'PutItem AUDIT'],
      ['GetItem COMPANY'],
    ]);
  });

  it('sweep, one due token: its companies and its record read once each (the event reuses the companies, the warning check the refreshed record)', async () => {
    const { t, tokenId } = await connectDueToken(stack, tenant(), [CUIS[4]]);
    recorder.take();
    const summary = await recorder.as('refresh-sweep', () => sweep(getRuntime(...ALL_ADAPTERS).deps, { remainingMs: () => Number.POSITIVE_INFINITY, reconcile: false }));
    expect(summary).toMatchObject({ due: 1, refreshed: 1, failed: 0 });
    const seen = steps(recorder.take().get('refresh-sweep') ?? []);
    expect((await stored(t, tokenId)).record).toMatchObject({ status: 'active', version: 2 });
    expect(seen).toEqual([
      ['Query'],
      ['Query'],
      ['GetItem TOKEN'],
      ['UpdateItem TOKEN'],
      ['GetItem ESCROW', 'GetSecretValue tokens'],
      ['GetItem CLIENT'],
      ['UpdateItem TOKEN'],
      ['PutSecretValue tokens'],
      ['PutItem TOKEN'],
      ['PutEvents', 'PutItem AUDIT'],
    ]);
  });

  it('e-Factura call: the tenant and the company at once, then the token with its pair; the next call reuses the pair the record still pins, one after a rotation reads the new one', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[4]]);
    const { tokenId } = await connect(stack.api, t, [CUIS[4]]);
    const path = `/v1/tenants/${t}/companies/${CUIS[4]}/messages?days=1`;
    const pairReads = (seen: string[][]) => seen.flat().filter((call) => call === 'GetSecretValue tokens' || call === 'GetItem ESCROW').length;

    const first = await invoke('efactura', get(path));
    expect(first.answer.statusCode, first.answer.body).toBe(200);
    expect(first.steps.slice(0, 2)).toEqual([['GetItem CLIENT', 'GetItem COMPANY'], ['GetItem ESCROW', 'GetItem TOKEN', 'GetSecretValue tokens']]);

    const again = await invoke('efactura', get(path));
    expect(again.answer.statusCode, again.answer.body).toBe(200);
    expect(again.steps[1]).toEqual(['GetItem TOKEN']);
    expect(pairReads(again.steps)).toBe(0);

    const rotated = await stack.api.post(`/v1/tenants/${t}/tokens/${tokenId}/refresh`);
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    const after = await invoke('efactura', get(path));
    expect(after.answer.statusCode, after.answer.body).toBe(200);
    // The record names a new version: its pair is read, the one in memory is not presented.
    expect(after.steps[1]).toEqual(['GetItem TOKEN']);
    expect(after.steps[2]).toEqual(['GetItem ESCROW', 'GetSecretValue tokens']);
  });
});
