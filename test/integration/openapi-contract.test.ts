import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../shared/http/routes.js';
import { routeKey } from '../../local/openapi.js';
import { contractProblems } from '../support/contract.js';
import { CUIS, EMULATOR_DEFAULT_CLIENT, pairObtainedByHand, startTestStack } from '../support/stack.js';

/*
 * The local stack against its OpenAPI document: /openapi.json is served unauthenticated and is the
 * committed file; then a walk through every route (successes, the browser flow, and the errors a
 * client must handle) where each real answer is checked against the document and the zod schemas it
 * was generated from. test/integration/bad-input.test.ts checks every one of its refusals the same way.
 */

type Stack = Awaited<ReturnType<typeof startTestStack>>;
let stack: Stack;
const ERP = 'https://erp.example.com';
const API_KEY = 'test-key-0123456789abcdef';
/** Every route key an answer was checked for, and every departure from the document. */
const exercised = new Set<string>();
const problems: string[] = [];

beforeAll(async () => {
  // Three rotations a day and no cool-down: the walk reaches 429 in a few refreshes.
  stack = await startTestStack({ RETURN_URL_ALLOWLIST: ERP, MAX_ROTATIONS_PER_DAY: '3', MANUAL_REFRESH_COOLDOWN_SECONDS: '0' });
});
afterAll(async () => {
  await stack?.stop();
});

/** Sends a request to the local stack and checks its answer against the document. */
async function call(method: string, path: string, options: { body?: unknown; xml?: string; auth?: boolean; absolute?: boolean } = {}) {
  const url = options.absolute ? path : `${stack.apiUrl}${path}`;
  const res = await fetch(url, {
    method,
    redirect: 'manual',
    headers: {
      ...(options.auth === false ? {} : { authorization: `Bearer ${API_KEY}` }),
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(options.xml === undefined ? {} : { 'content-type': 'application/xml' }),
    },
    body: options.xml ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  });
  const text = await res.text();
  const relative = url.slice(stack.apiUrl.length);
  const found = contractProblems(method, relative, { status: res.status, header: (name) => res.headers.get(name), text });
  problems.push(...found);
  for (const route of ROUTES) {
    if (route.method === method && new RegExp(`^${route.path.replace(/\{\w+\}/g, '[^/]+')}$`).test(new URL(url).pathname)) exercised.add(routeKey(route));
  }
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, location: res.headers.get('location'), headers: res.headers };
}

describe('the local stack answers what its OpenAPI document says', () => {
  it('serves /openapi.json without credentials: the committed document, with this stack as its server', async () => {
    const res = await fetch(`${stack.apiUrl}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const served = (await res.json()) as Record<string, unknown>;
    expect(served.servers).toEqual([{ url: stack.apiUrl, description: 'this local stack' }]);
    const committed = JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8')) as Record<string, unknown>;
    expect({ ...served, servers: null }).toEqual({ ...committed, servers: null });
    // The document is not a route: other methods on it are the gateway's 404.
    expect((await fetch(`${stack.apiUrl}/openapi.json`, { method: 'POST' })).status).toBe(404);
  });

  it('every route, its successes and the errors a client handles, match the document', async () => {
    const t = `oa-${Date.now().toString(36)}`;
    const base = `/v1/tenants/${t}`;
    const [a, b, c] = [CUIS[0], CUIS[1], CUIS[2]];

    expect((await call('GET', `${base}/anaf-client`)).status).toBe(404);
    expect((await call('PUT', `${base}/anaf-client`, { body: { clientId: EMULATOR_DEFAULT_CLIENT.clientId, clientSecret: EMULATOR_DEFAULT_CLIENT.clientSecret } })).status).toBe(200);
    expect((await call('GET', `${base}/anaf-client`)).status).toBe(200);
    expect((await call('GET', `${base}/anaf-client`, { auth: false })).status).toBe(401);

    expect((await call('PUT', `${base}/companies/RO${a}`, { body: { name: 'Demo SRL' } })).status).toBe(200);
    expect((await call('PUT', `${base}/companies/${b}`)).status).toBe(200);
    expect((await call('PUT', `${base}/companies/${c}`, { body: { name: null } })).status).toBe(200);
    expect((await call('PUT', `${base}/companies/${c}`, { body: { tokenId: `tok_${'0'.repeat(24)}` } })).status).toBe(404);
    expect((await call('PUT', `${base}/companies/123`, { body: {} })).status).toBe(400);
    expect((await call('GET', `${base}/companies`)).json.companies).toHaveLength(3);
    expect((await call('GET', `${base}/companies/${a}`)).json.status).toBe('not-connected');
    expect((await call('GET', `${base}/companies/${CUIS[5]}`)).status).toBe(404);
    expect((await call('GET', `${base}/companies/${a}/access-token`)).status).toBe(409);

    // The browser flow, with a returnUrl (redirects) and without (result pages).
    const withReturn = await call('POST', `${base}/connect-sessions`, { body: { cuis: [a], returnUrl: `${ERP}/done` } });
    expect(withReturn.status).toBe(201);
    const toAnaf = await call('GET', withReturn.json.authorizeUrl, { absolute: true, auth: false });
    expect(toAnaf.status).toBe(302);
    const anaf = await fetch(toAnaf.location!, { redirect: 'manual' });
    const back = await call('GET', anaf.headers.get('location')!, { absolute: true, auth: false });
    expect(back.status).toBe(302);
    expect(new URL(back.location!).searchParams.get('status')).toBe('connected');
    const tokenId = new URL(back.location!).searchParams.get('tokenId')!;

    const withoutReturn = await call('POST', `${base}/connect-sessions`, { body: { cuis: [b], ttlSeconds: 600 } });
    const toAnaf2 = await call('GET', withoutReturn.json.authorizeUrl, { absolute: true, auth: false });
    const anaf2 = await fetch(toAnaf2.location!, { redirect: 'manual' });
    const page = await call('GET', anaf2.headers.get('location')!, { absolute: true, auth: false });
    expect(page.status).toBe(200);
    expect(page.text).toContain('<html');
    // a reload after success says there is nothing left to do (200), never a redirect
    expect((await call('GET', anaf2.headers.get('location')!, { absolute: true, auth: false })).status).toBe(200);
    expect((await call('GET', `${base}/connect-sessions/${withoutReturn.json.sessionId}`)).json.status).toBe('completed');
    expect((await call('GET', `${base}/connect-sessions/cs_${'y'.repeat(32)}`)).status).toBe(404);
    expect((await call('GET', `/v1/oauth/authorize?session=cs_${'x'.repeat(32)}`, { auth: false })).status).toBe(400);
    expect((await call('GET', `/v1/oauth/callback?state=${'A'.repeat(43)}&code=x`, { auth: false })).status).toBe(400);
    expect((await call('POST', `${base}/connect-sessions`, { body: { cuis: [a], returnUrl: 'https://evil.example.com/' } })).status).toBe(400);
    expect((await call('POST', `${base}/connect-sessions`, { body: { cuis: [CUIS[6]] } })).status).toBe(404);

    expect((await call('PUT', `${base}/companies/${c}`, { body: { tokenId } })).json.tokenId).toBe(tokenId);
    expect((await call('GET', `${base}/companies/${a}/access-token`)).status).toBe(200);

    // e-Factura: the round trip, and the documents on the public host.
    const xml = '<?xml version="1.0" encoding="UTF-8"?><Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>';
    const uploaded = await call('POST', `${base}/companies/${a}/invoices?standard=UBL`, { xml });
    expect(uploaded.status).toBe(201);
    const state = await call('GET', `${base}/companies/${a}/invoices/${uploaded.json.uploadId}/status`);
    expect(state.json.state).toBe('accepted');
    // Over the inline limit: a presigned PUT, then the upload names the object (a second time: 404).
    const slot = await call('POST', `${base}/companies/${a}/invoice-uploads`);
    expect(slot.status).toBe(201);
    expect((await fetch(slot.json.uploadUrl, { method: 'PUT', body: xml })).status).toBe(200);
    const byKey = `${base}/companies/${a}/invoices?standard=UBL&objectKey=${encodeURIComponent(slot.json.objectKey)}`;
    expect((await call('POST', byKey)).status).toBe(201);
    expect((await call('POST', byKey)).status).toBe(404);
    expect((await call('GET', `${base}/companies/${a}/messages?days=3`)).json.messages.length).toBeGreaterThan(0);
    expect((await call('GET', `${base}/companies/${a}/messages?from=${new Date(Date.now() - 86_400_000).toISOString()}`)).status).toBe(200);
    expect((await call('GET', `${base}/companies/${a}/messages/${state.json.downloadId}`)).status).toBe(200);
    expect((await call('GET', `${base}/companies/${a}/messages/${state.json.downloadId}?part=invoice`)).status).toBe(200);
    expect((await call('GET', `${base}/companies/${a}/messages/1`)).status).toBe(404);
    expect((await call('POST', '/v1/validate?standard=FACT1', { xml })).json).toEqual({ valid: true, messages: [] });
    expect((await call('POST', '/v1/pdf?standard=FACT1', { xml })).headers.get('content-type')).toBe('application/pdf');

    expect((await call('GET', `${base}/tokens`)).json.tokens.length).toBeGreaterThan(0);
    expect((await call('GET', `${base}/tokens/${tokenId}`)).json.cuis).toContain(c);
    expect((await call('GET', `${base}/tokens/tok_nope`)).status).toBe(404);

    // The same certificate again by import: 409 TOKEN_EXISTS, then replace: true rotates it (201).
    const pasted = await pairObtainedByHand(stack.emulator!);
    expect((await call('POST', `${base}/tokens`, { body: { ...pasted, cuis: [a] } })).status).toBe(409);
    expect((await call('POST', `${base}/tokens`, { body: { ...pasted, cuis: [a], replace: true } })).status).toBe(201);
    expect((await call('POST', `${base}/tokens`, { body: { accessToken: 'x', refreshToken: 'y', cuis: [a] } })).status).toBe(400);

    // Refresh until the rotation limit: 200s, then 429 with Retry-After.
    const statuses: number[] = [];
    for (let i = 0; i < 5 && !statuses.includes(429); i++) statuses.push((await call('POST', `${base}/tokens/${tokenId}/refresh`)).status);
    expect(statuses).toContain(200);
    expect(statuses.at(-1)).toBe(429);
    stack.emulator!.control.failNext('invalid_client');
    expect((await call('GET', `${base}/companies/${a}/access-token`)).status).toBe(200);

    const first = await call('GET', `${base}/events?limit=2`);
    expect(first.json.events).toHaveLength(2);
    expect((await call('GET', `${base}/events?cursor=${encodeURIComponent(first.json.nextCursor)}`)).status).toBe(200);
    expect((await call('GET', `${base}/events?limit=500`)).status).toBe(400);

    expect((await call('DELETE', `${base}/companies/${b}`)).status).toBe(204);
    expect((await call('DELETE', `${base}/companies/${b}`)).status).toBe(404);
    expect((await call('DELETE', `${base}/tokens/${tokenId}`)).status).toBe(204);
    expect((await call('POST', `${base}/tokens/${tokenId}/refresh`)).status).toBe(409);
    expect((await call('GET', `${base}/companies/${a}`)).json.status).toBe('not-connected');
    expect((await call('GET', `${base}/tokens/${tokenId}`)).json.status).toBe('disconnected');
    expect((await call('GET', `${base}/events`)).json.events.length).toBeGreaterThan(0);

    expect(problems).toEqual([]);
    expect([...exercised].sort()).toEqual(ROUTES.map(routeKey).sort());
  });
});
