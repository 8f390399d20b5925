import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderBanner } from '../../local/banner.js';
import { getConfig } from '../../shared/config/config.js';
import { connect, setupTenant, startTestStack } from '../support/stack.js';

/**
 * The README's "Seeing each refresh path locally", step by step, with the same emulator admin calls over
 * HTTP, the same API calls, and `npm run refresh` as its own process with only the env line the banner
 * prints. The stack's scheduled sweep is replaced by `runSweep()` (one beat), the `sleep` by a wait.
 */
type Stack = Awaited<ReturnType<typeof startTestStack>>;
let stack: Stack;
const ROOT = new URL('../..', import.meta.url).pathname;
const TENANT = 'acme';
const CUI = '14399840';
let token: string;

const emu = (action: string, body: unknown) =>
  fetch(`${stack.emulator!.url}/__emulator/${action}`, { method: 'POST', body: JSON.stringify(body) }).then((res) => {
    if (res.status !== 200) throw new Error(`${action}: ${res.status}`);
  });
const refreshCalls = () => stack.emulator!.control.stats().tokenCalls.refresh_token;
const manual = () => stack.api.post(`/v1/tenants/${TENANT}/tokens/${token}/refresh`);
const tokenView = async () => (await stack.api.get(`/v1/tenants/${TENANT}/tokens/${token}`)).body;
const events = async () => (await stack.api.get(`/v1/tenants/${TENANT}/events?limit=100`)).body.events as Array<{ type: string; details?: Record<string, unknown> }>;
const ANAF_LIFETIMES = { accessSeconds: 7_776_000, refreshSeconds: 31_536_000 };

/** `npm run refresh` in "another terminal": PATH and HOME, plus whatever `env` holds. */
function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', 'refresh', '--', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH!, HOME: process.env.HOME!, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The variables of the `export …` line the banner prints for the CLI. */
function bannerCliEnv(): Record<string, string> {
  const config = getConfig();
  const text = renderBanner({
    apiUrl: stack.apiUrl,
    apiKey: stack.apiKey,
    emulator: { url: stack.emulator!.url, authorizeMode: stack.authorizeMode! },
    anafOauthBaseUrl: config.anafOauthBaseUrl,
    anafApiBaseUrl: config.anafApiBaseUrl,
    publicBaseUrl: config.publicBaseUrl,
    returnUrlAllowlist: config.returnUrlAllowlist,
    sweepIntervalSeconds: config.sweepIntervalSeconds,
    logRequests: false,
    cliEnv: stack.cliEnv,
  });
  const line = /^ {2}export (AWS_ENDPOINT_URL=.*)$/m.exec(text)![1]!;
  return Object.fromEntries(line.split(' ').map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
}

beforeAll(async () => {
  // MANUAL_REFRESH_COOLDOWN_SECONDS=0 npm run dev, as the README starts it for the walk-through.
  stack = await startTestStack({ MANUAL_REFRESH_COOLDOWN_SECONDS: '0' });
  await setupTenant(stack.api, TENANT, [CUI]);
  ({ tokenId: token } = await connect(stack.api, TENANT, [CUI]));
  expect(token).toMatch(/^tok_/);
});
afterAll(async () => {
  await stack?.stop();
});

describe('README: seeing each refresh path locally', () => {
  it('manual: the HTTP route and the CLI with the env line npm run dev prints both reach ANAF (no cool-down)', async () => {
    const before = refreshCalls();
    expect((await manual()).status).toBe(200);
    const env = bannerCliEnv();
    expect(env).toMatchObject({ AWS_ENDPOINT_URL: stack.moto.endpoint, ANAF_OAUTH_BASE_URL: stack.emulator!.oauthBaseUrl, MANUAL_REFRESH_COOLDOWN_SECONDS: '0' });
    const run = await cli(['--tenant', TENANT, '--cui', CUI], env);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ tokenId: token, status: 'active' });
    expect(run.stderr).not.toMatch(/NodeVersionSupportWarning|node >=22/);
    expect(refreshCalls()).toBe(before + 2);
  }, 30_000);

  it('npm run refresh without the env line: exit 2, "paste the line npm run dev prints", no stack trace', async () => {
    const run = await cli(['--tenant', TENANT, '--cui', CUI], {});
    expect(run.code).toBe(2);
    expect(run.stdout).toContain('paste the line npm run dev prints');
    expect(run.stdout + run.stderr).not.toMatch(/ConfigError|\n\s+at |NodeVersionSupportWarning/);
  }, 30_000);

  it('sweep: a 10-day access token is inside the 30-day margin; with the lifetimes undone the new one is not due', async () => {
    await emu('token-lifetimes', { accessSeconds: 864_000 });
    expect((await manual()).status).toBe(200);
    await emu('token-lifetimes', ANAF_LIFETIMES);
    expect(await stack.runSweep()).toMatchObject({ due: 1, refreshed: 1 });
    const after = await tokenView();
    expect(Date.parse(after.accessExpiresAt) - Date.now()).toBeGreaterThan(80 * 86_400_000);
    expect(await stack.runSweep()).toMatchObject({ due: 0, refreshed: 0 });
  });

  it('on demand: with 4-second access tokens, 3 s later the access-token route refreshes first (less than half the lifetime left)', async () => {
    await emu('token-lifetimes', { accessSeconds: 4 });
    expect((await manual()).status).toBe(200);
    const short = await tokenView();
    // A 90-day token is never below min(ACCESS_TOKEN_MIN_VALIDITY_SECONDS, half its lifetime): fresh enough.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const before = refreshCalls();
    const answer = await stack.api.get(`/v1/tenants/${TENANT}/companies/${CUI}/access-token`);
    expect(answer.status).toBe(200);
    expect(refreshCalls()).toBe(before + 1);
    expect(Date.parse(answer.body.expiresAt)).toBeGreaterThan(Date.parse(short.accessExpiresAt));
    expect((await events())[0]).toMatchObject({ type: 'token-issued', details: { refreshed: true } });
    await emu('token-lifetimes', ANAF_LIFETIMES);
    expect((await manual()).status).toBe(200);
    const fresh = await stack.api.get(`/v1/tenants/${TENANT}/companies/${CUI}/access-token`);
    expect(fresh.status).toBe(200);
    expect(refreshCalls(), 'a 90-day token is handed out without a refresh').toBe(before + 2);
  }, 20_000);

  it('failures: one server_error is absorbed by the in-run retry; count 3 answers 503 and the token stays active', async () => {
    await emu('fail-next', { kind: 'server_error' });
    expect((await manual()).status).toBe(200);
    await emu('fail-next', { kind: 'server_error', count: 3 });
    const failed = await manual();
    expect(failed.status).toBe(503);
    expect(failed.body.error.code).toBe('ANAF_UNAVAILABLE');
    expect(await tokenView()).toMatchObject({ status: 'active', lastError: expect.anything() });
  }, 30_000);

  it('failures: invalid_grant answers 409 REAUTH_REQUIRED; one more manual refresh tries ANAF again and brings it back', async () => {
    await emu('fail-next', { kind: 'invalid_grant' });
    const refused = await manual();
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('REAUTH_REQUIRED');
    expect((await tokenView()).status).toBe('reauth-required');
    const back = await manual();
    expect(back.status).toBe(200);
    expect((await tokenView()).status).toBe('active');
    expect((await events()).map((e) => e.type)).toEqual(expect.arrayContaining(['reauth-required', 'refresh-failed']));
  }, 30_000);

  it('refresh-token warnings: a refresh token of 2,000,000 s (23 days) gets an expiring event with the real days left', async () => {
    await emu('token-lifetimes', { refreshSeconds: 2_000_000 });
    expect((await manual()).status).toBe(200);
    const ending = await tokenView();
    expect((await stack.runSweep()).warned).toBe(1);
    const warning = (await events()).find((e) => e.type === 'expiring')!;
    expect(warning.details).toMatchObject({ reason: 'REFRESH_TOKEN_ENDING', thresholdDays: 30, daysLeft: 23, refreshExpiresAt: ending.refreshExpiresAt });
    // Undo: ANAF's lifetimes again, and a refresh that takes them.
    await emu('token-lifetimes', ANAF_LIFETIMES);
    expect((await manual()).status).toBe(200);
    expect(Date.parse((await tokenView()).refreshExpiresAt) - Date.now()).toBeGreaterThan(360 * 86_400_000);
  });
});
