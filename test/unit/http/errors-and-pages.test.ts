import { describe, expect, it } from 'vitest';
import { BrokerError, HTTP_STATUS, type ErrorCode } from '../../../shared/domain/errors.js';
import { formatTime, renderFlowOutcome, romanianCount } from '../../../shared/http/pages.js';
import type { FlowContext, FlowFailure, FlowOutcome } from '../../../shared/services/authorization.js';
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
    ['SESSION_NOT_FOUND', 404],
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

const ONE: FlowContext = { requester: 'Contabilitate Plus', companies: [{ cui: '14399840', name: 'Exemplu Distribuție SRL' }], expiresAt: '2025-03-12T12:05:00.000Z' };
const TWO: FlowContext = {
  requester: 'Contabilitate Plus',
  companies: [
    { cui: '14399840', name: 'Exemplu Distribuție SRL' },
    { cui: '18547290', name: null },
  ],
  expiresAt: '2025-03-12T12:05:00.000Z',
};
const NAMELESS: FlowContext = { requester: null, companies: [{ cui: '14399840', name: null }], expiresAt: '2025-03-12T12:05:00.000Z' };
const RETRY = 'http://localhost:3000/v1/oauth/authorize?session=cs_abc';
const FAILURES: FlowFailure[] = ['ACCESS_DENIED', 'ANAF_REJECTED', 'ANAF_UNAVAILABLE', 'SESSION_EXPIRED', 'INVALID_STATE', 'INVALID_SESSION'];

/** Every page the flow can show (no redirects): each kind, one and many companies, with and without a display name. */
const PAGES: Array<[string, FlowOutcome]> = [
  ...[ONE, TWO, NAMELESS, { ...ONE, companies: [] }].map((context, i): [string, FlowOutcome] => [`connected #${i}`, { kind: 'connected', tokenId: 'tok_1', returnUrl: null, context }]),
  ...(['callback', 'link'] as const).flatMap((via) =>
    [ONE, TWO, NAMELESS].map((context, i): [string, FlowOutcome] => [
      `already-connected ${via} #${i}`,
      { kind: 'already-connected', via, tokenId: 'tok_1', completedAt: '2025-03-12T10:00:00.000Z', returnUrl: null, context },
    ]),
  ),
  ...[ONE, TWO].map((context, i): [string, FlowOutcome] => [`connected, replacing a token #${i}`, { kind: 'connected', tokenId: 'tok_2', replacedTokenId: 'tok_1', returnUrl: null, context }]),
  ...[ONE, NAMELESS].map((context, i): [string, FlowOutcome] => [`other-certificate #${i}`, { kind: 'other-certificate', tokenId: 'tok_2', context }]),
  ...FAILURES.flatMap((reason): Array<[string, FlowOutcome]> => [
    [`${reason} bare`, { kind: 'failed', reason, returnUrl: null }],
    [`${reason} with context and retry`, { kind: 'failed', reason, returnUrl: null, context: TWO, retryUrl: RETRY }],
  ]),
];

/** The page's text without tags, per language section. */
function sectionText(body: string, lang: 'ro' | 'en'): string {
  const match = new RegExp(`<section lang="${lang}"[^>]*>([\\s\\S]*?)</section>`).exec(body);
  if (!match) throw new Error(`no ${lang} section`);
  return match[1]!.replace(/<[^>]+>/g, ' ').replace(/&amp;/g, '&').replace(/&#39;/g, "'").replace(/\s+/g, ' ').trim();
}

const VOID = new Set(['meta', 'br', 'hr', 'img', 'input', 'link']);

/**
 * A small tag-level parse: every element closed in order (void elements aside), attributes quoted, each
 * id unique. Answers the ids found.
 */
function checkMarkup(body: string): string[] {
  const stack: string[] = [];
  const ids: string[] = [];
  const withoutDoctype = body.replace(/^<!doctype html>/i, '');
  for (const [, closing, name, attrs] of withoutDoctype.matchAll(/<(\/?)([a-zA-Z][a-zA-Z0-9]*)([^>]*)>/g)) {
    const tag = name!.toLowerCase();
    if (closing) {
      expect(stack.pop(), `</${tag}> closes the open element`).toBe(tag);
      continue;
    }
    const rest = attrs!.replace(/\s([a-z-]+)="[^"]*"/g, '');
    expect(rest.trim(), `<${tag}${attrs}>: attributes are name="value"`).toBe('');
    for (const [, id] of attrs!.matchAll(/\sid="([^"]*)"/g)) ids.push(id!);
    if (!VOID.has(tag)) stack.push(tag);
  }
  expect(stack, 'every element is closed').toEqual([]);
  expect(ids.length, 'ids are unique').toBe(new Set(ids).size);
  return ids;
}

describe('browser pages', () => {
  it.each(PAGES)('%s: valid markup with unique ids, both languages, a next step, the same security headers', (_, outcome) => {
    const res = renderFlowOutcome(outcome);
    expect(res.headers).toMatchObject({
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'none'",
    });
    const body = res.body as string;
    expect(body).toMatch(/^<!doctype html>\n<html lang="ro">/);
    expect(checkMarkup(body)).toEqual(expect.arrayContaining(['ro', 'en', 'ro-title', 'en-title']));
    expect(body).not.toMatch(/<script/i);
    expect(body.match(/<p class="next">/g)).toHaveLength(2);
    expect(sectionText(body, 'ro')).toMatch(/Ce urmează: \S/);
    expect(sectionText(body, 'en')).toMatch(/What next: \S/);
  });

  it('success: 200, company names with their CUIs, who asked, the singular for one company', () => {
    const res = renderFlowOutcome({ kind: 'connected', tokenId: 'tok_1', returnUrl: null, context: ONE });
    expect(res.statusCode).toBe(200);
    const ro = sectionText(res.body as string, 'ro');
    const en = sectionText(res.body as string, 'en');
    expect(ro).toContain('Conectare reușită');
    expect(ro).toContain('Cererea de conectare la e-Factura a venit de la Contabilitate Plus.');
    expect(ro).toContain('Firma de mai jos este acum conectată la e-Factura');
    expect(ro).toContain('Exemplu Distribuție SRL — CUI 14399840');
    expect(ro).toContain('Nu mai aveți nimic de făcut');
    expect(en).toContain('Contabilitate Plus asked for this connection to e-Factura.');
    expect(en).toContain('The company below is now connected');
    expect(en).toContain('Exemplu Distribuție SRL — CUI 14399840');
    expect(`${ro} ${en}`).not.toMatch(/firmele|companies below/i);
  });

  it.each([
    [2, 'Cele 2 firme de mai jos sunt acum conectate', 'The 2 companies below are now connected'],
    [19, 'Cele 19 firme de mai jos', 'The 19 companies below'],
    [20, 'Cele 20 de firme de mai jos', 'The 20 companies below'],
    [50, 'Cele 50 de firme de mai jos', 'The 50 companies below'],
  ])('success with %i companies: the plural (Romanian "de" from 20)', (n, ro, en) => {
    const companies = Array.from({ length: n }, (_, i) => ({ cui: String(1000 + i), name: `Firma ${i}` }));
    const res = renderFlowOutcome({ kind: 'connected', tokenId: 'tok_1', returnUrl: null, context: { ...TWO, companies } });
    expect(sectionText(res.body as string, 'ro')).toContain(ro);
    expect(sectionText(res.body as string, 'en')).toContain(en);
    expect((res.body as string).match(/<li>/g)).toHaveLength(2 * n);
  });

  it.each([
    [1, 'firma'],
    [2, '2 firme'],
    [19, '19 firme'],
    [20, '20 de firme'],
    [101, '101 firme'],
    [119, '119 firme'],
    [120, '120 de firme'],
    [200, '200 de firme'],
  ])('romanianCount(%i) → %s', (n, text) => {
    expect(romanianCount(n, 'firma', 'firme')).toBe(text);
  });

  it('a company without a name shows its CUI alone; without a display name nobody is named', () => {
    const res = renderFlowOutcome({ kind: 'connected', tokenId: 'tok_1', returnUrl: null, context: NAMELESS });
    const ro = sectionText(res.body as string, 'ro');
    expect(ro).toContain('CUI 14399840');
    expect(ro).not.toContain('—');
    expect(ro).not.toContain('a venit de la');
  });

  it('names are escaped', () => {
    const context: FlowContext = { requester: '<b>ERP</b> & "Co"', companies: [{ cui: '14399840', name: "<script>alert('x')</script>" }], expiresAt: ONE.expiresAt };
    const body = renderFlowOutcome({ kind: 'connected', tokenId: 'tok_1', returnUrl: null, context }).body as string;
    expect(body).not.toContain('<script>');
    expect(body).not.toContain('<b>ERP');
    expect(body).toContain('&lt;b&gt;ERP&lt;/b&gt; &amp; &quot;Co&quot;');
  });

  it('a reload after success: 200, already connected, when, nothing left to do; never a redirect, even with a returnUrl', () => {
    const res = renderFlowOutcome({
      kind: 'already-connected',
      via: 'callback',
      tokenId: 'tok_1',
      completedAt: '2025-03-12T10:00:00.000Z',
      returnUrl: 'https://erp.example.com/cb',
      context: TWO,
    });
    expect(res.statusCode).toBe(200);
    const ro = sectionText(res.body as string, 'ro');
    const en = sectionText(res.body as string, 'en');
    expect(ro).toContain('Conectarea este deja făcută');
    expect(ro).toContain(`Conectarea a reușit pe ${formatTime('2025-03-12T10:00:00.000Z', 'ro')}`);
    expect(ro).toContain('12 martie 2025');
    expect(ro).toContain('Cele 2 firme conectate:');
    expect(ro).toContain('Nu mai aveți nimic de făcut');
    expect(ro).not.toMatch(/nevalid|expirat/);
    expect(en).toContain('Already connected');
    expect(en).toContain('12 March 2025');
    expect(en).toContain('Nothing left to do');
  });

  it('a used link: 200, says it was used (not expired) and what to do; with a returnUrl the ERP gets status=connected again', () => {
    const used = { kind: 'already-connected', via: 'link', tokenId: 'tok_1', completedAt: '2025-03-12T10:00:00.000Z', returnUrl: null, context: ONE } as const;
    const res = renderFlowOutcome(used);
    expect(res.statusCode).toBe(200);
    const ro = sectionText(res.body as string, 'ro');
    expect(ro).toContain('Linkul a fost deja folosit');
    expect(ro).toContain('Firma conectată:');
    expect(ro).toContain('cereți un link nou de la Contabilitate Plus');
    expect(ro).not.toContain('expirat');
    expect(sectionText(res.body as string, 'en')).toContain('This link was already used');
    const back = renderFlowOutcome({ ...used, returnUrl: 'https://erp.example.com/cb' });
    expect(back.statusCode).toBe(302);
    expect(back.headers?.location).toBe('https://erp.example.com/cb?status=connected&tokenId=tok_1');
  });

  it('success with returnUrl redirects with status=connected&tokenId', () => {
    const res = renderFlowOutcome({ kind: 'connected', tokenId: 'tok_1', returnUrl: 'https://erp.example.com/cb', context: ONE });
    expect(res.statusCode).toBe(302);
    expect(res.headers?.location).toBe('https://erp.example.com/cb?status=connected&tokenId=tok_1');
  });

  it("a token's link taken over by another certificate (a renewed one): the page says the companies now use it; the redirect names the replaced token", () => {
    const taken = { kind: 'connected', tokenId: 'tok_2', replacedTokenId: 'tok_1', context: TWO } as const;
    const page = renderFlowOutcome({ ...taken, returnUrl: null });
    expect(page.statusCode).toBe(200);
    expect(sectionText(page.body as string, 'ro')).toContain('De acum, firmele folosesc certificatul cu care v-ați autentificat (de exemplu, certificatul reînnoit)');
    expect(sectionText(page.body as string, 'en')).toContain('The companies now use the certificate you signed in with');
    const one = renderFlowOutcome({ ...taken, returnUrl: null, context: ONE });
    expect(sectionText(one.body as string, 'ro')).toContain('De acum, firma folosește certificatul');
    // An ordinary success says nothing of a replacement.
    expect(renderFlowOutcome({ kind: 'connected', tokenId: 'tok_1', returnUrl: null, context: TWO }).body).not.toContain('certificatul cu care');
    const back = renderFlowOutcome({ ...taken, returnUrl: 'https://erp.example.com/cb' });
    expect(back.headers?.location).toBe('https://erp.example.com/cb?status=connected&tokenId=tok_2&replacedTokenId=tok_1');
  });

  it.each([
    ['ACCESS_DENIED', 400, 'tokenul USB'],
    ['ANAF_REJECTED', 502, 'administratorul ERP-ului (Contabilitate Plus)'],
    ['ANAF_UNAVAILABLE', 503, 'peste câteva minute'],
    ['SESSION_EXPIRED', 400, 'era valabil până pe 12 martie 2025'],
    ['INVALID_STATE', 400, 'cu butonul de mai jos'],
    ['INVALID_SESSION', 400, 'cereți un link nou din ERP'],
  ] as const)('%s without returnUrl is an HTML page with %i: its code, its next step, the link to open again', (reason, status, text) => {
    const res = renderFlowOutcome({ kind: 'failed', reason, returnUrl: null, context: TWO, retryUrl: RETRY });
    expect(res.statusCode).toBe(status);
    const body = res.body as string;
    expect(body).toContain(`Cod: ${reason}`);
    expect(body).toContain(`Code: ${reason}`);
    expect(sectionText(body, 'ro')).toContain(text);
    expect(body).toContain(`<a class="action" href="${RETRY}">Deschideți din nou linkul</a>`);
    expect(body).toContain('Exemplu Distribuție SRL');
  });

  it('the expired page no longer says "already used"; the bare invalid-state page points to the link received', () => {
    const expired = sectionText(renderFlowOutcome({ kind: 'failed', reason: 'SESSION_EXPIRED', returnUrl: null }).body as string, 'ro');
    expect(expired).toContain('Linkul a expirat');
    expect(expired).not.toMatch(/folosit/);
    const invalid = renderFlowOutcome({ kind: 'failed', reason: 'INVALID_STATE', returnUrl: null });
    expect(sectionText(invalid.body as string, 'ro')).toContain('linkul de conectare primit (din e-mail sau din ERP)');
    expect(invalid.body).not.toContain('class="action"');
  });

  it('a failure with a returnUrl redirects with status=error&reason, but a state error never does', () => {
    const denied = renderFlowOutcome({ kind: 'failed', reason: 'ACCESS_DENIED', returnUrl: 'https://erp.example.com/cb' });
    expect(denied.headers?.location).toBe('https://erp.example.com/cb?status=error&reason=ACCESS_DENIED');
    const invalid = renderFlowOutcome({ kind: 'failed', reason: 'INVALID_STATE', returnUrl: 'https://erp.example.com/cb' });
    expect(invalid.statusCode).toBe(400);
  });
});
