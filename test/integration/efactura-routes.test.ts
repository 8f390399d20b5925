/**
 * The e-Factura routes over HTTP against the local stack (moto + the ANAF emulator): every route, ANAF's
 * answers mapped to typed results, the limiter refusing before ANAF, idempotent uploads, the SPV-rights
 * marking. One stack for the file; limits are set low so that a few calls reach them.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { efacturaBaseUrl } from '../../shared/adapters/anaf/efactura-client.js';
import { readZip } from '../../shared/domain/zip.js';
import { connect, CUIS, EMULATOR_DEFAULT_CLIENT, setupTenant, type TestStack } from '../support/stack.js';
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
  ])('upload ?%s → 400 %s, ANAF not called', async (query, code) => {
    const t = await connectedTenant();
    const before = stack.emulator!.control.apiStats().calls.upload;
    const res = await upload(t, INVOICE('x'), query);
    expect([res.status, res.json.error.code]).toEqual([400, code]);
    expect(stack.emulator!.control.apiStats().calls.upload).toBe(before);
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

const control = () => stack.emulator!.control;
const calls = () => control().apiStats().calls;
const base = (t: string, cui: string = CUIS[0]) => `/v1/tenants/${t}/companies/${cui}`;

describe("ANAF's answers mapped (the emulator's switches)", () => {
  it('NO_SPV_RIGHTS marks the company not-covered (403); a later success marks it covered', async () => {
    control().setCertificate({ serial: '7e:00:00:00:00:09:01', holder: 'SPV TEST' });
    const t = await connectedTenant([CUIS[0], CUIS[1]]);
    control().setSpvRights('7e:00:00:00:00:09:01', [CUIS[1]]);
    const refused = await send('GET', `${base(t)}/messages?days=5`);
    expect([refused.status, refused.json.error.code]).toEqual([403, 'NO_SPV_RIGHTS']);
    expect(refused.json.error.message).toContain(`CIF=${CUIS[0]}`);
    expect((await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[0]}`)).body.spvRights).toBe('not-covered');
    expect((await send('GET', `${base(t, CUIS[1])}/messages?days=5`)).status).toBe(200);
    expect((await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[1]}`)).body.spvRights).toBe('covered');
    control().setSpvRights('7e:00:00:00:00:09:01', null);
    expect((await upload(t, INVOICE('F-5'))).status).toBe(201);
    expect((await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[0]}`)).body.spvRights).toBe('covered');
  });

  it("ANAF's own daily limit is 429 ANAF_DAILY_LIMIT until midnight in Romania, as XML or as text/plain JSON", async () => {
    const t = await connectedTenant();
    const up = await upload(t, INVOICE('F-6'));
    control().setLimits({ statusPerMessagePerDay: 1 });
    const path = `${base(t)}/invoices/${up.json.uploadId}/status`;
    expect((await send('GET', path)).status).toBe(200);
    const limited = await send('GET', path);
    expect([limited.status, limited.json.error.code]).toEqual([429, 'ANAF_DAILY_LIMIT']);
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(86_400);
    control().failNext('text_plain_json', 1, { target: 'stareMesaj' });
    const plain = await send('GET', path);
    expect([plain.status, plain.json.error.code]).toEqual([429, 'ANAF_DAILY_LIMIT']);
  });

  it('a message past its 60 days is 410 EXPIRED_60_DAYS; the real production ZIP downloads byte-identical, its members exact', async () => {
    control().setCertificate({ serial: '7e:00:00:00:00:09:02', holder: 'ZIP TEST' });
    const t = `ef-zip-${Date.now().toString(36)}`;
    await setupTenant(stack.api, t, ['22354360']);
    await connect(stack.api, t, ['22354360']);
    const zip = await send('GET', `${base(t, '22354360')}/messages/3001500000`);
    expect(zip.status).toBe(200);
    expect(zip.bytes.equals(readFileSync(new URL('../support/fixtures/anaf/descarcare-nok-duplicate.REAL-PROD.zip', import.meta.url)))).toBe(true);
    const member = await send('GET', `${base(t, '22354360')}/messages/3001500000?part=invoice`);
    expect(member.bytes.equals(readFileSync(new URL('../support/fixtures/anaf/descarcare-nok-duplicate.member-5935607155.xml', import.meta.url)))).toBe(true);
    const status = await send('GET', `${base(t, '22354360')}/invoices/5935607155/status`);
    expect(status.json).toEqual({ state: 'rejected', downloadId: '3001500000' });
    control().expireDownload('3001500000');
    const expired = await send('GET', `${base(t, '22354360')}/messages/3001500000`);
    expect([expired.status, expired.json.error.code]).toEqual([410, 'EXPIRED_60_DAYS']);
  });

  it('ANAF down, a technical error, garbage, an invalid XML: 503 / 503 / 502 / 502 with what ANAF said', async () => {
    const t = await connectedTenant();
    control().failNext('unavailable', 1, { target: 'listaMesajeFactura' });
    expect((await send('GET', `${base(t)}/messages?days=1`)).json.error.code).toBe('ANAF_UNAVAILABLE');
    control().failNext('technical_error', 1, { target: 'upload' });
    const technical = await upload(t, INVOICE('F-7'));
    expect([technical.status, technical.json.error.code]).toEqual([503, 'ANAF_UNAVAILABLE']);
    expect(technical.json.error.message).toMatch(/eroare tehnica/);
    control().failNext('garbage', 1, { target: 'stareMesaj' });
    expect((await send('GET', `${base(t)}/invoices/5001200000/status`)).json.error.code).toBe('ANAF_REJECTED');
    const invalid = await upload(t, '<?xml version="1.0"?><Invoice1/>');
    expect([invalid.status, invalid.json.error.code]).toEqual([502, 'ANAF_REJECTED']);
    expect(invalid.json.error.message).toMatch(/^ANAF: Fisierul transmis nu este valid/);
  });

  it('a 401 from ANAF: one refresh through the refresh service, one retry, and the call succeeds', async () => {
    const t = await connectedTenant();
    const refreshesBefore = control().stats().tokenCalls.refresh_token;
    const listsBefore = calls().listaMesajeFactura;
    control().failNext('unauthorized', 1, { target: 'listaMesajeFactura' });
    const res = await send('GET', `${base(t)}/messages?days=1`);
    expect(res.status).toBe(200);
    expect(control().stats().tokenCalls.refresh_token).toBe(refreshesBefore + 1);
    expect(calls().listaMesajeFactura).toBe(listsBefore + 2);
  });

  it('the limiter refuses before ANAF: the refused call never reaches it; of two racing for the last unit, one gets it', async () => {
    const t = await connectedTenant();
    const up = await upload(t, INVOICE('F-8'));
    const path = `${base(t)}/invoices/${up.json.uploadId}/status`;
    expect((await send('GET', path)).status).toBe(200);
    expect((await send('GET', path)).status).toBe(200);
    const before = calls().stareMesaj;
    // One unit left (3 a day): two callers race for it.
    const raced = await Promise.all([send('GET', path), send('GET', path)]);
    expect(raced.map((r) => r.status).sort()).toEqual([200, 429]);
    expect(calls().stareMesaj).toBe(before + 1);
    expect((await send('GET', path)).json.error.code).toBe('RATE_LIMITED');
    expect(calls().stareMesaj).toBe(before + 1);
  });

  it('an upload whose answer is lost: 503 saying it may have been accepted; a repeat of its key is 409, never re-sent', async () => {
    const t = await connectedTenant();
    const key = { 'idempotency-key': `lost-${Date.now()}` };
    control().failNext('drop', 1, { target: 'upload' });
    const lost = await upload(t, INVOICE('F-9'), 'standard=UBL', key);
    expect([lost.status, lost.json.error.code]).toEqual([503, 'ANAF_UNAVAILABLE']);
    expect(lost.json.error.message).toMatch(/may have been accepted: look for it in GET …\/messages/);
    const uploadsBefore = calls().upload;
    const repeat = await upload(t, INVOICE('F-9'), 'standard=UBL', key);
    expect([repeat.status, repeat.json.error.code]).toEqual([409, 'IDEMPOTENCY_KEY_IN_USE']);
    expect(calls().upload).toBe(uploadsBefore);
    // ANAF did accept it: the message list shows it, which is what the ERP checks before sending again.
    const listed = (await send('GET', `${base(t)}/messages?days=1&filter=T`)).json.messages;
    expect(listed).toHaveLength(1);
  });

  it('over 500 messages: the simple list is answered by the paginated call, transparently; pages by from/to/page', async () => {
    const t = await connectedTenant();
    control().seedMessages({ cif: CUIS[0], type: 'invoice-received', count: 501, ageSeconds: 600, spacingSeconds: 10 });
    const first = await send('GET', `${base(t)}/messages?days=2`);
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ page: 1, pages: 2 });
    expect(first.json.messages).toHaveLength(500);
    expect(first.json.messages[0]).toMatchObject({ type: 'invoice-received', buyerCif: CUIS[0], issuerCif: '3' });
    const second = await send('GET', `${base(t)}/messages?from=${encodeURIComponent(first.json.from)}&to=${encodeURIComponent(first.json.to)}&page=2`);
    expect(second.json.messages).toHaveLength(1);
    expect(second.json.page).toBe(2);
    // A `to` in the future is clamped a minute into the past (ANAF refuses it by its own clock).
    const future = await send('GET', `${base(t)}/messages?from=${new Date(Date.now() - 3_600_000).toISOString()}&to=${new Date(Date.now() + 3_600_000).toISOString()}`);
    expect(future.status).toBe(200);
    expect(Date.parse(future.json.to)).toBeLessThanOrEqual(Date.now() - 59_000);
  });
});

describe('validate and PDF on the public host', () => {
  it('valid, invalid with messages, the firewall page, a PDF', async () => {
    const invoice = INVOICE('F-10');
    expect((await send('POST', '/v1/validate?standard=FACT1', { body: invoice })).json).toEqual({ valid: true, messages: [] });
    const nok = await send('POST', '/v1/validate?standard=FACT1', { body: invoice.replace('</Invoice>', '<!-- emulator:validare=nok --></Invoice>') });
    expect(nok.json.valid).toBe(false);
    expect(nok.json.messages.length).toBeGreaterThan(0);
    const wall = await send('POST', '/v1/validate?standard=FACT1', { body: invoice.replace('</Invoice>', '<!-- emulator:firewall --></Invoice>') });
    expect([wall.status, wall.json.error.code]).toEqual([502, 'ANAF_REJECTED']);
    expect(wall.json.error.message).toMatch(/firewall/);
    const pdf = await send('POST', '/v1/pdf?standard=FACT1', { body: invoice });
    expect(pdf.status).toBe(200);
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    expect(pdf.bytes.subarray(0, 5).toString()).toBe('%PDF-');
    const refused = await send('POST', '/v1/pdf?standard=FCN', { body: invoice });
    expect([refused.status, refused.json.error.code]).toEqual([502, 'ANAF_REJECTED']);
  });
});

describe("the tenant's ANAF environment", () => {
  it("defaults from the stage's ANAF_API_BASE_URL, is set on the anaf-client, and names the host of the tenant's calls", async () => {
    const t = await connectedTenant();
    expect((await stack.api.get(`/v1/tenants/${t}/anaf-client`)).body.anafEnvironment).toBe('prod');
    const put = await stack.api.put(`/v1/tenants/${t}/anaf-client`, { ...EMULATOR_DEFAULT_CLIENT, anafEnvironment: 'test' });
    expect(put.body.anafEnvironment).toBe('test');
    expect((await stack.api.put(`/v1/tenants/${t}/anaf-client`, { ...EMULATOR_DEFAULT_CLIENT, anafEnvironment: 'staging' })).status).toBe(400);
    expect((await upload(t, INVOICE('F-11'))).status).toBe(201);
    expect(efacturaBaseUrl('https://api.anaf.ro/prod/FCTEL/rest', 'test')).toBe('https://api.anaf.ro/test/FCTEL/rest');
    expect(efacturaBaseUrl('https://proxy.example.com/anaf', 'test')).toBe('https://proxy.example.com/anaf');
  });
});

// ---------------------------------------------------------------- invoices over the inline limit, through S3
describe('invoices over 6 MB: presigned S3 PUT, then the upload route names the object', () => {
  const MAX = 10 * 1024 * 1024;
  /** An invoice of exactly `bytes` bytes (padded with a comment inside the root). */
  const bigInvoice = (bytes: number) => {
    const [head, tail] = INVOICE(`BIG-${bytes}`).split('</Invoice>') as [string, string];
    const end = `</Invoice>${tail}`;
    const pad = bytes - Buffer.byteLength(head) - Buffer.byteLength(end) - '<!---->'.length;
    return Buffer.from(`${head}<!--${'x'.repeat(pad)}-->${end}`);
  };
  const presign = (t: string, cui: string = CUIS[0]) => send('POST', `${base(t, cui)}/invoice-uploads`);
  const put = (url: string, body: Buffer) => fetch(url, { method: 'PUT', body });
  const uploadObject = (t: string, objectKey: string, headers: Record<string, string> = {}) =>
    send('POST', `${base(t)}/invoices?standard=UBL&objectKey=${encodeURIComponent(objectKey)}`, { headers });

  it('an 8 MB invoice: presign → plain fetch PUT to moto → upload → 201; ANAF gets the exact bytes; the object is deleted; a key repeat still answers', async () => {
    const t = await connectedTenant();
    const slot = await presign(t);
    expect(slot.status, JSON.stringify(slot.json)).toBe(201);
    expect(slot.json).toEqual({ uploadUrl: expect.any(String), objectKey: expect.stringMatching(new RegExp(`^${t}/${CUIS[0]}/[0-9a-f-]{36}\\.xml$`)), expiresAt: expect.any(String), maxBytes: MAX });
    const url = new URL(slot.json.uploadUrl);
    // Path-style on moto's endpoint, signed for 15 minutes.
    expect(url.origin).toBe(new URL(stack.moto.endpoint).origin);
    expect(url.pathname).toBe(`/${process.env.INVOICE_BUCKET_NAME}/${slot.json.objectKey}`);
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
    expect(Date.parse(slot.json.expiresAt) - Date.now()).toBeGreaterThan(14 * 60_000);
    expect(Date.parse(slot.json.expiresAt) - Date.now()).toBeLessThanOrEqual(15 * 60_000);

    const xml = bigInvoice(8 * 1024 * 1024);
    expect((await put(slot.json.uploadUrl, xml)).status).toBe(200);
    const key = { 'idempotency-key': `big-${Date.now()}` };
    const up = await uploadObject(t, slot.json.objectKey, key);
    expect(up.status, JSON.stringify(up.json)).toBe(201);
    const status = await send('GET', `${base(t)}/invoices/${up.json.uploadId}/status`);
    const invoice = await send('GET', `${base(t)}/messages/${status.json.downloadId}?part=invoice`);
    expect(invoice.bytes.equals(xml)).toBe(true);

    // Deleted after ANAF's answer: naming it again is 404, but a repeat of its Idempotency-Key answers the first result.
    const uploads = calls().upload;
    expect((await uploadObject(t, slot.json.objectKey)).json.error.code).toBe('UPLOAD_NOT_FOUND');
    expect((await uploadObject(t, slot.json.objectKey, key)).json).toEqual(up.json);
    expect(calls().upload).toBe(uploads);
  });

  it("another tenant's or company's key is 400 before anything is read; a key never PUT is 404 UPLOAD_NOT_FOUND; ANAF is not called", async () => {
    const t = await connectedTenant();
    const other = await connectedTenant();
    const theirs = (await presign(other)).json;
    expect((await put(theirs.uploadUrl, Buffer.from(INVOICE('theirs')))).status).toBe(200);
    const uploads = calls().upload;
    const foreign = await uploadObject(t, theirs.objectKey);
    expect([foreign.status, foreign.json.error.code]).toEqual([400, 'VALIDATION_ERROR']);
    const otherCompany = await uploadObject(t, theirs.objectKey.replace(`${other}/${CUIS[0]}/`, `${t}/${CUIS[1]}/`));
    expect([otherCompany.status, otherCompany.json.error.code]).toEqual([400, 'VALIDATION_ERROR']);
    const neverPut = await uploadObject(t, (await presign(t)).json.objectKey);
    expect([neverPut.status, neverPut.json.error.code]).toEqual([404, 'UPLOAD_NOT_FOUND']);
    expect(calls().upload).toBe(uploads);
    // Their object is untouched: its owner sends it.
    expect((await uploadObject(other, theirs.objectKey)).status).toBe(201);
  });

  it('an object over 10 MB is 413 PAYLOAD_TOO_LARGE (ANAF not called) and deleted; inline body and objectKey together are 400', async () => {
    const t = await connectedTenant();
    const slot = (await presign(t)).json;
    expect((await put(slot.uploadUrl, bigInvoice(MAX + 1))).status).toBe(200);
    const uploads = calls().upload;
    const over = await uploadObject(t, slot.objectKey);
    expect([over.status, over.json.error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    expect((await uploadObject(t, slot.objectKey)).json.error.code).toBe('UPLOAD_NOT_FOUND');
    const both = await send('POST', `${base(t)}/invoices?standard=UBL&objectKey=${encodeURIComponent(slot.objectKey)}`, { body: INVOICE('both') });
    expect([both.status, both.json.error.code]).toEqual([400, 'VALIDATION_ERROR']);
    expect(calls().upload).toBe(uploads);
  });

  it('a presign for an unknown company is 404 COMPANY_NOT_FOUND; for an unknown tenant 404 TENANT_NOT_FOUND', async () => {
    const t = await connectedTenant();
    expect((await presign(t, CUIS[1])).json.error.code).toBe('COMPANY_NOT_FOUND');
    expect((await presign(`nobody-${Date.now()}`)).json.error.code).toBe('TENANT_NOT_FOUND');
  });
});
