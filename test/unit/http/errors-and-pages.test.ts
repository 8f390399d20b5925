import { describe, expect, it } from 'vitest';
import { BrokerError, HTTP_STATUS, type ErrorCode } from '../../../shared/domain/errors.js';
import { renderFlowOutcome } from '../../../shared/http/pages.js';
import { errorResult, fromBrokerError } from '../../../shared/http/responses.js';

describe('error → HTTP status', () => {
  it.each([
    ['VALIDATION_ERROR', 400],
    ['INVALID_CUI', 400],
    ['INVALID_JSON', 400],
    ['INVALID_RETURN_URL', 400],
    ['TOO_MANY_CUIS', 400],
    ['PAYLOAD_TOO_LARGE', 413],
    ['UNAUTHORIZED', 401],
    ['TENANT_NOT_FOUND', 404],
    ['COMPANY_NOT_FOUND', 404],
    ['TOKEN_NOT_FOUND', 404],
    ['NOT_CONNECTED', 409],
    ['REAUTH_REQUIRED', 409],
    ['TOKEN_DISCONNECTED', 409],
    ['REFRESH_IN_PROGRESS', 409],
    ['TOKEN_EXISTS', 409],
    ['IMPORT_REFRESH_REFUSED', 400],
    ['ANAF_REJECTED', 502],
    ['ANAF_UNAVAILABLE', 503],
  ] as Array<[ErrorCode, number]>)('%s → %i (the design card fixes these)', (code, status) => {
    expect(HTTP_STATUS[code]).toBe(status);
    const result = fromBrokerError(new BrokerError(code, 'msg'));
    expect(result.statusCode).toBe(status);
    expect(JSON.parse(result.body as string)).toEqual({ error: { code, message: 'msg' } });
  });

  it('never exposes internals in a 500 body', () => {
    const result = errorResult('INTERNAL_ERROR', 'TypeError: cannot read secret of undefined at /var/task/index.js');
    expect(result.statusCode).toBe(500);
    expect(result.body).not.toContain('TypeError');
    expect(JSON.parse(result.body as string).error.code).toBe('INTERNAL_ERROR');
  });
});

describe('browser outcomes', () => {
  it('success without returnUrl is a 200 Romanian page listing the companies, English included', () => {
    const res = renderFlowOutcome({ kind: 'connected', tokenId: 'tok_1', cuis: ['14399840'], returnUrl: null });
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/<html lang="ro">/);
    expect(res.body).toContain('Conectare reușită');
    expect(res.body).toContain('lang="en"');
    expect(res.body).toContain('CUI 14399840');
    expect(res.headers?.['referrer-policy']).toBe('no-referrer');
  });

  it('success with returnUrl redirects with status=connected&tokenId', () => {
    const res = renderFlowOutcome({ kind: 'connected', tokenId: 'tok_1', cuis: [], returnUrl: 'https://erp.example.com/cb' });
    expect(res.statusCode).toBe(302);
    expect(res.headers?.location).toBe('https://erp.example.com/cb?status=connected&tokenId=tok_1');
  });

  it.each([
    ['ACCESS_DENIED', 400],
    ['ANAF_REJECTED', 502],
    ['ANAF_UNAVAILABLE', 503],
    ['SESSION_EXPIRED', 400],
    ['INVALID_STATE', 400],
    ['INVALID_SESSION', 400],
  ] as const)('%s without returnUrl is an HTML page with %i', (reason, status) => {
    const res = renderFlowOutcome({ kind: 'failed', reason, returnUrl: null });
    expect(res.statusCode).toBe(status);
    expect(res.headers?.['content-type']).toMatch(/text\/html/);
    expect(res.body).toContain(reason);
  });

  it('a failure with a returnUrl redirects with status=error&reason, but a state error never does', () => {
    const denied = renderFlowOutcome({ kind: 'failed', reason: 'ACCESS_DENIED', returnUrl: 'https://erp.example.com/cb' });
    expect(denied.headers?.location).toBe('https://erp.example.com/cb?status=error&reason=ACCESS_DENIED');
    const invalid = renderFlowOutcome({ kind: 'failed', reason: 'INVALID_STATE', returnUrl: 'https://erp.example.com/cb' });
    expect(invalid.statusCode).toBe(400);
  });
});
