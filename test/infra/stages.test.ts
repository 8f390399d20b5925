import { describe, expect, it } from 'vitest';
import { FUNCTION_PROFILES, REFRESHING_TIMEOUT_SECONDS } from '../../infra/function-profiles.js';
import { JOIN_WAIT_MS, refreshWorstCaseMs } from '../../shared/services/refresh.js';
import { PERMISSIONS } from '../../infra/permissions.js';
import { functionEnvironment } from '../../infra/service-stack.js';
import { MAX_ANAF_TIMEOUT_MS, resolveStageConfig, StageConfigError } from '../../infra/stages.js';
import { ENV } from '../../shared/config/env-names.js';
import { FUNCTION_NAMES } from '../../shared/http/routes.js';

const resolve = (context: Record<string, unknown>) => resolveStageConfig((key) => context[key]);

describe('stage configuration', () => {
  it('defaults to dev against ANAF test, destroying data, sweeping daily at 03:00 UTC', () => {
    expect(resolve({})).toMatchObject({
      stage: 'dev',
      anafEnvironment: 'test',
      anafApiBaseUrl: 'https://api.anaf.ro/test/FCTEL/rest',
      anafOauthBaseUrl: 'https://logincert.anaf.ro/anaf-oauth2/v1',
      sweepSchedule: 'cron(0 3 * * ? *)',
      retainData: false,
      secretPrefix: 'anaf-broker/dev/',
    });
  });

  it('prod talks to ANAF prod and retains data', () => {
    expect(resolve({ stage: 'prod' })).toMatchObject({
      anafApiBaseUrl: 'https://api.anaf.ro/prod/FCTEL/rest',
      anafOauthBaseUrl: 'https://logincert.anaf.ro/anaf-oauth2/v1',
      retainData: true,
      secretPrefix: 'anaf-broker/prod/',
    });
  });

  it('takes overrides from context strings (numbers coerced, lists comma-separated, trailing slash trimmed)', () => {
    const config = resolve({
      stage: 'prod',
      anafEnvironment: 'test',
      returnUrlOrigins: 'https://app.example.com, https://admin.example.com',
      publicBaseUrl: 'https://anaf.example.com/',
      refreshMarginDays: '21',
      sweepSchedule: 'rate(12 hours)',
    });
    expect(config).toMatchObject({
      anafApiBaseUrl: 'https://api.anaf.ro/test/FCTEL/rest',
      returnUrlOrigins: ['https://app.example.com', 'https://admin.example.com'],
      publicBaseUrl: 'https://anaf.example.com',
      refreshMarginDays: 21,
      sweepSchedule: 'rate(12 hours)',
    });
  });

  it('passes ANAF_ROTATION_CAP to the functions, empty (read as unset: no cap assumed) unless a cap is set', () => {
    const resources = { tableName: 't', eventBusName: 'b', secretsKmsKeyId: 'k', invoiceBucketName: 'i', publicBaseUrl: 'https://x.example.com', returnUrlAllowlist: '' };
    expect(resolve({}).anafRotationCap).toBeUndefined();
    expect(functionEnvironment(resolve({}), resources)).toMatchObject({ [ENV.anafRotationCap]: '' });
    expect(functionEnvironment(resolve({ anafRotationCap: '64' }), resources)).toMatchObject({ [ENV.anafRotationCap]: '64' });
    expect(() => resolve({ anafRotationCap: '0' })).toThrow(/anafRotationCap: must be an integer from 1 to 100000/);
  });

  it('throttles browser routes tighter than service routes and reserves no concurrency unless switched on', () => {
    expect(resolve({ stage: 'prod' })).toMatchObject({
      serviceThrottleRate: 100,
      serviceThrottleBurst: 200,
      publicThrottleRate: 10,
      publicThrottleBurst: 20,
      reservedConcurrency: false,
    });
    expect(resolve({})).toMatchObject({ serviceThrottleRate: 20, serviceThrottleBurst: 40, publicThrottleRate: 5, publicThrottleBurst: 10 });
    expect(
      resolve({
        stage: 'prod',
        serviceThrottleRate: '300',
        serviceThrottleBurst: '600',
        publicThrottleRate: '2',
        publicThrottleBurst: '4',
        reservedConcurrency: 'true',
        accessTokenReservedConcurrency: '30',
        sweepReservedConcurrency: '1',
      }),
    ).toMatchObject({
      serviceThrottleRate: 300,
      serviceThrottleBurst: 600,
      publicThrottleRate: 2,
      publicThrottleBurst: 4,
      reservedConcurrency: true,
      accessTokenReservedConcurrency: 30,
      sweepReservedConcurrency: 1,
    });
    // cdk.json's context block holds real booleans
    expect(resolve({ reservedConcurrency: true }).reservedConcurrency).toBe(true);
    expect(resolve({ reservedConcurrency: 'false' }).reservedConcurrency).toBe(false);
  });

  it('rejects bad throttle and concurrency values, naming each', () => {
    const bad = { publicThrottleRate: '0', serviceThrottleBurst: 'lots', reservedConcurrency: 'yes', sweepReservedConcurrency: '0' };
    expect(() => resolve(bad)).toThrowError(StageConfigError);
    let message = '';
    try {
      resolve(bad);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('publicThrottleRate: must be an integer from 1 to 10000');
    expect(message).toContain('serviceThrottleBurst: must be an integer from 1 to 5000');
    expect(message).toContain('reservedConcurrency: must be true or false');
    expect(message).toContain('sweepReservedConcurrency: must be an integer from 1 to 1000');
  });

  it('takes the secrets key’s break-glass and key-admin roles as role ARNs only', () => {
    const role = 'arn:aws:iam::111122223333:role/security/break-glass';
    expect(resolve({ breakGlassRoleArn: role, keyAdminRoleArn: role })).toMatchObject({ breakGlassRoleArn: role, keyAdminRoleArn: role });
    expect(resolve({}).breakGlassRoleArn).toBeUndefined();
    expect(() => resolve({ breakGlassRoleArn: 'arn:aws:iam::111122223333:user/alice' })).toThrowError('breakGlassRoleArn: must be an IAM role ARN');
  });

  it('rejects an unknown stage with one clear message', () => {
    expect(() => resolve({ stage: 'qa' })).toThrowError(StageConfigError);
    expect(() => resolve({ stage: 'qa' })).toThrowError(
      'Invalid stage configuration: stage must be one of dev, prod (got "qa"); pass -c stage=dev or -c stage=prod',
    );
  });

  it('names every bad value in one message', () => {
    let message = '';
    try {
      resolve({
        stage: 'prod',
        anafEnvironment: 'uat',
        returnUrlOrigins: 'https://app.example.com/path',
        sweepSchedule: 'daily',
        anafTimeoutMs: String(MAX_ANAF_TIMEOUT_MS + 1),
        alarmEmail: 'nobody',
      });
    } catch (error) {
      expect(error).toBeInstanceOf(StageConfigError);
      message = (error as Error).message;
    }
    expect(message).toMatch(/^Invalid stage configuration for "prod": /);
    for (const key of ['anafEnvironment', 'returnUrlOrigins.0', 'sweepSchedule', 'anafTimeoutMs', 'alarmEmail']) {
      expect(message).toContain(`${key}: `);
    }
  });
});

describe('function maps', () => {
  it('give every entry point permissions and a profile, and name no other', () => {
    expect(Object.keys(PERMISSIONS).sort()).toEqual([...FUNCTION_NAMES].sort());
    expect(Object.keys(FUNCTION_PROFILES).sort()).toEqual([...FUNCTION_NAMES].sort());
  });

  it("give every function that can refresh more time than a refresh's worst case plus the join wait, at the largest ANAF timeout", () => {
    const needed = refreshWorstCaseMs({ anafTimeoutMs: MAX_ANAF_TIMEOUT_MS }) + JOIN_WAIT_MS;
    expect(REFRESHING_TIMEOUT_SECONDS * 1000).toBeGreaterThan(needed);
    for (const name of ['token-refresh', 'access-token-get', 'manual-refresh']) {
      expect(FUNCTION_PROFILES[name]!.timeoutSeconds, name).toBe(REFRESHING_TIMEOUT_SECONDS);
    }
  });
});
