import { mkdtempSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page, Response } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EMULATOR_CERTIFICATES } from '../../local/anaf-emulator/server.js';
import { launchChromium } from '../support/browser.js';
import { CUIS, EMULATOR_DEFAULT_CLIENT, setupTenant, startTestStack } from '../support/stack.js';

/*
 * A person in headless Chromium: opens the connect link, lands on the emulator's certificate page,
 * picks a certificate, types a PIN, approves (or cancels) and sees our result page or the ERP's page.
 * Same pattern as the integration tests: one local stack for the file, a fresh tenant per test.
 */

type Stack = Awaited<ReturnType<typeof startTestStack>>;
let stack: Stack;
let browser: Browser | undefined;
/** Why Chromium could not start: every test then fails with it (a failing beforeAll would only skip them). */
let browserError: unknown;
let context: BrowserContext;
let page: Page;
let n = 0;
const tenant = () => `e2e${++n}-${Date.now().toString(36)}`;

/** The ERP: a tiny server on 127.0.0.1 that records what the browser brings back. */
let erp: http.Server;
let erpOrigin = '';
const erpVisits: Array<{ url: string; referer: string | undefined }> = [];

let shots = '';

beforeAll(async () => {
  erp = http.createServer((req, res) => {
    erpVisits.push({ url: req.url ?? '', referer: req.headers.referer });
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>ERP</title><h1 id="erp">ERP: conectare primită</h1>');
  });
  await new Promise<void>((resolve) => erp.listen(0, '127.0.0.1', resolve));
  erpOrigin = `http://127.0.0.1:${(erp.address() as { port: number }).port}`;
  stack = await startTestStack({ ANAF_EMULATOR_AUTHORIZE_MODE: 'interactive', RETURN_URL_ALLOWLIST: erpOrigin });
  try {
    browser = await launchChromium();
  } catch (error) {
    browserError = error;
  }
  shots = mkdtempSync(join(tmpdir(), 'anaf-broker-e2e-'));
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await new Promise<void>((resolve) => (erp ? erp.close(() => resolve()) : resolve()));
  if (shots) rmSync(shots, { recursive: true, force: true });
});

beforeEach(async () => {
  if (!browser) throw browserError;
  stack.emulator!.control.reset();
  erpVisits.length = 0;
  context = await browser.newContext({ locale: 'ro-RO' });
  page = await context.newPage();
  page.setDefaultTimeout(10_000);
});

afterEach(async () => {
  await context?.close();
});

async function newSession(cuis: string[], returnUrl?: string): Promise<{ tenantId: string; authorizeUrl: string }> {
  const tenantId = tenant();
  await setupTenant(stack.api, tenantId, cuis);
  const session = await stack.api.post(`/v1/tenants/${tenantId}/connect-sessions`, { cuis, ...(returnUrl ? { returnUrl } : {}) });
  expect(session.status).toBe(201);
  return { tenantId, authorizeUrl: session.body.authorizeUrl };
}

/** Opens the connect link and checks that it lands on the emulator's certificate page. */
async function openConnectLink(authorizeUrl: string): Promise<void> {
  const landed = await page.goto(authorizeUrl);
  expect(landed?.status()).toBe(200);
  expect(page.url().startsWith(`${stack.emulator!.oauthBaseUrl}/authorize?`)).toBe(true);
  await expect.poll(() => page.locator('#certificate').isVisible()).toBe(true);
  await expect.poll(() => page.locator('#pin').isVisible()).toBe(true);
}

/** Clicks a button of the emulator's form and answers our callback's response. */
async function submit(button: '#approve' | '#cancel'): Promise<Response> {
  const [callback] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === '/v1/oauth/callback'),
    page.click(button),
  ]);
  await page.waitForLoadState('load');
  return callback;
}

/** No JWT and no token the emulator ever issued appears in what the person sees or in the page source. */
async function expectNoTokenText(): Promise<void> {
  const html = await page.content();
  const text = await page.locator('body').innerText();
  expect(html).not.toMatch(/eyJ/);
  expect(text).not.toMatch(/eyJ/);
  for (const token of stack.emulator!.control.issuedTokens()) {
    expect(html.includes(token) || html.includes(token.split('.')[2]!)).toBe(false);
  }
}

/** Every id on the page is used once (the page is parsed by Chromium itself). */
async function expectUniqueIds(): Promise<void> {
  const ids = await page.locator('[id]').evaluateAll((elements) => elements.map((e) => e.id));
  expect(ids.length).toBeGreaterThan(0);
  expect(new Set(ids).size, ids.join(' ')).toBe(ids.length);
}

describe('connect flow in headless Chromium (emulator in interactive mode)', () => {
  it('certificate + PIN + approve ends on the Romanian success page with the companies (plural); a reload says already connected', async () => {
    const chosen = EMULATOR_CERTIFICATES[1]!;
    const { tenantId, authorizeUrl } = await newSession([CUIS[0], CUIS[1]]);
    await openConnectLink(authorizeUrl);

    // Submitting without a PIN keeps the person on the certificate page with an error.
    await page.selectOption('#certificate', chosen.serial);
    await Promise.all([page.waitForResponse((r) => r.url().endsWith('/authorize/confirm')), page.click('#approve')]);
    await expect.poll(() => page.locator('#error').innerText()).toContain('PIN');
    expect(stack.emulator!.control.stats().tokenCalls.authorization_code).toBe(0);

    await page.selectOption('#certificate', chosen.serial);
    await page.fill('#pin', '1234');
    const callback = await submit('#approve');
    expect(callback.status()).toBe(200);
    expect(callback.headers()['referrer-policy']).toBe('no-referrer');
    expect(new URL(page.url()).pathname).toBe('/v1/oauth/callback');

    expect(await page.title()).toContain('Conectare reușită');
    expect(await page.locator('section[lang="ro"] h1').innerText()).toBe('Conectare reușită');
    expect(await page.locator('section[lang="en"] h1').innerText()).toBe('Connected');
    const body = await page.locator('section[lang="ro"]').innerText();
    expect(body).toContain('Cele 2 firme de mai jos sunt acum conectate la e-Factura');
    expect(body).toContain('Ce urmează: Nu mai aveți nimic de făcut');
    expect(await page.locator('section[lang="ro"] .companies li').allInnerTexts()).toEqual([
      `Company ${CUIS[0]} — CUI ${CUIS[0]}`,
      `Company ${CUIS[1]} — CUI ${CUIS[1]}`,
    ]);
    expect(await page.locator('section[lang="en"]').innerText()).toContain('The 2 companies below are now connected');
    await expectUniqueIds();
    await expectNoTokenText();

    const shot = join(shots, 'connected.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(1000);

    // The token belongs to the certificate the person picked.
    const tokens = await stack.api.get(`/v1/tenants/${tenantId}/tokens`);
    expect(tokens.body.tokens).toHaveLength(1);
    expect(tokens.body.tokens[0]).toMatchObject({ status: 'active', serial: chosen.serial, cuis: [CUIS[0], CUIS[1]].sort() });

    // Reloading the result page replays a used state: it says there is nothing left to do, and changes nothing.
    const reloaded = await page.reload();
    expect(reloaded?.status()).toBe(200);
    expect(new URL(page.url()).pathname).toBe('/v1/oauth/callback');
    expect(await page.locator('section[lang="ro"] h1').innerText()).toBe('Conectarea este deja făcută');
    expect(await page.locator('section[lang="en"] h1').innerText()).toBe('Already connected');
    const again = await page.locator('section[lang="ro"]').innerText();
    expect(again).toContain('Nu mai aveți nimic de făcut');
    expect(again).not.toMatch(/INVALID_STATE|nevalid|expirat/);
    expect(await page.locator('section[lang="ro"] .companies li').count()).toBe(2);
    await expectUniqueIds();
    await expectNoTokenText();
    expect(stack.emulator!.control.stats().tokenCalls.authorization_code).toBe(1);
    expect((await stack.api.get(`/v1/tenants/${tenantId}/tokens`)).body.tokens).toHaveLength(1);
  });

  it('cancel ends on the 400 access-denied page about the USB token and stores nothing', async () => {
    const { tenantId, authorizeUrl } = await newSession([CUIS[2]]);
    await openConnectLink(authorizeUrl);
    const callback = await submit('#cancel');
    expect(callback.status()).toBe(400);
    expect(await page.locator('section[lang="ro"] h1').innerText()).toBe('Autentificarea nu s-a realizat');
    const body = await page.locator('body').innerText();
    expect(body).toContain('tokenul USB');
    expect(body).toContain('ACCESS_DENIED');
    expect(await page.locator('section[lang="en"]').count()).toBe(1);
    await expectNoTokenText();
    expect(stack.emulator!.control.stats().tokenCalls.authorization_code).toBe(0);
    expect((await stack.api.get(`/v1/tenants/${tenantId}/tokens`)).body.tokens).toEqual([]);
    expect((await stack.api.get(`/v1/tenants/${tenantId}/companies/${CUIS[2]}`)).body.status).toBe('not-connected');

    // The page's next step opens the same link again; it works once the USB token is plugged in.
    expect(await page.locator('section[lang="ro"] .next').innerText()).toContain('Conectați tokenul USB');
    expect(await page.locator('section[lang="ro"] a.action').getAttribute('href')).toBe(authorizeUrl);
    await Promise.all([page.waitForURL((url) => url.href.startsWith(`${stack.emulator!.oauthBaseUrl}/authorize?`)), page.click('section[lang="ro"] a.action')]);
    await expect.poll(() => page.locator('#pin').isVisible()).toBe(true);
    await page.fill('#pin', '0000');
    expect((await submit('#approve')).status()).toBe(200);
    expect((await stack.api.get(`/v1/tenants/${tenantId}/companies/${CUIS[2]}`)).body.status).toBe('active');
  });

  it('with a returnUrl the browser ends at the ERP with status=connected&tokenId', async () => {
    const { tenantId, authorizeUrl } = await newSession([CUIS[3]], `${erpOrigin}/anaf/done?firma=3`);
    await openConnectLink(authorizeUrl);
    await page.fill('#pin', '1234');
    const callback = await submit('#approve');
    expect(callback.status()).toBe(302);
    await page.waitForURL((url) => url.origin === erpOrigin);
    await expect.poll(() => page.locator('#erp').isVisible()).toBe(true);

    const landed = new URL(page.url());
    expect(landed.pathname).toBe('/anaf/done');
    expect(landed.searchParams.get('firma')).toBe('3');
    expect(landed.searchParams.get('status')).toBe('connected');
    const tokenId = landed.searchParams.get('tokenId');
    expect(tokenId).toMatch(/^tok_[a-f0-9]{24}$/);
    expect((await stack.api.get(`/v1/tenants/${tenantId}/companies/${CUIS[3]}`)).body).toMatchObject({ tokenId, status: 'active' });

    // Chromium also asks the ERP for /favicon.ico; the page itself is visited once.
    const visits = erpVisits.filter((v) => v.url !== '/favicon.ico');
    expect(visits, JSON.stringify(erpVisits)).toHaveLength(1);
    expect(visits[0]!.url).toContain('status=connected&tokenId=');
    expect(visits[0]!.url).not.toMatch(/code=|state=|eyJ/);
    // The callback URL holds the code: it must not reach the ERP as a Referer.
    for (const visit of erpVisits) expect(visit.referer ?? '').not.toMatch(/code=|\/v1\/oauth\/callback/);
  });
});

describe('the result pages an accountant sees (headless Chromium)', () => {
  it("one company: the singular, its registered name with the CUI, the ERP's display name; the used link says it was used", async () => {
    const { tenantId, authorizeUrl } = await newSession([CUIS[4]]);
    expect((await stack.api.put(`/v1/tenants/${tenantId}/anaf-client`, { ...EMULATOR_DEFAULT_CLIENT, displayName: 'Contabilitate Plus' })).status).toBe(200);
    expect((await stack.api.put(`/v1/tenants/${tenantId}/companies/${CUIS[4]}`, { name: 'Exemplu Distribuție SRL' })).status).toBe(200);
    await openConnectLink(authorizeUrl);
    await page.fill('#pin', '1234');
    expect((await submit('#approve')).status()).toBe(200);

    const ro = await page.locator('section[lang="ro"]').innerText();
    expect(ro).toContain('Cererea de conectare la e-Factura a venit de la Contabilitate Plus.');
    expect(ro).toContain('Firma de mai jos este acum conectată la e-Factura');
    expect(ro).not.toMatch(/Firmele|firme de mai jos/);
    expect(await page.locator('section[lang="ro"] .companies li').allInnerTexts()).toEqual([`Exemplu Distribuție SRL — CUI ${CUIS[4]}`]);
    const en = await page.locator('section[lang="en"]').innerText();
    expect(en).toContain('Contabilitate Plus asked for this connection');
    expect(en).toContain('The company below is now connected');
    await expectUniqueIds();
    await expectNoTokenText();

    // The e-mailed link opened again after the success: used, not expired, nothing left to do, ANAF not asked.
    const used = await page.goto(authorizeUrl);
    expect(used?.status()).toBe(200);
    expect(new URL(page.url()).pathname).toBe('/v1/oauth/authorize');
    expect(await page.locator('section[lang="ro"] h1').innerText()).toBe('Linkul a fost deja folosit');
    expect(await page.locator('section[lang="en"] h1').innerText()).toBe('This link was already used');
    const text = await page.locator('section[lang="ro"]').innerText();
    expect(text).toContain('Conectarea prin acest link a reușit pe');
    expect(text).toContain('Ce urmează: Nu mai aveți nimic de făcut');
    expect(text).toContain('cereți un link nou de la Contabilitate Plus');
    expect(text).not.toMatch(/expirat|SESSION_EXPIRED/);
    expect(await page.locator('section[lang="ro"] .companies li').allInnerTexts()).toEqual([`Exemplu Distribuție SRL — CUI ${CUIS[4]}`]);
    expect(used?.headers()['content-security-policy']).toContain("default-src 'none'");
    await expectUniqueIds();
    expect(stack.emulator!.control.stats().tokenCalls.authorization_code).toBe(1);
    expect((await stack.api.get(`/v1/tenants/${tenantId}/tokens`)).body.tokens).toHaveLength(1);
  });
});
