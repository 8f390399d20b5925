import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EMULATOR_DEFAULT_CLIENT, startAnafEmulator, type AnafEmulator } from '../../local/anaf-emulator/server.js';

/** The emulator's switches `npm run simulate` uses, over its admin API (HTTP). */
let emulator: AnafEmulator;
beforeAll(async () => {
  emulator = await startAnafEmulator();
});
afterAll(async () => {
  await emulator.close();
});
beforeEach(() => emulator.control.reset());

const admin = (action: string, body: unknown) =>
  fetch(`${emulator.url}/__emulator/${action}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const basic = `Basic ${Buffer.from(`${EMULATOR_DEFAULT_CLIENT.clientId}:${EMULATOR_DEFAULT_CLIENT.clientSecret}`).toString('base64')}`;
const token = (form: Record<string, string>) =>
  fetch(`${emulator.oauthBaseUrl}/token`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) });
const exp = (jwt: string) => (JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as { exp: number }).exp;

async function loginAs(serial: string): Promise<{ access_token: string; refresh_token: string }> {
  expect((await admin('certificate', { serial, holder: `Holder ${serial}` })).status).toBe(200);
  return login();
}

async function login(): Promise<{ access_token: string; refresh_token: string }> {
  const query = new URLSearchParams({ response_type: 'code', client_id: EMULATOR_DEFAULT_CLIENT.clientId, redirect_uri: 'https://x.example/cb', token_content_type: 'jwt' });
  const authorize = await fetch(`${emulator.oauthBaseUrl}/authorize?${query}`, { redirect: 'manual' });
  const code = new URL(authorize.headers.get('location')!).searchParams.get('code')!;
  return (await token({ grant_type: 'authorization_code', code, redirect_uri: 'https://x.example/cb' })).json() as Promise<{ access_token: string; refresh_token: string }>;
}

describe('emulator switches for the simulation (admin API)', () => {
  it('clock: {nowMs} sets it, {advanceMs} moves it; issued tokens and the state follow it', async () => {
    const start = Date.parse('2027-06-01T00:00:00Z');
    expect((await admin('clock', { nowMs: start })).status).toBe(200);
    const moved = (await (await admin('clock', { advanceMs: 86_400_000 })).json()) as { clock: string };
    expect(Math.abs(Date.parse(moved.clock) - (start + 86_400_000))).toBeLessThan(5_000);
    const pair = await login();
    expect(Math.abs(exp(pair.access_token) * 1000 - (start + 86_400_000 + 90 * 86_400_000))).toBeLessThan(5_000);
    expect((await admin('clock', { nowMs: 'soon' })).status).toBe(400);
  });

  it('token-outage: every token call fails while set; {kind: null} ends it', async () => {
    const pair = await login();
    expect((await admin('token-outage', { kind: 'unavailable' })).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await token({ grant_type: 'refresh_token', refresh_token: pair.refresh_token })).status).toBe(503);
    await admin('token-outage', { kind: null });
    expect((await token({ grant_type: 'refresh_token', refresh_token: pair.refresh_token })).status).toBe(200);
    expect((await admin('token-outage', { kind: 'sometimes' })).status).toBe(400);
  });

  it("fail-next with a serial: the failure waits for that certificate's refresh, whatever comes first", async () => {
    const a = await loginAs('3a:00:00:00:00:00:0a');
    const b = await loginAs('3a:00:00:00:00:00:0b');
    expect((await admin('fail-next', { kind: 'drop', serial: '3a:00:00:00:00:00:0b' })).status).toBe(200);
    // A's refresh arrives first and is answered; the drop is B's.
    const first = await token({ grant_type: 'refresh_token', refresh_token: a.refresh_token });
    expect(first.status).toBe(200);
    await expect(token({ grant_type: 'refresh_token', refresh_token: b.refresh_token })).rejects.toThrow();
    expect(emulator.control.refreshVerdict(b.refresh_token)).toBe('answer-lost');
    expect(emulator.control.refreshVerdict(((await first.json()) as { refresh_token: string }).refresh_token)).toBe('live');
    const state = (await (await fetch(`${emulator.url}/__emulator/state`)).json()) as { pendingFailures: string[]; pendingFailuresBySerial: object };
    expect(state).toMatchObject({ pendingFailures: [], pendingFailuresBySerial: {} });

    // Queued for a certificate, it goes before the general queue; clearFailures drops both.
    const c = await loginAs('3a:00:00:00:00:00:0c');
    emulator.control.failNext('unavailable', 1);
    emulator.control.failNext('invalid_client', 1, { serial: '3a:00:00:00:00:00:0c' });
    expect(((await (await token({ grant_type: 'refresh_token', refresh_token: c.refresh_token })).json()) as { error: string }).error).toBe('invalid_client');
    expect((await token({ grant_type: 'refresh_token', refresh_token: c.refresh_token })).status).toBe(503);
    emulator.control.failNext('drop', 2, { serial: '3a:00:00:00:00:00:0c' });
    emulator.control.clearFailures();
    expect((await token({ grant_type: 'refresh_token', refresh_token: c.refresh_token })).status).toBe(200);

    expect((await admin('fail-next', { kind: 'drop', serial: 'not-a-serial' })).status).toBe(400);
    expect((await admin('fail-next', { kind: 'server_error', target: 'upload', serial: '3a:00:00:00:00:00:0c' })).status).toBe(400);
  });

  it('revoke-certificate: the holder’s grants are refused with the configured error (a renewed certificate)', async () => {
    const pair = await login();
    const state = (await (await fetch(`${emulator.url}/__emulator/state`)).json()) as { certificate: { serial: string } };
    const serial = state.certificate.serial;
    await admin('token-behaviour', { refusedRefreshError: 'invalid_request', refreshWindow: 'fixed', maxRotations: 64 });
    expect((await admin('revoke-certificate', { serial })).status).toBe(200);
    const refused = await token({ grant_type: 'refresh_token', refresh_token: pair.refresh_token });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: string }).error).toBe('invalid_request');
    expect((await admin('token-behaviour', { refreshWindow: 'sliding' })).status).toBe(400);
    expect((await admin('token-behaviour', { maxRotations: -1 })).status).toBe(400);
  });
});
