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
    });
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

  it('rejects allow-list entries that are not origins', () => {
    expect(() => parseConfig({ ...base, RETURN_URL_ALLOWLIST: 'https://a.example.com/path' })).toThrow(/RETURN_URL_ALLOWLIST/);
    expect(parseConfig({ ...base, RETURN_URL_ALLOWLIST: 'https://a.example.com, https://b.example.com' }).returnUrlAllowlist).toEqual([
      'https://a.example.com',
      'https://b.example.com',
    ]);
  });
});
