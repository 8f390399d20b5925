import { randomBytes } from 'node:crypto';
import { format } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMULATOR_CERTIFICATES } from '../../local/anaf-emulator/server.js';
import { CUIS, follow, startTestStack } from '../support/stack.js';

/*
 * One whole life of a tenant with every log line of this process captured (stdout, stderr and the
 * console, at DEBUG, metrics on), then a search of the logs, every API answer except the access-token
 * route's, every DynamoDB item and the audit trail for the client secret and every token the ANAF
 * emulator ever issued (and their signatures, the authorization codes, the raw OAuth states).
 */

type Stack = Awaited<ReturnType<typeof startTestStack>>;
let stack: Stack;

// ---------------------------------------------------------------- capture

const captured: string[] = [];
const restore: Array<() => void> = [];

/** Replaces a writer with one that records (and swallows: DEBUG output would flood the test report). */
function captureStream(stream: NodeJS.WriteStream): void {
  const original = stream.write;
  stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    captured.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    callback?.();
    return true;
  }) as typeof stream.write;
  restore.push(() => {
    stream.write = original;
  });
}

function captureConsole(): void {
  for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
    const original = console[method];
    console[method] = (...args: unknown[]) => {
      captured.push(`${format(...args)}\n`);
    };
    restore.push(() => {
      console[method] = original;
    });
  }
}

function startCapture(): void {
  captureStream(process.stdout);
  captureStream(process.stderr);
  captureConsole();
}

function stopCapture(): void {
  for (const fn of restore.splice(0).reverse()) fn();
}

// ---------------------------------------------------------------- what the flow saw

/** Every answer of our API (never the emulator's), as text: status, headers, body. */
const answers: Array<{ label: string; text: string }> = [];
/** The access-token route's bodies: the one place a token may appear. */
let accessTokenAnswers = 0;

const CLIENT_ID = `leak-test-client-${randomBytes(3).toString('hex')}`;
const CLIENT_SECRET = `leak-test-secret-${randomBytes(12).toString('hex')}`;
const TENANT = `leak-${Date.now().toString(36)}`;
const codes: string[] = [];
const states: string[] = [];

function record(label: string, res: { status: number; headers: Headers }, body: string): void {
  answers.push({ label, text: `${res.status}\n${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${body}` });
}

let uploadKeys = 0;
async function call(method: string, path: string, body?: unknown, xml?: string): Promise<{ status: number; json: any }> {
  const res = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${stack.apiKey}`,
      ...(xml !== undefined ? { 'content-type': 'application/xml', 'idempotency-key': `leak-${++uploadKeys}` } : body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: xml ?? (body === undefined ? undefined : JSON.stringify(body)),
    redirect: 'manual',
  });
  // A ZIP is searched as text too (latin1 keeps every byte).
  const text = (res.headers.get('content-type') ?? '').startsWith('application/zip') ? Buffer.from(await res.arrayBuffer()).toString('latin1') : await res.text();
  if (path.endsWith('/access-token')) {
    accessTokenAnswers++;
    record(`${method} ${path} (body not searched)`, res, '');
  } else {
    record(`${method} ${path}`, res, text);
  }
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, json };
}

/** The browser flow: records our hops, keeps the state and the code to search for them. */
async function browse(url: string): Promise<Response[]> {
  const hops = await follow(url);
  for (const hop of hops) {
    const location = hop.headers.get('location');
    if (location) {
      const next = new URL(location);
      if (next.searchParams.get('state') && next.pathname.endsWith('/authorize')) states.push(next.searchParams.get('state')!);
      if (next.searchParams.get('code')) codes.push(next.searchParams.get('code')!);
    }
    if (hop.url.startsWith(stack.apiUrl) || new URL(hop.url).port === new URL(stack.apiUrl).port) {
      record(`browser ${new URL(hop.url).pathname}`, hop, await hop.text());
    }
  }
  return hops;
}

/** A pair obtained "by hand" from the emulator (the manual flow an ERP migrates from). */
async function pairByHand(): Promise<{ accessToken: string; refreshToken: string }> {
  const emulator = stack.emulator!;
  const redirectUri = 'https://localhost/manual-callback';
  const authorize = new URL(`${emulator.oauthBaseUrl}/authorize`);
  authorize.search = new URLSearchParams({ response_type: 'code', client_id: CLIENT_ID, redirect_uri: redirectUri, token_content_type: 'jwt', state: 'manual' }).toString();
  const approved = await fetch(authorize, { redirect: 'manual' });
  const code = new URL(approved.headers.get('location')!).searchParams.get('code')!;
  codes.push(code);
  const token = await fetch(`${emulator.oauthBaseUrl}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, token_content_type: 'jwt' }),
  });
  const body = (await token.json()) as { access_token: string; refresh_token: string };
  return { accessToken: body.access_token, refreshToken: body.refresh_token };
}

// ---------------------------------------------------------------- the flow

let items: Record<string, unknown>[] = [];
let auditEvents: unknown[] = [];
let secretNames: string[] = [];
let issued: string[] = [];

beforeAll(async () => {
  startCapture();
  try {
    stack = await startTestStack({
      POWERTOOLS_LOG_LEVEL: 'DEBUG',
      POWERTOOLS_METRICS_DISABLED: 'false',
      MANUAL_REFRESH_COOLDOWN_SECONDS: '0',
    });
    await runWholeFlow();
    const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
    let start: Record<string, unknown> | undefined;
    do {
      const out = await doc.send(new ScanCommand({ TableName: process.env.TABLE_NAME!, ConsistentRead: true, ExclusiveStartKey: start }));
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    doc.destroy();
    const sm = new SecretsManagerClient({});
    secretNames = ((await sm.send(new ListSecretsCommand({ IncludePlannedDeletion: true }))).SecretList ?? []).map((s) => s.Name!);
    sm.destroy();
    issued = stack.emulator!.control.issuedTokens();
  } finally {
    stopCapture();
  }
}, 60_000);

afterAll(async () => {
  stopCapture();
  await stack?.stop();
});

async function runWholeFlow(): Promise<void> {
  const control = stack.emulator!.control;
  const t = TENANT;
  control.addClient(CLIENT_ID, CLIENT_SECRET);
  // Short lifetimes: the sweep finds both tokens due, and the refresh tokens near their end (warnings).
  control.setTokenLifetimes({ accessSeconds: 86_400, refreshSeconds: 10 * 86_400 });

  expect((await call('PUT', `/v1/tenants/${t}/anaf-client`, { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET })).status).toBe(200);
  // A rotation of the secret (same client id) goes through the same path.
  expect((await call('PUT', `/v1/tenants/${t}/anaf-client`, { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET })).status).toBe(200);
  expect((await call('GET', `/v1/tenants/${t}/anaf-client`)).status).toBe(200);
  for (const cui of [CUIS[0], CUIS[1], CUIS[2]]) {
    expect((await call('PUT', `/v1/tenants/${t}/companies/${cui}`, { name: `Firma ${cui}` })).status).toBe(200);
  }

  // Connect through the browser flow; then one whose code exchange ANAF refuses.
  const session = await call('POST', `/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[0]] });
  expect(session.status).toBe(201);
  const hops = await browse(session.json.authorizeUrl);
  expect(hops.at(-1)!.status).toBe(200);
  const failing = await call('POST', `/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[2]] });
  control.failNext('invalid_client');
  expect((await browse(failing.json.authorizeUrl)).at(-1)!.status).toBe(502);
  const connectedId = (await call('GET', `/v1/tenants/${t}/companies/${CUIS[0]}`)).json.tokenId as string;
  expect(connectedId).toMatch(/^tok_/);

  // Import a pair obtained by hand, from another certificate; link a second company to it.
  control.setCertificate(EMULATOR_CERTIFICATES[2]!);
  const pair = await pairByHand();
  control.setCertificate(EMULATOR_CERTIFICATES[0]!);
  const imported = await call('POST', `/v1/tenants/${t}/tokens`, { ...pair, cuis: [CUIS[1]] });
  expect(imported.status).toBe(201);
  const importedId = imported.json.tokenId as string;
  expect(importedId).not.toBe(connectedId);
  expect((await call('PUT', `/v1/tenants/${t}/companies/${CUIS[2]}`, { tokenId: importedId })).status).toBe(200);

  // Reads, and the one route that hands out a token.
  expect((await call('GET', `/v1/tenants/${t}/companies`)).status).toBe(200);
  expect((await call('GET', `/v1/tenants/${t}/tokens`)).status).toBe(200);
  expect((await call('GET', `/v1/tenants/${t}/tokens/${importedId}`)).status).toBe(200);
  expect((await call('GET', `/v1/tenants/${t}/companies/${CUIS[0]}/access-token`)).status).toBe(200);
  expect((await call('GET', `/v1/tenants/${t}/companies/${CUIS[2]}/access-token`)).status).toBe(200);

  // e-Factura with the stored token: an upload (its Idempotency-Key stored), its status, the list (after
  // ANAF refuses the token once: refresh and retry), the download, and a refusal carrying ANAF's words.
  const invoice = '<?xml version="1.0" encoding="UTF-8"?><Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>';
  const uploaded = await call('POST', `/v1/tenants/${t}/companies/${CUIS[0]}/invoices?standard=UBL`, undefined, invoice);
  expect(uploaded.status).toBe(201);
  const state = await call('GET', `/v1/tenants/${t}/companies/${CUIS[0]}/invoices/${uploaded.json.uploadId}/status`);
  expect(state.status).toBe(200);
  control.failNext('unauthorized', 1, { target: 'listaMesajeFactura' });
  expect((await call('GET', `/v1/tenants/${t}/companies/${CUIS[0]}/messages?days=1`)).status).toBe(200);
  expect((await call('GET', `/v1/tenants/${t}/companies/${CUIS[0]}/messages/${state.json.downloadId}`)).status).toBe(200);
  expect((await call('POST', `/v1/tenants/${t}/companies/${CUIS[2]}/invoices?standard=UBL`, undefined, '<Invoice1/>')).status).toBe(502);

  // Manual refresh, then failing ones: 5xx (retried), invalid_client, a hang (timeout).
  expect((await call('POST', `/v1/tenants/${t}/tokens/${connectedId}/refresh`)).status).toBe(200);
  control.failNext('server_error', 3);
  expect((await call('POST', `/v1/tenants/${t}/tokens/${connectedId}/refresh`)).status).toBe(503);
  control.failNext('invalid_client');
  expect((await call('POST', `/v1/tenants/${t}/tokens/${connectedId}/refresh`)).status).toBe(502);
  control.failNext('hang');
  expect((await call('POST', `/v1/tenants/${t}/tokens/${importedId}/refresh`)).status).toBe(503);

  // The console entry point of the manual refresh (aws lambda invoke), answered like the route.
  const { handler: manualRefresh } = await import('../../functions/manual-refresh/handler.js');
  const invoked = await manualRefresh({ tenantId: t, cui: CUIS[1] });
  answers.push({ label: 'manual-refresh lambda', text: JSON.stringify(invoked) });
  expect(invoked).toMatchObject({ tokenId: importedId, status: 'active' });

  // Sweeps: the first with ANAF failing part of the time.
  control.failNext('server_error', 3);
  const first = await stack.runSweep();
  answers.push({ label: 'sweep summary', text: JSON.stringify(first) });
  expect(first.due).toBeGreaterThanOrEqual(1);
  const second = await stack.runSweep();
  answers.push({ label: 'sweep summary 2', text: JSON.stringify(second) });

  // ANAF acted and the answer was lost; the next refresh finds the old refresh token spent.
  control.failNext('drop');
  expect((await call('POST', `/v1/tenants/${t}/tokens/${importedId}/refresh`)).status).toBe(503);
  const lost = await call('POST', `/v1/tenants/${t}/tokens/${importedId}/refresh`);
  expect(lost.status).toBe(409);
  expect(lost.json.error.code).toBe('REAUTH_REQUIRED');

  // Events, paged; then disconnect and forget a company.
  let cursor: string | null = null;
  do {
    const page = await call('GET', `/v1/tenants/${t}/events?limit=5${cursor ? `&cursor=${cursor}` : ''}`);
    expect(page.status).toBe(200);
    auditEvents.push(...page.json.events);
    cursor = page.json.nextCursor;
  } while (cursor);
  expect((await call('DELETE', `/v1/tenants/${t}/tokens/${connectedId}`)).status).toBe(204);
  expect((await call('DELETE', `/v1/tenants/${t}/companies/${CUIS[2]}`)).status).toBe(204);
  expect((await call('GET', `/v1/tenants/${t}/companies`)).status).toBe(200);
  const after = await call('GET', `/v1/tenants/${t}/events?limit=100`);
  auditEvents.push(...after.json.events);
}

// ---------------------------------------------------------------- the search

interface Needle {
  label: string;
  value: string;
}

/** The secret (also as the Basic header ANAF receives), every issued token and its signature, every code. */
function needles(): Needle[] {
  const list: Needle[] = [
    { label: 'client secret', value: CLIENT_SECRET },
    { label: 'client secret in a Basic header', value: Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(CLIENT_SECRET)}`).toString('base64') },
  ];
  issued.forEach((token, i) => {
    list.push({ label: `issued token #${i}`, value: token });
    list.push({ label: `signature of issued token #${i}`, value: token.split('.')[2]! });
  });
  codes.forEach((code, i) => list.push({ label: `authorization code #${i}`, value: code }));
  return list;
}

/** The places where a value was found, with the value masked in the excerpt. */
function search(haystacks: Array<{ label: string; text: string }>, list: Needle[]): string[] {
  const found: string[] = [];
  for (const { label, text } of haystacks) {
    for (const needle of list) {
      const at = text.indexOf(needle.value);
      if (at >= 0) {
        const excerpt = text.slice(Math.max(0, at - 80), at + needle.value.length + 40).replace(needle.value, `<${needle.label}>`);
        found.push(`${needle.label} in ${label}: …${excerpt}…`);
      }
    }
  }
  return found;
}

/** A JWT-shaped value: `eyJ` (base64 of `{"`) at the start of a word, then a dot-separated segment. */
const JWT_LIKE = /(^|[^A-Za-z0-9_-])eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+/;
/** `eyJ` at the start of a value or after a non-base64 character (random ids may hold it inside). */
const EYJ_PREFIX = /(^|[^A-Za-z0-9_-])eyJ/;

const logLines = () =>
  captured
    .join('')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => ({ label: `log line ${i}`, text: line }));
const itemTexts = () => items.map((item) => ({ label: `item ${String(item.pk)} ${String(item.sk)}`, text: JSON.stringify(item) }));

describe('no secret leaks through a whole tenant life (logs, API answers, DynamoDB, audit trail)', () => {
  it('the capture and the search are not vacuous', () => {
    const lines = logLines();
    expect(lines.length).toBeGreaterThan(50);
    const text = lines.map((l) => l.text).join('\n');
    expect(text).toContain('"message":"request"');
    expect(text).toContain('"route":"POST /v1/tenants/{tenantId}/tokens/{tokenId}/refresh"');
    expect(text).toContain('"route":"GET /v1/tenants/{tenantId}/companies/{cui}/access-token"');
    expect(text).toContain('"route":"GET /v1/oauth/callback"');
    expect(text).toContain('refresh failed');
    expect(text).toContain('code exchange failed');
    expect(text).toContain('sweep finished');
    // Every access token ever issued was searched for, and the search finds what it looks for.
    expect(issued.length).toBeGreaterThanOrEqual(12);
    expect(codes.length).toBeGreaterThanOrEqual(3);
    expect(states.length).toBeGreaterThanOrEqual(2);
    expect(accessTokenAnswers).toBe(2);
    expect(answers.length).toBeGreaterThan(30);
    expect(auditEvents.length).toBeGreaterThan(5);
    expect(items.some((i) => i.pk === `TENANT#${TENANT}` && String(i.sk).startsWith('TOKEN#'))).toBe(true);
    const planted = [{ label: 'planted', text: `x ${issued[0]} ${CLIENT_SECRET} y` }];
    expect(search(planted, needles()).length).toBeGreaterThanOrEqual(3);
    expect(JWT_LIKE.test(`"a":"${issued[0]}"`)).toBe(true);
    // The secret did go somewhere: Secrets Manager, under the prefix.
    expect(secretNames).toContain(`${process.env.SECRET_PREFIX}${TENANT}/anaf-client`);
  });

  it('no log line holds the client secret, a token, a signature, a code or a raw state', () => {
    const list = [...needles(), ...states.map((s, i) => ({ label: `OAuth state #${i}`, value: s }))];
    const lines = logLines();
    expect(search(lines, list)).toEqual([]);
    expect(lines.filter((l) => JWT_LIKE.test(l.text)).map((l) => l.text.slice(0, 200))).toEqual([]);
  });

  it('no API answer (but the access-token route\'s) holds the client secret, a token, a signature or a code', () => {
    expect(search(answers, needles())).toEqual([]);
    expect(answers.filter((a) => JWT_LIKE.test(a.text)).map((a) => a.label)).toEqual([]);
  });

  it('no DynamoDB item holds the client secret, a token, a signature, a code, a raw state or anything JWT-like', () => {
    const texts = itemTexts();
    expect(texts.length).toBeGreaterThan(10);
    const list = [...needles(), ...states.map((s, i) => ({ label: `OAuth state #${i}`, value: s }))];
    expect(search(texts, list)).toEqual([]);
    expect(texts.filter((t) => EYJ_PREFIX.test(t.text)).map((t) => t.label)).toEqual([]);
  });

  it('no audit event holds the client secret, a token, a signature or a code', () => {
    const texts = auditEvents.map((event, i) => ({ label: `event #${i} ${(event as { type: string }).type}`, text: JSON.stringify(event) }));
    expect(new Set(auditEvents.map((e) => (e as { type: string }).type))).toEqual(
      new Set(['connected', 'connect-failed', 'refreshed', 'refresh-failed', 'reauth-required', 'token-issued', 'expiring', 'disconnected']),
    );
    expect(search(texts, needles())).toEqual([]);
    expect(texts.filter((t) => EYJ_PREFIX.test(t.text)).map((t) => t.label)).toEqual([]);
  });
});
