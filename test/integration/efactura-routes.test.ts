/**
 * The e-Factura routes over HTTP against the local stack (moto + the ANAF emulator): every route, ANAF's
 * answers mapped to typed results, the limiter refusing before ANAF, idempotent uploads, the SPV-rights
 * marking. One stack for the file; limits are set low so that a few calls reach them.
 */
import { describe, expect, it } from 'vitest';
import { readZip } from '../../shared/domain/zip.js';
import { connect, CUIS, setupTenant, type TestStack } from '../support/stack.js';
import { useTestStack } from '../support/use-stack.js';

let stack: TestStack;
useTestStack((s) => (stack = s), { ANAF_LIMIT_STATUS_PER_MESSAGE_PER_DAY: '3', ANAF_LIMIT_DOWNLOADS_PER_MESSAGE_PER_DAY: '3' });

const INVOICE = (n: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"><cbc:ID xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">${n}</cbc:ID><!-- ăîșț --></Invoice>\n`;

let n = 0;
/** A tenant with `cuis` registered and connected through one token. */
async function connectedTenant(cuis: string[] = [CUIS[0]]): Promise<string> {
  const t = `ef${++n}-${Date.now().toString(36)}`;
  await setupTenant(stack.api, t, cuis);
  await connect(stack.api, t, cuis);
  return t;
}

interface Answer {
  status: number;
  headers: Headers;
  bytes: Buffer;
  json: any;
}

async function send(method: string, path: string, init: { body?: string | Buffer; type?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const res = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${stack.apiKey}`,
      ...(init.body !== undefined ? { 'content-type': init.type ?? 'application/xml' } : {}),
      ...init.headers,
    },
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, bytes, json };
}

const upload = (t: string, xml: string, query = 'standard=UBL', headers: Record<string, string> = {}) =>
  send('POST', `/v1/tenants/${t}/companies/${CUIS[0]}/invoices?${query}`, { body: xml, headers });

describe('upload, status, messages, download', () => {
  it('an invoice goes up, is accepted, is listed with its CIFs and Romanian time, and downloads byte-exact', async () => {
    const t = await connectedTenant();
    const xml = INVOICE('F-1');
    const up = await upload(t, xml);
    expect(up.status, JSON.stringify(up.json)).toBe(201);
    expect(up.json).toEqual({ uploadId: expect.stringMatching(/^\d+$/) });

    const status = await send('GET', `/v1/tenants/${t}/companies/RO${CUIS[0]}/invoices/${up.json.uploadId}/status`);
    expect(status.status).toBe(200);
    expect(status.json).toEqual({ state: 'accepted', downloadId: expect.stringMatching(/^\d+$/) });

    const list = await send('GET', `/v1/tenants/${t}/companies/${CUIS[0]}/messages?days=1`);
    expect(list.status).toBe(200);
    const mine = list.json.messages.find((m: { uploadId: string }) => m.uploadId === up.json.uploadId);
    expect(mine).toMatchObject({ downloadId: status.json.downloadId, type: 'invoice-sent', issuerCif: CUIS[0], buyerCif: '3' });
    expect(mine.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:00\+0[23]:00$/);

    const zip = await send('GET', `/v1/tenants/${t}/companies/${CUIS[0]}/messages/${status.json.downloadId}`);
    expect(zip.status).toBe(200);
    expect(zip.headers.get('content-type')).toBe('application/zip');
    expect(readZip(zip.bytes).map((m) => m.name)).toEqual([`${up.json.uploadId}.xml`, `semnatura_${up.json.uploadId}.xml`]);

    const invoice = await send('GET', `/v1/tenants/${t}/companies/${CUIS[0]}/messages/${status.json.downloadId}?part=invoice`);
    expect(invoice.status).toBe(200);
    expect(invoice.headers.get('content-type')).toBe('application/xml');
    expect(invoice.bytes.equals(Buffer.from(xml))).toBe(true);
    const signature = await send('GET', `/v1/tenants/${t}/companies/${CUIS[0]}/messages/${status.json.downloadId}?part=signature`);
    expect(signature.bytes.toString()).toContain('<Signature');

    // A success teaches that the holder's rights cover the company.
    expect((await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[0]}`)).body.spvRights).toBe('covered');
  });

  it("ANAF's refusals are typed: an unknown upload or message is 404 MESSAGE_NOT_FOUND", async () => {
    const t = await connectedTenant();
    const status = await send('GET', `/v1/tenants/${t}/companies/${CUIS[0]}/invoices/999999999/status`);
    expect([status.status, status.json.error.code]).toEqual([404, 'MESSAGE_NOT_FOUND']);
    const download = await send('GET', `/v1/tenants/${t}/companies/${CUIS[0]}/messages/999999999`);
    expect([download.status, download.json.error.code]).toEqual([404, 'MESSAGE_NOT_FOUND']);
    expect(download.json.error.message).toMatch(/^ANAF: Pentru id=999999999 nu exista/);
  });

  it('a company without a token is 409 NOT_CONNECTED; an unknown one 404', async () => {
    const t = `ef-nc-${Date.now().toString(36)}`;
    await setupTenant(stack.api, t, [CUIS[0]]);
    expect((await upload(t, INVOICE('x'))).json.error.code).toBe('NOT_CONNECTED');
    expect((await send('GET', `/v1/tenants/${t}/companies/${CUIS[1]}/messages?days=1`)).json.error.code).toBe('COMPANY_NOT_FOUND');
  });
});

describe('idempotent uploads', () => {
  it('a repeat with the same key answers the first result without a second upload; another request under it is 409', async () => {
    const t = await connectedTenant();
    const key = { 'idempotency-key': `inv-${Date.now()}` };
    const first = await upload(t, INVOICE('F-2'), 'standard=UBL', key);
    const again = await upload(t, INVOICE('F-2'), 'standard=UBL', key);
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.json.uploadId).toBe(first.json.uploadId);
    // The emulator lists our uploads besides ANAF's two example messages (whose upload id is fixed).
    const ours = (await send('GET', `/v1/tenants/${t}/companies/${CUIS[0]}/messages?days=1`)).json.messages.filter(
      (m: { type: string; uploadId: string }) => m.type === 'invoice-sent' && m.uploadId !== '5001131297',
    );
    expect(ours.map((m: { uploadId: string }) => m.uploadId)).toEqual([first.json.uploadId]);

    const other = await upload(t, INVOICE('F-3'), 'standard=UBL', key);
    expect([other.status, other.json.error.code]).toEqual([409, 'IDEMPOTENCY_KEY_IN_USE']);
    // The key is the tenant's: another tenant may use the same string.
    const t2 = await connectedTenant();
    expect((await upload(t2, INVOICE('F-3'), 'standard=UBL', key)).status).toBe(201);
  });
});

describe('limits', () => {
  it("over a limit: 429 RATE_LIMITED with Retry-After and the limit's name, and ANAF is not called", async () => {
    const t = await connectedTenant();
    const up = await upload(t, INVOICE('F-4'));
    const path = `/v1/tenants/${t}/companies/${CUIS[0]}/invoices/${up.json.uploadId}/status`;
    for (let i = 0; i < 3; i++) expect((await send('GET', path)).status).toBe(200);
    const refused = await send('GET', path);
    expect([refused.status, refused.json.error.code]).toEqual([429, 'RATE_LIMITED']);
    expect(refused.json.error.message).toMatch(/status-per-message-per-day \(3\)/);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('bad input is refused before ANAF', () => {
  it.each([
    ['standard=XYZ', 'VALIDATION_ERROR'],
    ['', 'VALIDATION_ERROR'],
    ['standard=UBL&extern=yes', 'VALIDATION_ERROR'],
    ['standard=UBL&b2c=1', 'VALIDATION_ERROR'],
    ['standard=UBL&autofactura=DA', 'VALIDATION_ERROR'],
  ])('upload ?%s → 400 %s', async (query, code) => {
    const t = await connectedTenant();
    const res = await upload(t, INVOICE('x'), query);
    expect([res.status, res.json.error.code]).toEqual([400, code]);
  });

  it('a JSON or empty body, a bad Idempotency-Key, bad list queries and ids', async () => {
    const t = await connectedTenant();
    const base = `/v1/tenants/${t}/companies/${CUIS[0]}`;
    const cases: Array<[Promise<Answer>, number, string]> = [
      [send('POST', `${base}/invoices?standard=UBL`, { body: '{"a":1}', type: 'application/json' }), 400, 'VALIDATION_ERROR'],
      [send('POST', `${base}/invoices?standard=UBL`, { body: '' }), 400, 'VALIDATION_ERROR'],
      [upload(t, INVOICE('x'), 'standard=UBL', { 'idempotency-key': 'spaces are not allowed' }), 400, 'VALIDATION_ERROR'],
      [send('GET', `${base}/messages`), 400, 'VALIDATION_ERROR'],
      [send('GET', `${base}/messages?days=61`), 400, 'VALIDATION_ERROR'],
      [send('GET', `${base}/messages?days=1&page=2`), 400, 'VALIDATION_ERROR'],
      [send('GET', `${base}/messages?days=1&filter=X`), 400, 'VALIDATION_ERROR'],
      [send('GET', `${base}/messages?from=${new Date(Date.now() - 61 * 86_400_000).toISOString()}`), 400, 'VALIDATION_ERROR'],
      [send('GET', `${base}/messages?from=yesterday`), 400, 'VALIDATION_ERROR'],
      [send('GET', `${base}/messages/abc`), 404, 'MESSAGE_NOT_FOUND'],
      [send('GET', `${base}/messages/123?part=zip`), 400, 'VALIDATION_ERROR'],
      [send('GET', `${base}/invoices/12a/status`), 404, 'MESSAGE_NOT_FOUND'],
      [send('POST', '/v1/validate?standard=UBL', { body: INVOICE('x') }), 400, 'VALIDATION_ERROR'],
      [send('POST', '/v1/pdf?standard=FACT1&validate=no', { body: INVOICE('x') }), 400, 'VALIDATION_ERROR'],
      [send('POST', '/v1/pdf?standard=FACT1', { body: Buffer.alloc(5 * 1024 * 1024 + 1, 0x20) }), 413, 'PAYLOAD_TOO_LARGE'],
    ];
    for (const [request, status, code] of cases) {
      const res = await request;
      expect([res.status, res.json?.error?.code]).toEqual([status, code]);
    }
  });
});
