import { describe, expect, it } from 'vitest';
import { readPairFacts } from '../../../shared/domain/pair-facts.js';

const now = new Date('2026-12-01T10:00:00.000Z');
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const jwt = (claims: Record<string, unknown>) => `${b64({ alg: 'RS512' })}.${b64(claims)}.sig`;
const exp = (iso: string) => Date.parse(iso) / 1000;
const OPAQUE = 'a'.repeat(64);

describe('readPairFacts: a 2xx answer is a rotation whatever its shape', () => {
  it.each([
    {
      name: 'two JWTs: exp wins over expires_in',
      accessToken: jwt({ exp: exp('2027-03-01T10:00:00.000Z'), serial: 's1', clientappid: 'c1' }),
      refreshToken: jwt({ exp: exp('2027-12-01T10:00:00.000Z'), serial: 's1' }),
      expiresInSeconds: 60,
      want: { accessExpiresAt: '2027-03-01T10:00:00.000Z', accessExpiryEstimated: false, refreshExpiresAt: '2027-12-01T10:00:00.000Z', refreshExpiryEstimated: false, serial: 's1', clientAppId: 'c1' },
    },
    {
      name: 'opaque tokens with expires_in: access from expires_in, refresh 365 days, both estimated',
      accessToken: OPAQUE,
      refreshToken: OPAQUE.replaceAll('a', 'b'),
      expiresInSeconds: 3600,
      want: { accessExpiresAt: '2026-12-01T11:00:00.000Z', accessExpiryEstimated: true, refreshExpiresAt: '2027-12-01T10:00:00.000Z', refreshExpiryEstimated: true, serial: null },
    },
    {
      name: 'opaque access token without expires_in: ANAF documented 90 days, estimated',
      accessToken: OPAQUE,
      refreshToken: jwt({ exp: exp('2027-12-01T10:00:00.000Z'), serial: 's2' }),
      want: { accessExpiresAt: '2027-03-01T10:00:00.000Z', accessExpiryEstimated: true, refreshExpiryEstimated: false, serial: 's2' },
    },
    {
      name: 'a nonsense expires_in is ignored',
      accessToken: OPAQUE,
      refreshToken: OPAQUE,
      expiresInSeconds: -5,
      want: { accessExpiresAt: '2027-03-01T10:00:00.000Z', accessExpiryEstimated: true },
    },
    {
      name: 'JWT without exp counts as opaque',
      accessToken: jwt({ serial: 's3' }),
      refreshToken: OPAQUE,
      expiresInSeconds: 7200,
      want: { accessExpiresAt: '2026-12-01T12:00:00.000Z', accessExpiryEstimated: true, serial: null },
    },
    {
      name: 'no refresh token in the answer: the stored one and its end are kept',
      accessToken: jwt({ exp: exp('2027-03-01T10:00:00.000Z'), serial: 's1' }),
      refreshToken: 'stored-refresh',
      kept: { refreshExpiresAt: '2027-06-01T00:00:00.000Z', refreshExpiryEstimated: true },
      want: { refreshExpiresAt: '2027-06-01T00:00:00.000Z', refreshExpiryEstimated: true, accessExpiryEstimated: false },
    },
  ])('$name', ({ accessToken, refreshToken, expiresInSeconds, kept, want }) => {
    expect(readPairFacts({ accessToken, refreshToken, now, expiresInSeconds, kept })).toMatchObject(want);
  });
});
