import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../../shared/config/config.js';

const base = { TABLE_NAME: 'table', SECRET_PREFIX: 'anaf-broker/test/' };

describe('parseConfig', () => {
  it('applies the documented defaults', () => {
    const c = parseConfig(base);
    expect(c).toMatchObject({
      port: 3000,
      publicBaseUrl: 'http://localhost:3000',
      callbackUrl: 'http://localhost:3000/v1/oauth/callback',
      anafOauthBaseUrl: 'https://logincert.anaf.ro/anaf-oauth2/v1',
      anafApiBaseUrl: 'https://api.anaf.ro/prod/FCTEL/rest',
      returnUrlAllowlist: ['http://localhost:3000'],
      refreshMarginDays: 30,
      accessTokenMinValiditySeconds: 3600,
      sweepConcurrency: 4,
      sweepIntervalSeconds: 60,
      anafTimeoutMs: 10_000,
      // Secrets Manager advises at most one PutSecretValue per secret every 10 minutes.
      manualRefreshCooldownSeconds: 600,
      maxRotationsPerDay: 24,
      // unset: no rotation cap assumed
      anafRotationCap: null,
      anafLimits: {
        callsPerMinute: 1000,
        statusPerMessagePerDay: 100,
        downloadsPerMessagePerDay: 10,
        listsPerCuiPerDay: 1500,
        pagedListsPerCuiPerDay: 100_000,
        raspPerCuiPerDay: 1000,
      },
    });
  });

  it('reads ANAF_ROTATION_CAP when set', () => {
    expect(parseConfig({ ...base, ANAF_ROTATION_CAP: '64' }).anafRotationCap).toBe(64);
    // what infra passes when no cap is set
    expect(parseConfig({ ...base, ANAF_ROTATION_CAP: '' }).anafRotationCap).toBeNull();
  });

  it('derives the callback and the default allow-list from PUBLIC_BASE_URL', () => {
    const c = parseConfig({ ...base, PUBLIC_BASE_URL: 'https://broker.example.com/' });
    expect(c.callbackUrl).toBe('https://broker.example.com/v1/oauth/callback');
    expect(c.returnUrlAllowlist).toEqual(['https://broker.example.com']);
  });

  it('names every bad variable in one message', () => {
    expect(() => parseConfig({ PORT: 'abc', ANAF_OAUTH_BASE_URL: 'ftp://x', REFRESH_MARGIN_DAYS: '0' })).toThrow(ConfigError);
    try {
      parseConfig({ PORT: 'abc', ANAF_OAUTH_BASE_URL: 'ftp://x', REFRESH_MARGIN_DAYS: '0' });
    } catch (error) {
      const message = (error as Error).message;
      for (const name of ['PORT', 'ANAF_OAUTH_BASE_URL', 'REFRESH_MARGIN_DAYS', 'TABLE_NAME', 'SECRET_PREFIX']) expect(message).toContain(name);
    }
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT: must be a port number from 0 to 65535 (0 = any free port) (got "abc")'],
    [{ PORT: '70000' }, 'PORT: must be a port number from 0 to 65535 (0 = any free port) (got "70000")'],
    [{ PORT: '-1' }, 'PORT: must be a port number from 0 to 65535 (0 = any free port) (got "-1")'],
    [{ LOCAL_API_KEY: 'short-key' }, 'LOCAL_API_KEY: must be at least 16 characters long (got 9 characters)'],
    [{ REFRESH_MARGIN_DAYS: '0' }, 'REFRESH_MARGIN_DAYS: must be an integer of at least 1 (got "0")'],
    [{ SWEEP_INTERVAL_SECONDS: '1.5' }, 'SWEEP_INTERVAL_SECONDS: must be an integer of at least 1 (got "1.5")'],
    [{ ANAF_OAUTH_BASE_URL: 'ftp://x' }, 'ANAF_OAUTH_BASE_URL: must be an http(s) URL (got "ftp://x")'],
    [{ TABLE_NAME: undefined }, 'TABLE_NAME: is required'],
    [{ ANAF_ROTATION_CAP: '0' }, 'ANAF_ROTATION_CAP: must be an integer of at least 1 (got "0")'],
    [{ ANAF_ROTATION_CAP: 'sixty-four' }, 'ANAF_ROTATION_CAP: must be an integer of at least 1 (got "sixty-four")'],
    [{ ANAF_LIMIT_CALLS_PER_MINUTE: '0' }, 'ANAF_LIMIT_CALLS_PER_MINUTE: must be an integer of at least 1 (got "0")'],
    [{ ANAF_LIMIT_STATUS_PER_MESSAGE_PER_DAY: '-5' }, 'ANAF_LIMIT_STATUS_PER_MESSAGE_PER_DAY: must be an integer of at least 1 (got "-5")'],
    [{ ANAF_LIMIT_DOWNLOADS_PER_MESSAGE_PER_DAY: '2.5' }, 'ANAF_LIMIT_DOWNLOADS_PER_MESSAGE_PER_DAY: must be an integer of at least 1 (got "2.5")'],
    [{ ANAF_LIMIT_LISTS_PER_CUI_PER_DAY: 'many' }, 'ANAF_LIMIT_LISTS_PER_CUI_PER_DAY: must be an integer of at least 1 (got "many")'],
    [{ ANAF_LIMIT_PAGED_LISTS_PER_CUI_PER_DAY: '1e' }, 'ANAF_LIMIT_PAGED_LISTS_PER_CUI_PER_DAY: must be an integer of at least 1 (got "1e")'],
    [{ ANAF_LIMIT_RASP_PER_CUI_PER_DAY: '0' }, 'ANAF_LIMIT_RASP_PER_CUI_PER_DAY: must be an integer of at least 1 (got "0")'],
  ])('says what is wrong with each variable, on one line: %j', (override, problem) => {
    try {
      parseConfig({ ...base, ...override });
      expect.unreachable('parseConfig accepted it');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toEqual([problem]);
      expect((error as Error).message).toBe(`Invalid configuration: ${problem}`);
    }
  });

  it('never shows the API key, even when it is refused', () => {
    const key = 'sekrit-but-short';
    expect(() => parseConfig({ ...base, LOCAL_API_KEY: key.slice(0, 10) })).toThrow(/LOCAL_API_KEY/);
    try {
      parseConfig({ ...base, LOCAL_API_KEY: key.slice(0, 10) });
    } catch (error) {
      expect((error as Error).message).not.toContain(key.slice(0, 10));
    }
    expect(parseConfig({ ...base, LOCAL_API_KEY: 'x'.repeat(16) }).localApiKey).toBe('x'.repeat(16));
  });

  it('names several problems in one message, one line', () => {
    try {
      parseConfig({ ...base, PORT: 'abc', LOCAL_API_KEY: 'short' });
      expect.unreachable('parseConfig accepted it');
    } catch (error) {
      expect((error as ConfigError).problems.map((p) => p.split(':')[0])).toEqual(['PORT', 'LOCAL_API_KEY']);
      expect((error as Error).message).not.toContain('\n');
    }
  });

  it('reads each ANAF_LIMIT_* variable into its limit', () => {
    const c = parseConfig({
      ...base,
      ANAF_LIMIT_CALLS_PER_MINUTE: '900',
      ANAF_LIMIT_STATUS_PER_MESSAGE_PER_DAY: '20',
      ANAF_LIMIT_DOWNLOADS_PER_MESSAGE_PER_DAY: '5',
      ANAF_LIMIT_LISTS_PER_CUI_PER_DAY: '1400',
      ANAF_LIMIT_PAGED_LISTS_PER_CUI_PER_DAY: '90000',
      ANAF_LIMIT_RASP_PER_CUI_PER_DAY: '800',
    });
    expect(c.anafLimits).toEqual({
      callsPerMinute: 900,
      statusPerMessagePerDay: 20,
      downloadsPerMessagePerDay: 5,
      listsPerCuiPerDay: 1400,
      pagedListsPerCuiPerDay: 90_000,
      raspPerCuiPerDay: 800,
    });
  });

  it('rejects allow-list entries that are not origins', () => {
    expect(() => parseConfig({ ...base, RETURN_URL_ALLOWLIST: 'https://a.example.com/path' })).toThrow(/RETURN_URL_ALLOWLIST/);
    expect(parseConfig({ ...base, RETURN_URL_ALLOWLIST: 'https://a.example.com, https://b.example.com' }).returnUrlAllowlist).toEqual([
      'https://a.example.com',
      'https://b.example.com',
    ]);
  });
});
