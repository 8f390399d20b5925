import http from 'node:http';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EMULATOR_CERTIFICATES } from '../../local/anaf-emulator/server.js';
import { mintToken } from '../../local/anaf-emulator/oauth-state.js';
import { withControlDigit } from '../../shared/domain/cui.js';
import { hashSessionId } from '../../shared/domain/state.js';
import { ROUTES, type RouteDef } from '../../shared/http/routes.js';
import { contractProblems } from '../support/contract.js';
import { CUIS, EMULATOR_DEFAULT_CLIENT, connect, pairObtainedByHand, setupTenant, startTestStack } from '../support/stack.js';

/*
 * Bad input on every route of `ROUTES`, table-driven: each `it` sends its batch of cases a few at a
 * time, checks every answer's status and `{error: {code, message}}` body (soft assertions, so one run
 * names every wrong case) and that nothing was written: a DynamoDB scan and a Secrets Manager listing
 * before and after the batch must be equal. Refused requests only read, so they share one fixture
 * tenant built once; the cases that need a token in a particular state get a fresh tenant.
 */

type Stack = Awaited<ReturnType<typeof startTestStack>>;
let stack: Stack;
let doc: DynamoDBDocumentClient;
let sm: SecretsManagerClient;
let table: string;
let n = 0;
const tenant = () => `bi${++n}-${Date.now().toString(36)}`;

const ERP_ORIGIN = 'https://erp.example.com';
const API_KEY = 'test-key-0123456789abcdef';

/** The fixture: CUIS[0] connected to `token`, CUIS[1] registered and not connected. */
const fx = { tenantId: '', token: '', otherTenant: '', otherToken: '', session: '', otherSession: '' };

beforeAll(async () => {
  stack = await startTestStack({ RETURN_URL_ALLOWLIST: ERP_ORIGIN, LOCAL_API_KEY: API_KEY });
  doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  sm = new SecretsManagerClient({});
  table = process.env.TABLE_NAME!;
  fx.tenantId = tenant();
  await setupTenant(stack.api, fx.tenantId, [CUIS[0], CUIS[1]]);
  fx.token = (await connect(stack.api, fx.tenantId, [CUIS[0]])).tokenId;
  fx.otherTenant = tenant();
  await setupTenant(stack.api, fx.otherTenant, [CUIS[0]]);
  fx.otherToken = (await connect(stack.api, fx.otherTenant, [CUIS[0]])).tokenId;
  expect(fx.token).toMatch(/^tok_/);
  expect(fx.otherToken).toMatch(/^tok_/);
  expect(fx.otherToken).not.toBe(fx.token);
  fx.session = (await stack.api.post(`/v1/tenants/${fx.tenantId}/connect-sessions`, { cuis: [CUIS[1]] })).body.sessionId;
  fx.otherSession = (await stack.api.post(`/v1/tenants/${fx.otherTenant}/connect-sessions`, { cuis: [CUIS[0]] })).body.sessionId;
  expect(fx.session).toMatch(/^cs_/);
  expect(fx.otherSession).toMatch(/^cs_/);
});
afterAll(async () => {
  doc?.destroy();
  sm?.destroy();
  await stack?.stop();
});
beforeEach(() => {
  stack.emulator!.control.setAuthorizeMode('approve');
});

// ---------------------------------------------------------------- raw HTTP (bodies on GET too)

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: any;
}

interface SendOptions {
  /** A string is sent as is; anything else as JSON. */
  body?: unknown;
  /** `null`: no Authorization header; default: the right bearer key. */
  auth?: string | null;
  /** An XML document (sent as application/xml) instead of `body`. */
  xml?: string | Buffer;
}

/** Sends a request with the path exactly as given (no normalization), a body on any method. */
function send(method: string, path: string, options: SendOptions = {}): Promise<Answer> {
  const url = new URL(stack.apiUrl);
  const headers: Record<string, string> = {};
  const auth = options.auth === undefined ? `Bearer ${API_KEY}` : options.auth;
  if (auth !== null) headers.authorization = auth;
  let payload: Buffer | undefined;
  if (options.xml !== undefined) {
    payload = Buffer.from(options.xml);
    headers['content-type'] = 'application/xml';
    headers['content-length'] = String(payload.length);
  } else if (options.body !== undefined) {
    payload = Buffer.from(typeof options.body === 'string' ? options.body : JSON.stringify(options.body), 'utf8');
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(payload.length);
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        // Every answer is also one the OpenAPI document describes (status, code, shape).
        const header = (name: string) => [res.headers[name]].flat()[0];
        expect.soft(contractProblems(method, path, { status: res.statusCode ?? 0, header, text }), `${method} ${path}`).toEqual([]);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

// ---------------------------------------------------------------- "nothing written"

/** Everything a request could have written: every table item and every secret's versions, by key. */
async function snapshot(): Promise<Map<string, string>> {
  const state = new Map<string, string>();
  let start: Record<string, unknown> | undefined;
  do {
    const out = await doc.send(new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: start }));
    for (const item of out.Items ?? []) state.set(`item ${item.pk} ${item.sk}`, JSON.stringify(item));
    start = out.LastEvaluatedKey;
  } while (start);
  let next: string | undefined;
  do {
    const out = await sm.send(new ListSecretsCommand({ NextToken: next, IncludePlannedDeletion: true }));
    for (const s of out.SecretList ?? []) {
      state.set(`secret ${s.Name}`, JSON.stringify([s.SecretVersionsToStages, s.LastChangedDate, s.DeletedDate]));
    }
    next = out.NextToken;
  } while (next);
  return state;
}

/** Keys of what changed between two snapshots (empty when nothing was written). */
function changes(before: Map<string, string>, after: Map<string, string>): string[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys].filter((k) => before.get(k) !== after.get(k)).map((k) => `${before.has(k) ? (after.has(k) ? 'changed' : 'removed') : 'added'}: ${k}`);
}

interface Refusal {
  label: string;
  request: () => Promise<Answer>;
  status: number;
  code: string;
  check?: (res: Answer) => void;
}

/** Runs `count` workers over `items` (the gateway and moto answer a few requests at a time). */
async function pool<T, R>(items: T[], count: number, run: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(count, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await run(items[i]!);
      }
    }),
  );
  return results;
}

/**
 * Sends requests that must all be refused and checks each one's status and `{error: {code, message}}`
 * body (softly, so one run reports every wrong case), then that nothing at all was written.
 */
async function expectRefused(cases: Refusal[]): Promise<void> {
  expect(cases.length).toBeGreaterThan(0);
  const before = await snapshot();
  const answers = await pool(cases, 6, (c) => c.request());
  cases.forEach((c, i) => {
    const res = answers[i]!;
    const where = `${c.label} → ${res.status} ${res.text.slice(0, 200)}`;
    expect.soft(res.status, where).toBe(c.status);
    expect.soft(res.headers['content-type'], where).toMatch(/^application\/json/);
    expect.soft(res.json, where).toEqual({ error: { code: c.code, message: expect.any(String) } });
    expect.soft(String(res.json?.error?.message ?? '').length, where).toBeGreaterThan(0);
    c.check?.(res);
  });
  expect(changes(before, await snapshot()), `written by one of: ${cases.map((c) => c.label).join(' | ').slice(0, 2000)}`).toEqual([]);
}

// ---------------------------------------------------------------- fixtures per route

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const nowSeconds = () => Math.floor(Date.now() / 1000);
const cert = EMULATOR_CERTIFICATES[1]!;
const jwt = (use: 'access' | 'refresh', exp: number, clientId: string = EMULATOR_DEFAULT_CLIENT.clientId) =>
  mintToken({ use, clientId, certificate: cert, iat: nowSeconds() - 60, exp });
/** A JWT-shaped value with a hand-made payload. */
const rawJwt = (payload: unknown) => `${b64({ alg: 'RS512' })}.${b64(payload)}.${b64('signature')}`;
const validPair = () => ({ accessToken: jwt('access', nowSeconds() + 86_400), refreshToken: jwt('refresh', nowSeconds() + 300 * 86_400) });

interface Vars {
  tenantId: string;
  cui: string;
  tokenId: string;
  sessionId: string;
  uploadId: string;
  downloadId: string;
}
const defaults = (): Vars => ({ tenantId: fx.tenantId, cui: CUIS[0], tokenId: fx.token, sessionId: fx.session, uploadId: '5001200000', downloadId: '3001600000' });
const UNKNOWN_TOKEN = `tok_${'0'.repeat(24)}`;
const UNKNOWN_SESSION = `cs_${'x'.repeat(32)}`;

interface RouteCase {
  /** A body the route accepts (or would, but for the one thing a case breaks). */
  body?: () => Record<string, unknown>;
  /** The query string the route needs. */
  query?: string;
  /** Why an unknown tenant is not an error on this route. */
  createsTenant?: true;
  /** The route's body is an XML document (not JSON), accepted up to this many bytes. */
  xml?: { maxBytes: number };
}

const INVOICE_XML = '<?xml version="1.0" encoding="UTF-8"?><Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>';

/** One entry per route of ROUTES; the test below fails when a route is added without one. */
const CASES: Record<string, RouteCase> = {
  'PUT /v1/tenants/{tenantId}/anaf-client': {
    body: () => ({ clientId: EMULATOR_DEFAULT_CLIENT.clientId, clientSecret: EMULATOR_DEFAULT_CLIENT.clientSecret }),
    createsTenant: true,
  },
  'GET /v1/tenants/{tenantId}/anaf-client': {},
  'PUT /v1/tenants/{tenantId}/companies/{cui}': { body: () => ({ name: 'Firma' }) },
  'GET /v1/tenants/{tenantId}/companies': {},
  'GET /v1/tenants/{tenantId}/companies/{cui}': {},
  'DELETE /v1/tenants/{tenantId}/companies/{cui}': {},
  'GET /v1/tenants/{tenantId}/companies/{cui}/access-token': {},
  'POST /v1/tenants/{tenantId}/connect-sessions': { body: () => ({ cuis: [CUIS[0]] }) },
  'GET /v1/tenants/{tenantId}/connect-sessions/{sessionId}': {},
  'POST /v1/tenants/{tenantId}/tokens': { body: () => ({ ...validPair(), cuis: [CUIS[1]] }) },
  'GET /v1/tenants/{tenantId}/tokens': {},
  'GET /v1/tenants/{tenantId}/tokens/{tokenId}': {},
  'POST /v1/tenants/{tenantId}/tokens/{tokenId}/refresh': {},
  'DELETE /v1/tenants/{tenantId}/tokens/{tokenId}': {},
  'GET /v1/tenants/{tenantId}/events': {},
  'POST /v1/tenants/{tenantId}/companies/{cui}/invoice-uploads': {},
  'POST /v1/tenants/{tenantId}/companies/{cui}/invoices': { query: 'standard=UBL', xml: { maxBytes: 6_000_000 } },
  'GET /v1/tenants/{tenantId}/companies/{cui}/invoices/{uploadId}/status': {},
  'GET /v1/tenants/{tenantId}/companies/{cui}/messages': { query: 'days=1' },
  'GET /v1/tenants/{tenantId}/companies/{cui}/messages/{downloadId}': {},
  'POST /v1/validate': { query: 'standard=FACT1', xml: { maxBytes: 5 * 1024 * 1024 } },
  'POST /v1/pdf': { query: 'standard=FACT1', xml: { maxBytes: 5 * 1024 * 1024 } },
  'GET /v1/oauth/authorize': { query: `session=${UNKNOWN_SESSION}` },
  'GET /v1/oauth/callback': { query: `code=abc&state=${'A'.repeat(43)}` },
};

const routeKey = (r: RouteDef) => `${r.method} ${r.path}`;
const caseOf = (r: RouteDef) => CASES[routeKey(r)]!;
/** Builds a route's path from raw (already URL-encoded) segments. */
function pathOf(route: RouteDef, vars: Partial<Vars> = {}, query?: string): string {
  const v = { ...defaults(), ...vars };
  const path = route.path
    .replace('{tenantId}', v.tenantId)
    .replace('{cui}', v.cui)
    .replace('{tokenId}', v.tokenId)
    .replace('{sessionId}', v.sessionId)
    .replace('{uploadId}', v.uploadId)
    .replace('{downloadId}', v.downloadId);
  const q = query ?? caseOf(route).query;
  return q ? `${path}?${q}` : path;
}
const SERVICE = ROUTES.filter((r) => r.auth === 'service');
const WITH_TENANT = ROUTES.filter((r) => r.path.includes('{tenantId}'));
const WITH_CUI = ROUTES.filter((r) => r.path.includes('{cui}'));
const WITH_TOKEN = ROUTES.filter((r) => r.path.includes('{tokenId}'));
const WITH_SESSION = ROUTES.filter((r) => r.path.includes('{sessionId}'));
const WITH_BODY = ROUTES.filter((r) => CASES[routeKey(r)]?.body);
const WITHOUT_BODY = ROUTES.filter((r) => !CASES[routeKey(r)]?.body && !CASES[routeKey(r)]?.xml);
/** Routes whose body is an XML document: the JSON rules (INVALID_JSON, 64 KB) are theirs in XML form. */
const WITH_XML = ROUTES.filter((r) => CASES[routeKey(r)]?.xml);
const JSON_ROUTES = ROUTES.filter((r) => !CASES[routeKey(r)]?.xml);

const call = (route: RouteDef, vars: Partial<Vars> = {}, body?: unknown, auth?: string | null, query?: string) => () =>
  send(route.method, pathOf(route, vars, query), {
    body: body === undefined ? caseOf(route).body?.() : body,
    auth,
    ...(body === undefined && caseOf(route).xml ? { xml: INVOICE_XML } : {}),
  });
const byKey = (key: string) => {
  const route = ROUTES.find((r) => routeKey(r) === key);
  if (!route) throw new Error(`no route ${key}`);
  return route;
};
/** One refusal per (route, variant): the table the `it`s below run. */
const each = <V,>(routes: readonly RouteDef[], variants: readonly V[], make: (route: RouteDef, variant: V) => Omit<Refusal, 'label'> & { label?: string }) =>
  routes.flatMap((route) =>
    variants.map((variant) => {
      const c = make(route, variant);
      return { ...c, label: `${routeKey(route)} [${c.label ?? JSON.stringify(variant)?.slice(0, 60)}]` };
    }),
  );

// ---------------------------------------------------------------- the cases

describe('bad input on every route: a 4xx with a stable code, nothing written', () => {
  it('every route of ROUTES has a case here', () => {
    expect(Object.keys(CASES).sort()).toEqual(ROUTES.map(routeKey).sort());
  });

  it('service routes: no or wrong credentials → 401 UNAUTHORIZED', async () => {
    const auths = [null, '', `Bearer ${API_KEY}x`, `Bearer ${API_KEY.slice(0, -1)}`, `Basic ${b64(`user:${API_KEY}`)}`, API_KEY];
    await expectRefused(each(SERVICE, auths, (route, auth) => ({ request: call(route, {}, undefined, auth), status: 401, code: 'UNAUTHORIZED' })));
  });

  it('every route: malformed JSON → 400 INVALID_JSON', async () => {
    const bodies = ['{"name":', '{name: 1}', 'not json', '{"a":1}}'];
    await expectRefused(each(JSON_ROUTES, bodies, (route, body) => ({ request: call(route, {}, body), status: 400, code: 'INVALID_JSON' })));
  });

  it('routes with an XML body: JSON, another type, an empty body → 400 VALIDATION_ERROR; over their limit → 413', async () => {
    const cases = each(WITH_XML, ['{"a":1}', 'not json'], (route, body) => ({ request: call(route, {}, body), status: 400, code: 'VALIDATION_ERROR' }));
    cases.push(...each(WITH_XML, [''], (route) => ({ request: () => send(route.method, pathOf(route), { xml: '' }), status: 400, code: 'VALIDATION_ERROR', label: 'empty' })));
    cases.push(
      ...each(WITH_XML, [1], (route) => ({
        request: () => send(route.method, pathOf(route), { xml: Buffer.alloc(caseOf(route).xml!.maxBytes + 1, 0x20) }),
        status: 413,
        code: 'PAYLOAD_TOO_LARGE',
        label: 'one byte over',
      })),
    );
    await expectRefused(cases);
  });

  it('routes with a body: unknown fields or a body that is not an object → 400 VALIDATION_ERROR', async () => {
    const variants = [{ extra: 1 }, { constructor: 'x' }, [], 'null', '"text"', '42'] as const;
    const cases = each(WITH_BODY, variants, (route, v) => ({
      request: call(route, {}, typeof v === 'object' && !Array.isArray(v) ? { ...caseOf(route).body!(), ...v } : v),
      status: 400,
      code: 'VALIDATION_ERROR',
    }));
    // JSON.parse makes "__proto__" an own key; it must be refused like any other unknown field.
    cases.push(...each(WITH_BODY, ['__proto__'], (route) => ({ request: call(route, {}, `{"__proto__":{"x":1},${JSON.stringify(caseOf(route).body!()).slice(1)}`), status: 400, code: 'VALIDATION_ERROR' })));
    await expectRefused(cases);
  });

  it('routes without a body: any JSON body → 400 VALIDATION_ERROR', async () => {
    const bodies = [{ extra: 1 }, { tenantId: 'x' }, [], 'null'];
    await expectRefused(each(WITHOUT_BODY, bodies, (route, body) => ({ request: call(route, {}, body), status: 400, code: 'VALIDATION_ERROR' })));
  });

  it('service routes: unknown query parameters → 400 VALIDATION_ERROR', async () => {
    const queries = ['extra=1', 'tenantId=other'];
    const cases = each(SERVICE, queries, (route, query) => ({ request: call(route, {}, undefined, undefined, query), status: 400, code: 'VALIDATION_ERROR' }));
    const events = byKey('GET /v1/tenants/{tenantId}/events');
    cases.push(...each([events], ['limit=5&extra=1', 'limit=5&Limit=5'], (route, query) => ({ request: call(route, {}, undefined, undefined, query), status: 400, code: 'VALIDATION_ERROR' })));
    await expectRefused(cases);
  });

  it('every route: a body over 64 KB → 413 PAYLOAD_TOO_LARGE (bytes, not characters)', async () => {
    const wide = JSON.stringify({ name: 'ă'.repeat(33 * 1024) });
    expect(wide.length).toBeLessThan(64 * 1024);
    const bodies = [(route: RouteDef) => JSON.stringify({ ...(caseOf(route).body?.() ?? {}), name: 'x'.repeat(64 * 1024) }), () => wide];
    await expectRefused(each(JSON_ROUTES, [0, 1], (route, i) => ({ request: call(route, {}, bodies[i]!(route)), status: 413, code: 'PAYLOAD_TOO_LARGE', label: i ? 'multi-byte' : 'ascii' })));
  });

  it('limits are not stricter than documented: a 64 KB body, ttlSeconds of 60 s and of 7 days are accepted', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[7]]);
    const body = JSON.stringify({ name: 'Limită' });
    const padded = body.slice(0, -1) + ' '.repeat(64 * 1024 - Buffer.byteLength(body)) + '}';
    expect(Buffer.byteLength(padded)).toBe(64 * 1024);
    expect((await send('PUT', `/v1/tenants/${t}/companies/${CUIS[7]}`, { body: padded })).status).toBe(200);
    expect((await send('PUT', `/v1/tenants/${t}/companies/${CUIS[7]}`, { body: `${padded} ` })).status).toBe(413);
    for (const ttlSeconds of [60, 7 * 86_400]) {
      const session = await send('POST', `/v1/tenants/${t}/connect-sessions`, { body: { cuis: [CUIS[7]], ttlSeconds, returnUrl: `${ERP_ORIGIN}/x` } });
      expect(session.status, String(ttlSeconds)).toBe(201);
      expect(Date.parse(session.json.expiresAt) - Date.now()).toBeGreaterThan((ttlSeconds - 5) * 1000);
    }
  });

  it('routes with {tenantId}: an invalid tenantId → 400 VALIDATION_ERROR', async () => {
    const ids = ['bad%20id', 'a'.repeat(65), 'dot.ted', '%C3%A9', 'a%2Fb', '%00'];
    await expectRefused(each(WITH_TENANT, ids, (route, tenantId) => ({ request: call(route, { tenantId }), status: 400, code: 'VALIDATION_ERROR' })));
  });

  it('routes with {tenantId}: an unknown tenant → 404 TENANT_NOT_FOUND (except PUT anaf-client, which creates it)', async () => {
    const routes = WITH_TENANT.filter((r) => !caseOf(r).createsTenant);
    expect(routes).toHaveLength(WITH_TENANT.length - 1);
    await expectRefused(
      each(routes, ['unknown-tenant', 'a'.repeat(64)], (route, tenantId) => ({ request: call(route, { tenantId, tokenId: UNKNOWN_TOKEN }), status: 404, code: 'TENANT_NOT_FOUND' })),
    );
  });

  it('routes with {cui}: an invalid CUI → 400 INVALID_CUI', async () => {
    const cuis = ['RO123', 'abc', '14399841', '12345678901', 'RO%201439%209841', '0', '-14399840', 'RORO14399840'];
    await expectRefused(each(WITH_CUI, cuis, (route, cui) => ({ request: call(route, { cui }), status: 400, code: 'INVALID_CUI' })));
  });

  it('routes with cuis[]: an invalid CUI → 400 INVALID_CUI', async () => {
    const routes = [byKey('POST /v1/tenants/{tenantId}/connect-sessions'), byKey('POST /v1/tenants/{tenantId}/tokens')];
    await expectRefused(
      each(routes, ['RO123', 'abc', '14399841', '12345678901', ''], (route, bad) => ({
        request: call(route, {}, { ...caseOf(route).body!(), cuis: [CUIS[0], bad] }),
        status: 400,
        code: 'INVALID_CUI',
      })),
    );
  });

  it('an unregistered company (path or cuis[]) → 404 COMPANY_NOT_FOUND', async () => {
    const inPath = WITH_CUI.filter((r) => r.method !== 'PUT'); // PUT registers it
    const cases = each(inPath, [fx.tenantId, fx.otherTenant], (route, tenantId) => ({ request: call(route, { cui: CUIS[5], tenantId }), status: 404, code: 'COMPANY_NOT_FOUND' }));
    const inBody = [byKey('POST /v1/tenants/{tenantId}/connect-sessions'), byKey('POST /v1/tenants/{tenantId}/tokens')];
    cases.push(...each(inBody, [[CUIS[1], CUIS[6]]], (route, cuis) => ({ request: call(route, {}, { ...caseOf(route).body!(), cuis }), status: 404, code: 'COMPANY_NOT_FOUND' })));
    await expectRefused(cases);
  });

  it('routes with {tokenId}: an unknown, malformed or other tenant\'s token → 404 TOKEN_NOT_FOUND', async () => {
    const ids = [UNKNOWN_TOKEN, 'tok_nope', 'x', fx.otherToken, `${fx.token}0`, `tok_${'A'.repeat(24)}`, `${fx.token.slice(0, -1)}%00`];
    await expectRefused(each(WITH_TOKEN, ids, (route, tokenId) => ({ request: call(route, { tokenId }), status: 404, code: 'TOKEN_NOT_FOUND' })));
  });

  it("routes with {sessionId}: an unknown, malformed or other tenant's session → 404 SESSION_NOT_FOUND", async () => {
    expect(WITH_SESSION.length).toBeGreaterThan(0);
    const ids = [UNKNOWN_SESSION, 'cs_nope', 'x', fx.otherSession, `${fx.session}0`, fx.session.slice(0, -1), `${fx.session.slice(0, -1)}%00`, '%20'];
    await expectRefused(each(WITH_SESSION, ids, (route, sessionId) => ({ request: call(route, { sessionId }), status: 404, code: 'SESSION_NOT_FOUND' })));
  });

  it('PUT company: linking to an unknown token → 404 TOKEN_NOT_FOUND; a bad tokenId or name → 400', async () => {
    const route = byKey('PUT /v1/tenants/{tenantId}/companies/{cui}');
    const cases: Refusal[] = [];
    for (const tokenId of [UNKNOWN_TOKEN, 'tok_nope', '', fx.otherToken]) {
      cases.push({ label: `existing, tokenId=${JSON.stringify(tokenId)}`, request: call(route, { cui: CUIS[1] }, { tokenId }), status: 404, code: 'TOKEN_NOT_FOUND' });
      // A company that does not exist yet is not created either.
      cases.push({ label: `new, tokenId=${JSON.stringify(tokenId)}`, request: call(route, { cui: CUIS[6] }, { name: 'Nouă', tokenId }), status: 404, code: 'TOKEN_NOT_FOUND' });
    }
    for (const tokenId of [42, true, {}, []]) {
      cases.push({ label: `tokenId=${JSON.stringify(tokenId)}`, request: call(route, { cui: CUIS[1] }, { tokenId }), status: 400, code: 'VALIDATION_ERROR' });
    }
    for (const name of [42, 'x'.repeat(257), ['a']]) {
      cases.push({ label: `name=${JSON.stringify(name).slice(0, 20)}`, request: call(route, { cui: CUIS[6] }, { name }), status: 400, code: 'VALIDATION_ERROR' });
    }
    await expectRefused(cases);
  });

  it('PUT anaf-client: missing or invalid fields → 400 VALIDATION_ERROR, for a new and an existing tenant', async () => {
    const route = byKey('PUT /v1/tenants/{tenantId}/anaf-client');
    const ok = caseOf(route).body!();
    const bodies: unknown[] = [
      {},
      { clientId: ok.clientId },
      { clientSecret: ok.clientSecret },
      { ...ok, clientId: '' },
      { ...ok, clientSecret: '' },
      { ...ok, clientId: 42 },
      { ...ok, clientSecret: 'x'.repeat(1025) },
      { ...ok, redirectUri: 'not a url' },
      { ...ok, redirectUri: 'http://erp.example.com/v1/oauth/callback' },
      { ...ok, redirectUri: 'https://user:pw@erp.example.com/cb' },
      { ...ok, redirectUri: 'https://erp.example.com/cb#frag' },
      { ...ok, redirectUri: 'javascript:alert(1)' },
      { ...ok, displayName: '' },
      { ...ok, displayName: '   ' },
      { ...ok, displayName: 'x'.repeat(101) },
      { ...ok, displayName: 'Line\nbreak' },
      { ...ok, displayName: 'Tab\there' },
      { ...ok, displayName: 42 },
      { ...ok, displayName: null },
      '',
    ];
    const fresh = tenant();
    await expectRefused([
      ...bodies.map((body) => ({ label: `new ${JSON.stringify(body)}`, request: call(route, { tenantId: fresh }, body), status: 400, code: 'VALIDATION_ERROR' })),
      ...bodies.map((body) => ({ label: `existing ${JSON.stringify(body)}`, request: call(route, {}, body), status: 400, code: 'VALIDATION_ERROR' })),
    ]);
    expect((await send('GET', `/v1/tenants/${fresh}/anaf-client`)).status).toBe(404);
  });

  it('POST connect-sessions: more than 50 companies → 400 TOO_MANY_CUIS; no list → 400 VALIDATION_ERROR', async () => {
    const route = byKey('POST /v1/tenants/{tenantId}/connect-sessions');
    const many = Array.from({ length: 51 }, (_, i) => withControlDigit(String(2_000_000 + i)));
    expect(new Set(many).size).toBe(51);
    await expectRefused([
      { label: '51', request: call(route, {}, { cuis: many }), status: 400, code: 'TOO_MANY_CUIS' },
      { label: 'empty', request: call(route, {}, { cuis: [] }), status: 400, code: 'VALIDATION_ERROR' },
      { label: 'not a list', request: call(route, {}, { cuis: CUIS[0] }), status: 400, code: 'VALIDATION_ERROR' },
      { label: 'a number', request: call(route, {}, { cuis: [14399840] }), status: 400, code: 'VALIDATION_ERROR' },
      { label: 'missing', request: call(route, {}, { returnUrl: `${ERP_ORIGIN}/cb` }), status: 400, code: 'VALIDATION_ERROR' },
    ]);
  });

  it('POST tokens: more than 50 companies → 400 TOO_MANY_CUIS', async () => {
    const route = byKey('POST /v1/tenants/{tenantId}/tokens');
    const many = Array.from({ length: 51 }, (_, i) => withControlDigit(String(3_000_000 + i)));
    await expectRefused([{ label: '51', request: call(route, {}, { ...validPair(), cuis: many }), status: 400, code: 'TOO_MANY_CUIS' }]);
  });

  it('POST connect-sessions: a returnUrl off the allow-list, javascript: or relative → 400 INVALID_RETURN_URL', async () => {
    const route = byKey('POST /v1/tenants/{tenantId}/connect-sessions');
    const urls = [
      'https://evil.example.com/cb',
      'https://erp.example.com.evil.com/cb',
      'http://erp.example.com/cb',
      'https://erp.example.com:8443/cb',
      'https://user:pw@erp.example.com/cb',
      'javascript:alert(1)',
      'JavaScript://erp.example.com/%0aalert(1)',
      'data:text/html,hi',
      '/relative/path',
      'relative',
      '//evil.example.com/cb',
      '',
    ];
    const cases = each([route], urls, (r, returnUrl) => ({ request: call(r, {}, { cuis: [CUIS[0]], returnUrl }), status: 400, code: 'INVALID_RETURN_URL' }));
    cases.push({ label: 'a number', request: call(route, {}, { cuis: [CUIS[0]], returnUrl: 42 }), status: 400, code: 'VALIDATION_ERROR' });
    await expectRefused(cases);
  });

  it('POST connect-sessions: ttlSeconds 0, below a minute, over 7 days or not an integer → 400 VALIDATION_ERROR', async () => {
    const route = byKey('POST /v1/tenants/{tenantId}/connect-sessions');
    const ttls = [0, -1, 59, 7 * 86_400 + 1, 1e12, 90.5, '600', null];
    await expectRefused(each([route], ttls, (r, ttlSeconds) => ({ request: call(r, {}, { cuis: [CUIS[0]], ttlSeconds }), status: 400, code: 'VALIDATION_ERROR' })));
  });

  it('GET access-token: a company without a token → 409 NOT_CONNECTED, without calling ANAF', async () => {
    const route = byKey('GET /v1/tenants/{tenantId}/companies/{cui}/access-token');
    const refreshes = stack.emulator!.control.stats().tokenCalls.refresh_token;
    await expectRefused([{ label: 'not connected', request: call(route, { cui: CUIS[1] }), status: 409, code: 'NOT_CONNECTED' }]);
    expect(stack.emulator!.control.stats().tokenCalls.refresh_token).toBe(refreshes);
  });

  it("POST invoices: an objectKey that is not one of this company's uploads, or one with an inline body → 400 VALIDATION_ERROR", async () => {
    const route = byKey('POST /v1/tenants/{tenantId}/companies/{cui}/invoices');
    const uuid = '0b6f9c1e-3c1a-4d2b-9a4e-1f2e3d4c5b6a';
    const keys = ['', '../x.xml', `${fx.otherTenant}/${CUIS[0]}/${uuid}.xml`, `${fx.tenantId}/${CUIS[1]}/${uuid}.xml`, `${fx.tenantId}/${CUIS[0]}/${uuid}.txt`, `${fx.tenantId}/${CUIS[0]}/x`, 'a'.repeat(201)];
    const query = (key: string) => `standard=UBL&objectKey=${encodeURIComponent(key)}`;
    const cases = each([route], keys, (r, key) => ({ request: () => send(r.method, pathOf(r, {}, query(key))), status: 400, code: 'VALIDATION_ERROR' }));
    cases.push(
      ...each([route], ['inline too'], (r) => ({ request: () => send(r.method, pathOf(r, {}, query(`${fx.tenantId}/${CUIS[0]}/${uuid}.xml`)), { xml: INVOICE_XML }), status: 400, code: 'VALIDATION_ERROR' })),
    );
    await expectRefused(cases);
  });

  it('GET events: a bad limit → 400 VALIDATION_ERROR', async () => {
    const route = byKey('GET /v1/tenants/{tenantId}/events');
    const queries = ['limit=0', 'limit=101', 'limit=abc', 'limit=1.5', 'limit=', 'limit=5&limit=6'];
    await expectRefused(each([route], queries, (r, query) => ({ request: call(r, {}, undefined, undefined, query), status: 400, code: 'VALIDATION_ERROR' })));
  });

  it('GET events: a cursor that is not one this tenant was given → 400 VALIDATION_ERROR', async () => {
    const route = byKey('GET /v1/tenants/{tenantId}/events');
    const cursors = [
      'garbage',
      'x'.repeat(1025),
      b64({ pk: `EVENTS#${fx.otherTenant}`, sk: '2020-01-01T00:00:00.000Z#000000000000' }),
      b64({ pk: `EVENTS#${fx.tenantId}` }),
      b64({ pk: `EVENTS#${fx.tenantId}`, sk: 123 }),
      b64({ pk: `EVENTS#${fx.tenantId}`, sk: 'x', other: 'y' }),
    ];
    await expectRefused(each([route], cursors, (r, cursor) => ({ request: call(r, {}, undefined, undefined, `cursor=${cursor}`), status: 400, code: 'VALIDATION_ERROR', label: cursor.slice(0, 60) })));
  });

  describe('POST tokens (import)', () => {
    const importing = (body: Record<string, unknown>) => call(byKey('POST /v1/tenants/{tenantId}/tokens'), {}, { ...validPair(), cuis: [CUIS[1]], ...body });

    it('malformed JWTs or missing fields → 400 VALIDATION_ERROR', async () => {
      const good = validPair();
      const bad = [
        'not-a-jwt',
        'a.b.c',
        'a.b',
        `${good.accessToken}.extra`,
        `${good.accessToken} `,
        rawJwt({ sub: 'x' }),
        rawJwt({ exp: '2099-01-01' }),
        rawJwt({ exp: null }),
        rawJwt([1, 2]),
        rawJwt('just a string'),
        rawJwt({ exp: 1e15 }),
        rawJwt({ exp: -1e15 }),
        rawJwt({ exp: 0 }),
        rawJwt({ exp: Number.MAX_SAFE_INTEGER }),
        'x'.repeat(20_000),
      ];
      const cases: Refusal[] = [];
      for (const value of bad) {
        cases.push({ label: `access=${value.slice(0, 40)}`, request: importing({ accessToken: value }), status: 400, code: 'VALIDATION_ERROR' });
        cases.push({ label: `refresh=${value.slice(0, 40)}`, request: importing({ refreshToken: value }), status: 400, code: 'VALIDATION_ERROR' });
      }
      for (const body of [{ accessToken: undefined }, { refreshToken: 42 }, { accessToken: '' }, { cuis: undefined }]) {
        cases.push({ label: JSON.stringify(body), request: importing(body), status: 400, code: 'VALIDATION_ERROR' });
      }
      await expectRefused(cases);
    });

    it("tokens of another ANAF client (either one) → 400 CLIENT_MISMATCH; of two certificates → 400 VALIDATION_ERROR", async () => {
      const exp = nowSeconds() + 300 * 86_400;
      const otherCert = mintToken({ use: 'refresh', clientId: EMULATOR_DEFAULT_CLIENT.clientId, certificate: EMULATOR_CERTIFICATES[2]!, iat: nowSeconds(), exp });
      await expectRefused([
        { label: 'both', request: importing({ accessToken: jwt('access', exp, 'other-client'), refreshToken: jwt('refresh', exp, 'other-client') }), status: 400, code: 'CLIENT_MISMATCH' },
        { label: 'refresh only', request: importing({ refreshToken: jwt('refresh', exp, 'other-client') }), status: 400, code: 'CLIENT_MISMATCH' },
        { label: 'access only', request: importing({ accessToken: jwt('access', exp, 'other-client') }), status: 400, code: 'CLIENT_MISMATCH' },
        { label: 'serials differ', request: importing({ refreshToken: otherCert }), status: 400, code: 'VALIDATION_ERROR' },
      ]);
    });

    it('replace that is not a boolean → 400 VALIDATION_ERROR, before ANAF is called', async () => {
      const refreshes = stack.emulator!.control.stats().tokenCalls.refresh_token;
      const values = ['true', 'false', 1, 0, null, 'yes', {}, [], ['true']];
      await expectRefused(values.map((replace) => ({ label: `replace=${JSON.stringify(replace)}`, request: importing({ replace }), status: 400, code: 'VALIDATION_ERROR' })));
      expect(stack.emulator!.control.stats().tokenCalls.refresh_token).toBe(refreshes);
    });

    it('an expired refresh token → 400 VALIDATION_ERROR', async () => {
      await expectRefused([
        { label: 'just expired', request: importing({ refreshToken: jwt('refresh', nowSeconds() - 1) }), status: 400, code: 'VALIDATION_ERROR' },
        {
          label: 'both expired',
          request: importing({ accessToken: jwt('access', nowSeconds() - 86_400), refreshToken: jwt('refresh', nowSeconds() - 86_400) }),
          status: 400,
          code: 'VALIDATION_ERROR',
        },
      ]);
    });
  });

  it('changing the client id while the tenant has an active token → 409 CLIENT_ID_IN_USE, secret untouched', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0]]);
    const { tokenId } = await connect(stack.api, t, [CUIS[0]]);
    const route = byKey('PUT /v1/tenants/{tenantId}/anaf-client');
    await expectRefused([
      { label: 'change', request: call(route, { tenantId: t }, { clientId: 'another-client-id', clientSecret: 'another-fake-secret' }), status: 409, code: 'CLIENT_ID_IN_USE' },
      { label: 'change, same secret', request: call(route, { tenantId: t }, { clientId: 'another-client-id', clientSecret: EMULATOR_DEFAULT_CLIENT.clientSecret }), status: 409, code: 'CLIENT_ID_IN_USE' },
    ]);
    expect((await send('GET', `/v1/tenants/${t}/anaf-client`)).json.clientId).toBe(EMULATOR_DEFAULT_CLIENT.clientId);
    // The same client id with a new secret is a rotation, which stays allowed.
    const rotated = await send('PUT', `/v1/tenants/${t}/anaf-client`, { body: { clientId: EMULATOR_DEFAULT_CLIENT.clientId, clientSecret: 'rotated-fake-secret' } });
    expect(rotated.status).toBe(200);
    // Once the token is disconnected the client id can change.
    expect((await send('DELETE', `/v1/tenants/${t}/tokens/${tokenId}`)).status).toBe(204);
    const changed = await send('PUT', `/v1/tenants/${t}/anaf-client`, { body: { clientId: 'another-client-id', clientSecret: 'another-fake-secret' } });
    expect(changed.status).toBe(200);
    expect(changed.json).toMatchObject({ clientId: 'another-client-id' });
  });

  it('a disconnected token: refresh → 409 TOKEN_DISCONNECTED, linking a company to it → 409, its company → 409 NOT_CONNECTED', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0], CUIS[1]]);
    const { tokenId } = await connect(stack.api, t, [CUIS[0]]);
    expect((await send('DELETE', `/v1/tenants/${t}/tokens/${tokenId}`)).status).toBe(204);
    const refreshes = stack.emulator!.control.stats().tokenCalls.refresh_token;
    await expectRefused([
      { label: 'refresh', request: () => send('POST', `/v1/tenants/${t}/tokens/${tokenId}/refresh`), status: 409, code: 'TOKEN_DISCONNECTED' },
      { label: 'link', request: () => send('PUT', `/v1/tenants/${t}/companies/${CUIS[1]}`, { body: { tokenId } }), status: 409, code: 'TOKEN_DISCONNECTED' },
      { label: 'access-token', request: () => send('GET', `/v1/tenants/${t}/companies/${CUIS[0]}/access-token`), status: 409, code: 'NOT_CONNECTED' },
    ]);
    expect(stack.emulator!.control.stats().tokenCalls.refresh_token).toBe(refreshes);
  });

  it('every route path: a method it does not have → 405 METHOD_NOT_ALLOWED with Allow', async () => {
    const paths = [...new Set(ROUTES.map((r) => r.path))];
    const cases: Refusal[] = [];
    for (const path of paths) {
      const route = ROUTES.find((r) => r.path === path)!;
      const allowed = ROUTES.filter((r) => r.path === path).map((r) => r.method as string);
      for (const method of ['GET', 'PUT', 'POST', 'DELETE', 'PATCH'].filter((m) => !allowed.includes(m))) {
        cases.push({
          label: `${method} ${path}`,
          request: () => send(method, pathOf(route), { body: method === 'GET' ? undefined : {} }),
          status: 405,
          code: 'METHOD_NOT_ALLOWED',
          check: (res) => expect.soft(String(res.headers.allow).split(/,\s*/).sort(), `${method} ${path}`).toEqual([...allowed].sort()),
        });
      }
    }
    await expectRefused(cases);
  });

  it('unknown routes → 404 NOT_FOUND', async () => {
    // `/` is the local console (not a route of ROUTES): test/integration/console.test.ts.
    const paths = [
      '/v1',
      '/v1/tenants',
      `/v1/tenants/${fx.tenantId}`,
      `/v1/tenants/${fx.tenantId}/`,
      `/v1/tenants/${fx.tenantId}/companies/`,
      `/v1/tenants/${fx.tenantId}/companies/${CUIS[0]}/`,
      `/v1/tenants/${fx.tenantId}/companies/${CUIS[0]}/access-token/x`,
      `/v1/tenants/${fx.tenantId}/unknown`,
      `/v1/tenants/${fx.tenantId}/anaf-client/secret`,
      `/v2/tenants/${fx.tenantId}/anaf-client`,
      `/V1/tenants/${fx.tenantId}/anaf-client`,
      '/v1/oauth/authorize/',
      '/v1/oauth',
      '/%2e%2e/etc/passwd',
    ];
    await expectRefused(each([ROUTES[0]!], paths.flatMap((p) => [['GET', p], ['POST', p]] as const), (_, [method, path]) => ({
      label: `${method} ${path}`,
      request: () => send(method, path),
      status: 404,
      code: 'NOT_FOUND',
    })));
  });

  it('browser routes tolerate extra query parameters (e-mail link trackers, ANAF additions) and answer their HTML page', async () => {
    const authorize = await send('GET', `/v1/oauth/authorize?session=${UNKNOWN_SESSION}&utm_source=email`, { auth: null });
    expect(authorize.status).toBe(400);
    expect(authorize.headers['content-type']).toMatch(/text\/html/);
    expect(authorize.text).toContain('INVALID_SESSION');
    const callback = await send('GET', `/v1/oauth/callback?code=abc&state=${'A'.repeat(43)}&session_state=x`, { auth: null });
    expect(callback.status).toBe(400);
    expect(callback.text).toContain('INVALID_STATE');
  });
});

describe('CUI normalization', () => {
  it('stores and answers RO-prefixed and spaced CUIs as digits only', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, []);
    const put = await send('PUT', `/v1/tenants/${t}/companies/RO%201439%209840`, { body: { name: 'Spații' } });
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({ cui: '14399840', name: 'Spații', status: 'not-connected', tokenId: null });
    for (const spelling of ['ro14399840', 'RO14399840', '%20RO%2014399840%20', '14399840', 'Ro%201439%209840']) {
      const got = await send('GET', `/v1/tenants/${t}/companies/${spelling}`);
      expect(got.status, spelling).toBe(200);
      expect(got.json.cui, spelling).toBe('14399840');
    }
    // Another spelling of the same CUI updates the same company.
    const again = await send('PUT', `/v1/tenants/${t}/companies/ro14399840`, { body: { name: 'Alt nume' } });
    expect(again.json.cui).toBe('14399840');
    const list = await send('GET', `/v1/tenants/${t}/companies`);
    expect(list.json.companies.map((c: { cui: string }) => c.cui)).toEqual(['14399840']);
    const items = (await doc.send(new ScanCommand({ TableName: table, ConsistentRead: true }))).Items ?? [];
    const companyItems = items.filter((i) => i.pk === `TENANT#${t}` && String(i.sk).startsWith('COMPANY#'));
    expect(companyItems.map((i) => [i.sk, i.cui, i.name])).toEqual([['COMPANY#14399840', '14399840', 'Alt nume']]);

    const session = await send('POST', `/v1/tenants/${t}/connect-sessions`, { body: { cuis: ['ro14399840', 'RO 1439 9840', '14399840'] } });
    expect(session.status).toBe(201);
    const stored = (await doc.send(new ScanCommand({ TableName: table, ConsistentRead: true }))).Items ?? [];
    // The table keys a session by the hash of its id and never holds the id (connect-links.test.ts).
    const sessionItem = stored.find((i) => i.pk === `SESSION#${hashSessionId(session.json.sessionId)}`);
    expect(sessionItem?.cuis).toEqual(['14399840']);

    const imported = await send('POST', `/v1/tenants/${t}/tokens`, { body: { ...(await pairObtainedByHand(stack.emulator!)), cuis: ['RO 14399840'] } });
    expect(imported.status).toBe(201);
    expect(imported.json.cuis).toEqual(['14399840']);
    expect((await send('GET', `/v1/tenants/${t}/companies/RO14399840`)).json).toMatchObject({ tokenId: imported.json.tokenId, status: 'active' });
    expect((await send('DELETE', `/v1/tenants/${t}/companies/RO%2014399840`)).status).toBe(204);
    expect((await send('GET', `/v1/tenants/${t}/companies`)).json.companies).toEqual([]);
  });
});
