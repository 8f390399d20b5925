import { describe, expect, it } from 'vitest';
import { cliEnvLine, renderBanner, shellWord, type BannerFacts } from '../../../local/banner.js';
import { linksHold, linksToWatch, type ProcessInfo } from '../../../local/parent-watch.js';
import { parseLocalSettings } from '../../../local/settings.js';
import { ConfigError } from '../../../shared/config/config.js';

describe('linksToWatch: up to npm, through the script shell', () => {
  const table = (rows: Record<number, ProcessInfo>) => (pid: number) => rows[pid] ?? null;
  // node (30) ← sh -c (20) ← npm (10) ← bash (5) ← sshd (1)
  const npmTree = table({ 30: { ppid: 20, comm: 'node' }, 20: { ppid: 10, comm: 'sh' }, 10: { ppid: 5, comm: 'npm run dev' }, 5: { ppid: 1, comm: 'bash' } });
  it.each([
    ['npm → sh -c → node: our parent and the shell, up to npm', npmTree, true, [{ pid: 30, parent: 20 }, { pid: 20, parent: 10 }]],
    ['npm execs node directly: only our parent (npm)', table({ 30: { ppid: 10, comm: 'node' }, 10: { ppid: 5, comm: 'npm run dev' } }), true, [{ pid: 30, parent: 10 }]],
    ['a script-shell of bash, by path', table({ 30: { ppid: 20, comm: 'node' }, 20: { ppid: 10, comm: '/bin/bash' }, 10: { ppid: 5, comm: 'npm' } }), true, [{ pid: 30, parent: 20 }, { pid: 20, parent: 10 }]],
    ['not under npm (node started from a shell): only our parent, so nohup survives the terminal', table({ 30: { ppid: 5, comm: 'node' }, 5: { ppid: 1, comm: 'bash' } }), false, [{ pid: 30, parent: 5 }]],
    ['a parent that cannot be read: only our own link', table({ 30: { ppid: 20, comm: 'node' } }), true, [{ pid: 30, parent: 20 }]],
  ])('%s', (_, read, underNpm, links) => {
    expect(linksToWatch(30, underNpm, read)).toEqual(links);
  });

  it('breaks when npm is gone (the shell is reparented) or the shell is gone', () => {
    const links = linksToWatch(30, true, npmTree);
    expect(linksHold(links, npmTree)).toBe(true);
    const npmKilled = table({ 30: { ppid: 20, comm: 'node' }, 20: { ppid: 1, comm: 'sh' } });
    expect(linksHold(links, npmKilled)).toBe(false);
    const shellGone = table({ 30: { ppid: 1, comm: 'node' }, 10: { ppid: 5, comm: 'npm run dev' } });
    expect(linksHold(links, shellGone)).toBe(false);
  });
});

describe('the banner', () => {
  const facts: BannerFacts = {
    apiUrl: 'http://127.0.0.1:3000',
    apiKey: 'k'.repeat(32),
    emulator: { url: 'http://127.0.0.1:4100', authorizeMode: 'approve' },
    anafOauthBaseUrl: 'http://127.0.0.1:4100/anaf-oauth2/v1',
    anafApiBaseUrl: 'http://127.0.0.1:4100/prod/FCTEL/rest',
    publicBaseUrl: 'http://127.0.0.1:3000',
    returnUrlAllowlist: ['http://127.0.0.1:3000'],
    sweepIntervalSeconds: 60,
    logRequests: false,
    cliEnv: { AWS_ENDPOINT_URL: 'http://127.0.0.1:5000', ANAF_OAUTH_BASE_URL: 'http://127.0.0.1:4100/anaf-oauth2/v1' },
  };

  it('prints the real authorize mode, the allowlist in the API host form, and the CLI line', () => {
    const text = renderBanner(facts);
    expect(text).toContain('ANAF emulator: http://127.0.0.1:4100 (authorize mode: approve;');
    expect(text).toContain('Return URLs allowed: http://127.0.0.1:3000 (RETURN_URL_ALLOWLIST)');
    expect(text).not.toContain('Browsers reach the API at');
    expect(text).toContain('  export AWS_ENDPOINT_URL=http://127.0.0.1:5000 ANAF_OAUTH_BASE_URL=http://127.0.0.1:4100/anaf-oauth2/v1\n');
    expect(text).toContain('Log: warnings only (LOCAL_LOG=requests or npm run dev -- --verbose');
    expect(text).toContain('State: in memory');
    expect(renderBanner({ ...facts, emulator: { ...facts.emulator!, authorizeMode: 'interactive' } })).toContain('authorize mode: interactive;');
  });

  it('with an external OAuth server: names it, and the CLI line carries ANAF_OAUTH_BASE_URL', () => {
    const text = renderBanner({
      ...facts,
      emulator: null,
      anafOauthBaseUrl: 'https://oauth.example.test/anaf-oauth2/v1',
      cliEnv: { AWS_ENDPOINT_URL: 'http://127.0.0.1:5000', ANAF_OAUTH_BASE_URL: 'https://oauth.example.test/anaf-oauth2/v1' },
    });
    expect(text).toContain('ANAF: https://oauth.example.test/anaf-oauth2/v1 (OAuth)');
    expect(text).toContain('export AWS_ENDPOINT_URL=http://127.0.0.1:5000 ANAF_OAUTH_BASE_URL=https://oauth.example.test/anaf-oauth2/v1');
  });

  it('says where browsers reach the API when PUBLIC_BASE_URL is another origin', () => {
    expect(renderBanner({ ...facts, publicBaseUrl: 'https://tunnel.example.test', returnUrlAllowlist: ['https://tunnel.example.test'] })).toContain(
      'Browsers reach the API at: https://tunnel.example.test (PUBLIC_BASE_URL)',
    );
  });

  it.each([
    ['http://127.0.0.1:5000', 'http://127.0.0.1:5000'],
    ['a b', "'a b'"],
    ["it's", "'it'\\''s'"],
  ])('shellWord(%j) = %s', (value, word) => {
    expect(shellWord(value)).toBe(word);
    expect(cliEnvLine({ X: value })).toBe(`export X=${word}`);
  });
});

describe('parseLocalSettings: every variable of npm run dev checked at once', () => {
  it('reads the local settings with their defaults', () => {
    expect(parseLocalSettings({})).toEqual({ port: 3000, apiKey: undefined, authorizeMode: 'interactive', emulatorClients: {}, logRequests: false });
    expect(parseLocalSettings({ PORT: '0', LOCAL_LOG: 'requests', ANAF_EMULATOR_AUTHORIZE_MODE: 'deny', ANAF_EMULATOR_CLIENTS: 'a:b' })).toMatchObject({
      port: 0,
      logRequests: true,
      authorizeMode: 'deny',
      emulatorClients: { a: 'b' },
    });
  });

  it('names every problem in one ConfigError, never a client secret', () => {
    try {
      parseLocalSettings({ PORT: 'x', ANAF_EMULATOR_CLIENTS: 'nocolon-secretvalue', LOCAL_LOG: 'debug', REFRESH_MARGIN_DAYS: '0' });
      expect.unreachable('accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const { problems, message } = error as ConfigError;
      expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['ANAF_EMULATOR_CLIENTS', 'LOCAL_LOG', 'PORT', 'REFRESH_MARGIN_DAYS']);
      expect(message).not.toContain('secretvalue');
    }
  });
});
