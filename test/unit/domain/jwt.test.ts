import { describe, expect, it } from 'vitest';
import { expToIso, readTokenClaims } from '../../../shared/domain/jwt.js';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const jwt = (payload: unknown) => `${b64({ alg: 'RS512', kid: 'test' })}.${b64(payload)}.c2lnbmF0dXJl`;

describe('readTokenClaims', () => {
  it('reads exp, serial, clientappid and sub without verifying the signature', () => {
    expect(readTokenClaims(jwt({ exp: 1714651254, serial: '3a:00:12', clientappid: 'fake-client', sub: '3a0012' }))).toEqual({
      exp: 1714651254,
      serial: '3a:00:12',
      clientAppId: 'fake-client',
      subject: '3a0012',
    });
  });

  it('tolerates missing optional claims', () => {
    expect(readTokenClaims(jwt({ exp: 1 }))).toEqual({ exp: 1, serial: null, clientAppId: null, subject: null });
  });

  it.each([
    ['not a jwt', 'opaque-token'],
    ['two parts', 'a.b'],
    ['payload not JSON', `${b64({})}.bm90IGpzb24.sig`],
    ['no exp', jwt({ serial: 'x' })],
    ['exp not a number', jwt({ exp: '1714651254' })],
    ['payload is an array', jwt([1, 2])],
    ['illegal characters', 'a.b c.d'],
    ['too long', `${'a'.repeat(20_000)}.b.c`],
  ])('returns null for %s', (_, value) => {
    expect(readTokenClaims(value)).toBeNull();
  });

  it('converts exp seconds to ISO', () => {
    expect(expToIso(0)).toBe('1970-01-01T00:00:00.000Z');
  });
});
