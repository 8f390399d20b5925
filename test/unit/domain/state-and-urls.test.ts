import { describe, expect, it } from 'vitest';
import { hashSessionId, hashState, isWellFormedSessionId, openSessionId, sealSessionId, isWellFormedState, newSessionId, newState, newTokenId, TOKEN_ID_SHAPE } from '../../../shared/domain/state.js';
import {
  buildAnafAuthorizeUrl,
  buildConnectUrl,
  isAcceptableRedirectUri,
  isAllowedReturnUrl,
  withResultParams,
} from '../../../shared/domain/urls.js';

describe('state', () => {
  it('is 256 random bits, base64url, unique, and stored only as a hash', () => {
    const states = new Set(Array.from({ length: 1000 }, newState));
    expect(states.size).toBe(1000);
    for (const s of [...states].slice(0, 20)) {
      expect(isWellFormedState(s)).toBe(true);
      expect(hashState(s)).not.toContain(s);
      expect(hashState(s)).toBe(hashState(s));
    }
  });

  it.each(['', 'short', `${'a'.repeat(42)}=`, `${'a'.repeat(44)}`, `${'a'.repeat(42)}/`])('rejects malformed state %j', (s) => {
    expect(isWellFormedState(s)).toBe(false);
  });

  it('session and token ids have their own shapes', () => {
    expect(isWellFormedSessionId(newSessionId())).toBe(true);
    expect(isWellFormedSessionId('cs_short')).toBe(false);
    expect(TOKEN_ID_SHAPE.test(newTokenId())).toBe(true);
  });

  it('a session id is stored as its hash; sealed with a state, only that state opens it', () => {
    const id = newSessionId();
    const state = newState();
    expect(hashSessionId(id)).not.toContain(id.slice(3));
    const sealed = sealSessionId(state, id);
    expect(sealed).not.toContain(id.slice(3));
    expect(sealSessionId(state, id)).not.toBe(sealed);
    expect(openSessionId(state, sealed)).toBe(id);
    const flipped = `${sealed.slice(0, -2)}${sealed.at(-2) === 'A' ? 'B' : 'A'}${sealed.at(-1)}`;
    const cases: Array<[string, string, string]> = [
      ['another state', newState(), sealed],
      ['a tampered seal', state, flipped],
      ['a truncated seal', state, sealed.slice(0, 20)],
      ['an empty seal', state, ''],
    ];
    for (const [what, withState, value] of cases) expect(openSessionId(withState, value), what).toBeNull();
  });
});

describe('ANAF authorize URL', () => {
  it('carries exactly response_type, client_id, redirect_uri, token_content_type and state', () => {
    const url = new URL(
      buildAnafAuthorizeUrl({
        oauthBaseUrl: 'https://logincert.anaf.ro/anaf-oauth2/v1',
        clientId: 'fake-client',
        redirectUri: 'https://erp.example.com/v1/oauth/callback',
        state: 'abc',
      }),
    );
    expect(url.origin + url.pathname).toBe('https://logincert.anaf.ro/anaf-oauth2/v1/authorize');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: 'code',
      client_id: 'fake-client',
      redirect_uri: 'https://erp.example.com/v1/oauth/callback',
      token_content_type: 'jwt',
      state: 'abc',
    });
  });

  it('builds the connect URL on the public base', () => {
    expect(buildConnectUrl('https://api.example.com', 'cs_x')).toBe('https://api.example.com/v1/oauth/authorize?session=cs_x');
  });
});

describe('return URLs', () => {
  const allow = ['https://erp.example.com', 'http://localhost:3000'];
  it.each([
    ['https://erp.example.com/done', true],
    ['https://erp.example.com:443/done?x=1', true],
    ['http://localhost:3000/cb', true],
    ['https://erp.example.com.evil.com/', false],
    ['https://evil.com/?https://erp.example.com', false],
    ['http://erp.example.com/done', false],
    ['javascript:alert(1)', false],
    ['/relative', false],
    ['https://user:pw@erp.example.com/', false],
    ['http://localhost:3001/cb', false],
  ])('%s allowed: %s', (url, allowed) => {
    expect(isAllowedReturnUrl(url, allow)).toBe(allowed);
  });

  it('appends result parameters and keeps the existing query', () => {
    const url = new URL(withResultParams('https://erp.example.com/cb?tenant=a', { status: 'connected', tokenId: 'tok_1' }));
    expect(Object.fromEntries(url.searchParams)).toEqual({ tenant: 'a', status: 'connected', tokenId: 'tok_1' });
  });

  it.each([
    ['https://erp.example.com/v1/oauth/callback', true],
    ['http://localhost:3000/v1/oauth/callback', true],
    ['http://127.0.0.1:3000/cb', true],
    ['http://erp.example.com/cb', false],
    ['https://erp.example.com/cb#frag', false],
    ['not a url', false],
  ])('redirect URI %s acceptable: %s', (uri, ok) => {
    expect(isAcceptableRedirectUri(uri)).toBe(ok);
  });
});
