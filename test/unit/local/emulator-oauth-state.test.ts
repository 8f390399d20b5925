import { describe, expect, it } from 'vitest';
import { createOAuthState } from '../../../local/anaf-emulator/oauth-state.js';

const DAY = 86_400_000;
const CERT = { serial: '3a:00:00:00:12:ab:cd', holder: 'TEST' };
const exp = (jwt: string) => (JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as { exp: number }).exp;

/** The switches `npm run simulate` drives: the refresh window, the rotation cap, renewed certificates, lost answers. */
function login(behaviour: Parameters<ReturnType<typeof createOAuthState>['setBehaviour']>[0] = {}) {
  let now = Date.parse('2027-01-01T00:00:00Z');
  const oauth = createOAuthState({ now: () => now, codeTtlSeconds: 60 });
  oauth.clients.set('c', { secret: 's', redirectUris: [] });
  oauth.setBehaviour(behaviour);
  const code = oauth.issueCode('c', 'https://x/cb', CERT);
  const first = oauth.exchangeCode('c', code, 'https://x/cb');
  if (!first.ok) throw new Error('login failed');
  return { oauth, first: first.body, advance: (ms: number) => (now += ms) };
}

describe('emulator OAuth state: the simulation switches', () => {
  it.each([
    ['rolling', 30],
    ['fixed', 0],
  ] as const)('refresh window %s: a rotation 30 days later moves the end by %i days', (refreshWindow, movedDays) => {
    const { oauth, first, advance } = login({ refreshWindow });
    advance(30 * DAY);
    const next = oauth.refresh('c', first.refresh_token!);
    expect(next.ok).toBe(true);
    if (next.ok) expect((exp(next.body.refresh_token!) - exp(first.refresh_token!)) / 86_400).toBe(movedDays);
  });

  it('a rotation cap: the grant refreshes maxRotations times, then is refused with the configured error', () => {
    const { oauth, first } = login({ maxRotations: 2, refusedRefreshError: 'invalid_request' });
    let token = first.refresh_token!;
    for (let i = 0; i < 2; i++) {
      const next = oauth.refresh('c', token);
      if (!next.ok) throw new Error(`rotation ${i + 1} refused`);
      token = next.body.refresh_token!;
    }
    expect(oauth.refreshVerdict(token)).toBe('rotation-cap');
    expect(oauth.refresh('c', token)).toMatchObject({ ok: false, body: { error: 'invalid_request' } });
  });

  it('a renewed certificate: its grants stop refreshing; the verdict spends nothing', () => {
    const { oauth, first } = login();
    expect(oauth.refreshVerdict(first.refresh_token!)).toBe('live');
    oauth.revokeCertificate(CERT.serial);
    expect(oauth.refreshVerdict(first.refresh_token!)).toBe('revoked');
    expect(oauth.refresh('c', first.refresh_token!)).toMatchObject({ ok: false, body: { error: 'invalid_grant' } });
  });

  it('an answer lost in flight: the old token is then spent, and the verdict says why', () => {
    const { oauth, first } = login();
    const next = oauth.refresh('c', first.refresh_token!);
    if (!next.ok) throw new Error('refused');
    expect(oauth.refreshVerdict(first.refresh_token!)).toBe('spent');
    oauth.noteAnswerLost(next.body.refresh_token!);
    expect(oauth.refreshVerdict(first.refresh_token!)).toBe('answer-lost');
    expect(oauth.refreshVerdict('nonsense')).toBe('unknown');
  });
});
