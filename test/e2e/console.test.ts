import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EMULATOR_CERTIFICATES } from '../../local/anaf-emulator/server.js';
import { launchChromium } from '../support/browser.js';
import { CUIS, EMULATOR_DEFAULT_CLIENT, setupTenant, startTestStack } from '../support/stack.js';

/*
 * The local console in headless Chromium, against the local stack with the emulator's interactive
 * certificate + PIN page: a person clicks through tenants, companies, the ANAF login, tokens and the
 * emulator's switches. `UPDATE_SCREENSHOT=1` also writes docs/console.png (shown in the README).
 */

type Stack = Awaited<ReturnType<typeof startTestStack>>;
let stack: Stack;
let browser: Browser | undefined;
/** Why Chromium could not start: every test then fails with it (a failing beforeAll would only skip them). */
let browserError: unknown;
let context: BrowserContext;
let page: Page;
let consoleOrigin = '';
/** Every path the console's page asked the API for (the access-token route must never be among them). */
let requested: string[] = [];
let shots = '';
let n = 0;
const tenant = () => `console${++n}-${Date.now().toString(36)}`;

beforeAll(async () => {
  stack = await startTestStack({ ANAF_EMULATOR_AUTHORIZE_MODE: 'interactive', MANUAL_REFRESH_COOLDOWN_SECONDS: '0' });
  // The stack's one host form: PUBLIC_BASE_URL (and so the return-URL allowlist) is the API's 127.0.0.1.
  consoleOrigin = new URL(stack.apiUrl).origin;
  try {
    browser = await launchChromium();
  } catch (error) {
    browserError = error;
  }
  shots = mkdtempSync(join(tmpdir(), 'anaf-console-e2e-'));
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  if (shots) rmSync(shots, { recursive: true, force: true });
});

beforeEach(async () => {
  if (!browser) throw browserError;
  stack.emulator!.control.reset();
  context = await browser.newContext({ locale: 'ro-RO', timezoneId: 'Europe/Bucharest', viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(10_000);
  requested = [];
  page.on('request', (r) => requested.push(new URL(r.url()).pathname));
});

afterEach(async () => {
  expect(requested.filter((path) => path.endsWith('/access-token'))).toEqual([]);
  await context?.close();
});

/** Opens the console as `npm run dev` prints it (127.0.0.1) and checks that it lands on the allowlisted origin. */
async function openConsole(query = ''): Promise<void> {
  await page.goto(`${stack.apiUrl}/${query}`);
  expect(new URL(page.url()).origin).toBe(consoleOrigin);
  await page.locator('#tenant-form').waitFor();
}

async function createTenant(tenantId: string): Promise<void> {
  await page.fill('#tenant-id', tenantId);
  await page.click('#tenant-open');
  await expect.poll(() => page.locator('#client-status').innerText()).toContain('salvați-l mai jos');
  await page.click('#client-fill-emulator');
  await page.click('#client-save');
  await expect.poll(() => page.locator('#client-status').innerText()).toContain('configurat la');
}

async function addCompany(cui: string, name: string): Promise<void> {
  await page.fill('#company-cui', cui);
  await page.fill('#company-name', name);
  await page.click('#company-add');
  await page.locator(`#company-${cui.replace(/\D/g, '')}`).waitFor();
}

const statusOf = (cui: string) => page.locator(`#company-${cui}`).getAttribute('data-status');
const tokenCard = (tokenId: string) => page.locator(`#token-${tokenId}`);
const resultText = () => page.locator('#result-text').innerText();
const focusedId = () => page.locator(':focus').getAttribute('id');

/** On the emulator's page: pick a certificate, type a PIN, approve; back on the console with its result. */
async function loginAtEmulator(serial?: string): Promise<void> {
  await page.waitForURL((url) => url.pathname.endsWith('/anaf-oauth2/v1/authorize'));
  if (serial) await page.selectOption('#certificate', serial);
  await page.fill('#pin', '1234');
  await page.click('#approve');
  await page.waitForURL((url) => url.origin === consoleOrigin && url.pathname === '/');
  await page.locator('#result-text').waitFor();
}

/** The result came through the URL and the URL was cleaned (a reload does not announce it again). */
function expectCleanUrl(): void {
  expect(new URL(page.url()).search).toBe('');
}

/** No JWT, no issued token and no client secret in what the console shows or holds in its DOM. */
async function expectNoSecretsShown(): Promise<void> {
  const html = await page.locator('#app').innerHTML();
  const text = await page.locator('body').innerText();
  expect(html).not.toMatch(/eyJ/);
  expect(text).not.toContain(EMULATOR_DEFAULT_CLIENT.clientSecret);
  for (const token of stack.emulator!.control.issuedTokens()) expect(html.includes(token.split('.')[2]!)).toBe(false);
  for (const input of await page.locator('input[type="password"]').all()) expect(await input.inputValue()).toBe('');
}

describe('the local console in headless Chromium', () => {
  it('creates a tenant, adds two companies (CUI checked as typed, the server refusing a wrong one), connects both with one login: one token', async () => {
    // The screenshot's tenant (each test file has a stack of its own).
    const tenantId = 'acme';
    const chosen = EMULATOR_CERTIFICATES[1]!;
    await openConsole();
    await createTenant(tenantId);
    expect(await page.locator('#client-status').innerText()).toContain(EMULATOR_DEFAULT_CLIENT.clientId);
    await expectNoSecretsShown();

    // Validated as typed with the shared CUI check; sent anyway, the server's refusal is shown.
    await page.fill('#company-cui', 'RO 14399841');
    expect(await page.locator('#company-cui-hint').innerText()).toContain('CUI nevalid');
    expect(await page.locator('#company-cui').getAttribute('aria-invalid')).toBe('true');
    await page.click('#company-add');
    await expect.poll(() => page.locator('#msg-company').innerText()).toContain('INVALID_CUI');
    await page.fill('#company-cui', 'RO 1439 9840');
    expect(await page.locator('#company-cui-hint').innerText()).toBe(`CUI valid: ${CUIS[0]}`);
    await page.fill('#company-name', 'Demo Construct SRL');
    await page.click('#company-add');
    await page.locator(`#company-${CUIS[0]}`).waitFor();

    // The second one by keyboard only: type, Tab to the name, Enter submits; Space ticks its box.
    await page.focus('#company-cui');
    await page.keyboard.type(CUIS[1]);
    await page.keyboard.press('Tab');
    expect(await focusedId()).toBe('company-name');
    await page.keyboard.type('Alta Distributie SRL');
    await page.keyboard.press('Enter');
    await page.locator(`#company-${CUIS[1]}`).waitFor();
    expect(await statusOf(CUIS[0])).toBe('not-connected');
    // A company just added is selected for the connection; untick and tick again with the keyboard.
    await page.focus(`#select-${CUIS[1]}`);
    await page.keyboard.press('Space');
    expect(await page.locator(`#select-${CUIS[1]}`).isChecked()).toBe(false);
    await page.keyboard.press('Space');
    expect(await page.locator(`#select-${CUIS[0]}`).isChecked()).toBe(true);
    expect(await page.locator(`#select-${CUIS[1]}`).isChecked()).toBe(true);

    await page.click('#connect');
    await loginAtEmulator(chosen.serial);
    expectCleanUrl();
    const text = await resultText();
    expect(text).toContain('Conectare reușită');
    expect(text).toContain(`Demo Construct SRL (CUI ${CUIS[0]})`);
    expect(text).toContain(`Alta Distributie SRL (CUI ${CUIS[1]})`);
    expect(await focusedId()).toBe('result');

    const tokens = (await stack.api.get(`/v1/tenants/${tenantId}/tokens`)).body.tokens;
    expect(tokens).toHaveLength(1);
    const tokenId: string = tokens[0].tokenId;
    expect(text).toContain(tokenId);
    for (const cui of [CUIS[0], CUIS[1]]) {
      expect(await statusOf(cui)).toBe('active');
      expect(await page.locator(`#company-${cui} .token-id`).innerText()).toBe(tokenId);
      expect(await page.locator(`#company-${cui} .access .rel`).innerText()).toBe('în 90 de zile');
      expect(await page.locator(`#company-${cui} .refresh .rel`).innerText()).toBe('în 365 de zile');
      expect(await page.locator(`#company-${cui} .coverage`).innerText()).toBe('necunoscută');
    }
    const card = tokenCard(tokenId);
    expect(await card.getAttribute('data-status')).toBe('active');
    expect(await card.locator('dd').first().innerText()).toBe(chosen.serial);
    expect(await card.locator('.token-companies').innerText()).toBe(`Demo Construct SRL (CUI ${CUIS[0]}), Alta Distributie SRL (CUI ${CUIS[1]})`);
    await card.locator('summary').click();
    expect(await card.locator('.journal li').first().getAttribute('data-type')).toBe('connected');
    await expectNoSecretsShown();

    await page.screenshot({ path: join(shots, 'console.png'), fullPage: true });
    expect(statSync(join(shots, 'console.png')).size).toBeGreaterThan(10_000);
    if (process.env.UPDATE_SCREENSHOT === '1') copyFileSync(join(shots, 'console.png'), 'docs/console.png');

    // English on demand, and back; the choice survives a reload.
    await page.click('#lang-toggle');
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    expect(await page.locator(`#company-${CUIS[0]} .access .rel`).innerText()).toBe('in 90 days');
    expect(await page.locator('#connect').innerText()).toBe('Connect to ANAF');
    expect(await focusedId()).toBe('lang-toggle');
    await page.reload();
    await page.locator('#connect').waitFor();
    expect(await page.locator('#connect').innerText()).toBe('Connect to ANAF');
    expect(await page.locator('#result-text').count()).toBe(0);
    await page.click('#lang-toggle');
    expect(await page.locator('#connect').innerText()).toBe('Conectare la ANAF');
  });

  it('USB token not connected: back on the console with ACCESS_DENIED; the copied link lets the accountant connect elsewhere', async () => {
    const tenantId = tenant();
    await setupTenant(stack.api, tenantId, [CUIS[2]]);
    await openConsole(`?tenant=${tenantId}`);
    await page.check(`#select-${CUIS[2]}`);
    await page.click('#connect');
    await page.waitForURL((url) => url.pathname.endsWith('/anaf-oauth2/v1/authorize'));
    await page.click('#cancel');
    await page.waitForURL((url) => url.origin === consoleOrigin && url.pathname === '/');
    await page.locator('#result-text').waitFor();
    expectCleanUrl();
    expect(await resultText()).toContain('tokenul USB nu era conectat');
    expect(await resultText()).toContain('ACCESS_DENIED');
    expect(await page.locator('#result').getAttribute('class')).toContain('error');
    expect(await statusOf(CUIS[2])).toBe('not-connected');
    expect(await page.locator('#tokens-empty').count()).toBe(1);

    // "Copiază linkul": a link without a return URL, for whoever holds the certificate.
    await page.check(`#select-${CUIS[2]}`);
    await page.click('#copy-link');
    const link = await page.locator('#connect-link').inputValue();
    expect(link).toMatch(new RegExp(`^${consoleOrigin}/v1/oauth/authorize\\?session=`));
    expect(await focusedId()).toBe('connect-link');

    const accountant = await context.newPage();
    await accountant.goto(link);
    await accountant.click('#cancel');
    // Without a return URL the accountant sees the broker's own pages: first the USB-token one...
    expect(await accountant.locator('body').innerText()).toContain('ACCESS_DENIED');
    await accountant.goto(link);
    await accountant.fill('#pin', '0000');
    const [callback] = await Promise.all([
      accountant.waitForResponse((r) => new URL(r.url()).pathname === '/v1/oauth/callback'),
      accountant.click('#approve'),
    ]);
    // ...then, the same link, the success page.
    expect(callback.status()).toBe(200);
    await accountant.close();

    // No click: the console reloads its data every 5 s.
    await expect.poll(() => statusOf(CUIS[2]), { timeout: 15_000 }).toBe('active');
  });

  it('links a third company to the token, refreshes it, watches the sweep turn it reauth-required after ANAF refuses, then disconnects it', async () => {
    const tenantId = tenant();
    await setupTenant(stack.api, tenantId, [CUIS[3], CUIS[4], CUIS[5]]);
    await openConsole(`?tenant=${tenantId}`);
    await page.check(`#select-${CUIS[3]}`);
    await page.check(`#select-${CUIS[4]}`);
    await page.click('#connect');
    await loginAtEmulator();
    const tokenId = /tok_[a-f0-9]{24}/.exec(await resultText())![0];

    // A third company joins the existing token: no new login.
    const callsBefore = stack.emulator!.control.stats().authorizeCalls;
    await page.selectOption(`#link-${CUIS[5]}`, tokenId);
    await page.click(`#link-button-${CUIS[5]}`);
    await expect.poll(() => statusOf(CUIS[5])).toBe('active');
    expect(await page.locator(`#company-${CUIS[5]} .token-id`).innerText()).toBe(tokenId);
    expect(await tokenCard(tokenId).locator('.token-companies').innerText()).toContain(`CUI ${CUIS[5]}`);
    expect(await page.locator('#msg-company').innerText()).toContain('fără o nouă autentificare');
    expect(stack.emulator!.control.stats().authorizeCalls).toBe(callsBefore);

    // The emulator now issues 10-day access tokens; "Reîmprospătează acum" rotates the pair.
    await page.click('#emu-preset-due');
    await expect.poll(() => page.locator('#emulator-lifetimes').innerText()).toBe('10 zile / 365 de zile');
    await page.click(`#refresh-${tokenId}`);
    await expect.poll(() => page.locator(`#msg-token-${tokenId}`).innerText()).toContain('Reîmprospătat');
    expect(await tokenCard(tokenId).locator('.access .rel').innerText()).toBe('în 10 zile');
    expect(await page.locator(`#company-${CUIS[5]} .access .rel`).innerText()).toBe('în 10 zile');
    expect(stack.emulator!.control.stats().tokenCalls.refresh_token).toBe(1);

    // ANAF will refuse the next refresh; the sweep finds the token due (10 days < the 30-day margin).
    await page.selectOption('#emu-fail-kind', 'invalid_grant');
    await page.click('#emu-fail-apply');
    await expect.poll(() => page.locator('#emulator-pending').innerText()).toBe('invalid_grant');
    await page.click('#run-sweep');
    await expect.poll(() => page.locator('#msg-sweep').innerText()).toContain('reauthRequired 1');
    await expect.poll(() => tokenCard(tokenId).getAttribute('data-status')).toBe('reauth-required');
    expect(await tokenCard(tokenId).locator('.warnings').innerText()).toContain('trebuie să se conecteze din nou');
    expect(await statusOf(CUIS[3])).toBe('reauth-required');

    // "Reconectează": the same certificate logs in again and the same token is active again, links kept.
    await page.click(`#reconnect-${tokenId}`);
    await loginAtEmulator();
    expect(await resultText()).toContain(tokenId);
    expect(await tokenCard(tokenId).getAttribute('data-status')).toBe('active');
    for (const cui of [CUIS[3], CUIS[4], CUIS[5]]) expect(await statusOf(cui)).toBe('active');

    // The audit trail, newest first.
    await tokenCard(tokenId).locator('summary').click();
    const journal = tokenCard(tokenId).locator('.journal li');
    expect(await journal.first().getAttribute('data-type')).toBe('connected');
    const times = await journal.locator('time').evaluateAll((els) => els.map((el) => el.getAttribute('datetime')!));
    expect(times).toEqual([...times].sort().reverse());
    const types = await journal.evaluateAll((els) => els.map((el) => el.getAttribute('data-type')));
    expect(types).toContain('reauth-required');
    expect(types).toContain('refreshed');
    expect(types.indexOf('reauth-required')).toBeLessThan(types.indexOf('refreshed'));
    expect(types.at(-1)).toBe('connected');

    await page.click(`#disconnect-${tokenId}`);
    await expect.poll(() => tokenCard(tokenId).getAttribute('data-status')).toBe('disconnected');
    for (const cui of [CUIS[3], CUIS[4], CUIS[5]]) expect(await statusOf(cui)).toBe('not-connected');
    expect(await page.locator(`#refresh-${tokenId}`).count()).toBe(0);
    // The journal stayed open across the re-render and names the disconnect first.
    expect(await tokenCard(tokenId).locator('.journal li').first().getAttribute('data-type')).toBe('disconnected');
    await expectNoSecretsShown();
  });

  it("shows the callback's errors: ANAF rejecting the client, ANAF down, and the broker's page for a forged state", async () => {
    const tenantId = tenant();
    await setupTenant(stack.api, tenantId, [CUIS[6]]);
    await openConsole(`?tenant=${tenantId}`);

    stack.emulator!.control.failNext('invalid_client');
    await page.check(`#select-${CUIS[6]}`);
    await page.click('#connect');
    await loginAtEmulator();
    expect(await resultText()).toContain('ANAF a refuzat conectarea');
    expect(await resultText()).toContain('ANAF_REJECTED');
    expect(await statusOf(CUIS[6])).toBe('not-connected');

    stack.emulator!.control.failNext('unavailable', 3);
    await page.check(`#select-${CUIS[6]}`);
    await page.click('#connect');
    await loginAtEmulator();
    expect(await resultText()).toContain('ANAF nu a răspuns');
    expect(await resultText()).toContain('ANAF_UNAVAILABLE');
    expect(await statusOf(CUIS[6])).toBe('not-connected');
    stack.emulator!.control.reset();

    // An unknown (forged, replayed) state never redirects: the broker's own 400 page.
    const forged = await page.goto(`${consoleOrigin}/v1/oauth/callback?code=x&state=forged-state-value`);
    expect(forged?.status()).toBe(400);
    expect(new URL(page.url()).pathname).toBe('/v1/oauth/callback');
    expect(await page.getAttribute('html', 'lang')).toBe('ro');

    // The console is still where the person left it.
    await openConsole();
    expect(await statusOf(CUIS[6])).toBe('not-connected');
  });
});
