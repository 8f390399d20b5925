import { readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest';
import {
  EMULATOR_CERTIFICATES,
  REAL_PROD_ZIP,
  startAnafEmulator,
  type AnafEmulator,
  type ApiEndpoint,
} from '../../local/anaf-emulator/server.js';

const CIF = '8000000000';
const OTHER = '12345678';
const SERIAL = EMULATOR_CERTIFICATES[0]!.serial;
const fixtureText = (name: string) => readFileSync(new URL(`../support/fixtures/anaf/${name}`, import.meta.url), 'utf8');
const fixtureBytes = (name: string) => readFileSync(new URL(`../support/fixtures/anaf/${name}`, import.meta.url));
const fixtureJson = (name: string) => JSON.parse(fixtureText(name)) as Record<string, unknown>;

let emulator: AnafEmulator;
let token: string;

beforeAll(async () => {
  emulator = await startAnafEmulator();
});
afterAll(async () => {
  await emulator.close();
});
beforeEach(async () => {
  emulator.control.reset();
  token = await connect();
});

async function connect(): Promise<string> {
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: 'emulator-client-id',
    redirect_uri: 'https://localhost/cb',
    token_content_type: 'jwt',
  });
  const authorized = await fetch(`${emulator.oauthBaseUrl}/authorize?${query}`, { redirect: 'manual' });
  const code = new URL(authorized.headers.get('location')!).searchParams.get('code')!;
  const issued = await fetch(`${emulator.oauthBaseUrl}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('emulator-client-id:emulator-client-secret').toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: 'https://localhost/cb', token_content_type: 'jwt' }),
  });
  return ((await issued.json()) as { access_token: string }).access_token;
}

const call = (path: string, init: RequestInit & { token?: string | null } = {}) =>
  fetch(`${emulator.apiBaseUrl}/${path}`, {
    ...init,
    headers: { ...(init.token !== null ? { authorization: `Bearer ${init.token ?? token}` } : {}), ...(init.headers as Record<string, string>) },
  });
const text = async (path: string, init?: RequestInit & { token?: string | null }) => (await call(path, init)).text();
const json = async (path: string): Promise<any> => (await call(path)).json();
const upload = (body: string, query = `standard=UBL&cif=${CIF}`, endpoint = 'upload') =>
  text(`${endpoint}?${query}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body });
const indexOf = (xml: string) => /index_incarcare="(\d+)"/.exec(xml)![1]!;
const downloadIdOf = (xml: string) => /id_descarcare="(\d+)"/.exec(xml)![1]!;
const admin = (action: string, body: unknown) =>
  fetch(`${emulator.url}/__emulator/${action}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
/** A fixture's text with ANAF's example date stamps replaced by the one in `actual`. */
const sameAsFixture = (actual: string, name: string) => {
  const stamp = /dateResponse="\d{12}"/.exec(actual)?.[0];
  expect(actual).toBe(stamp ? fixtureText(name).replace(/dateResponse="\d{12}"/, stamp) : fixtureText(name));
};

const invoice = (buyer = OTHER, extra = '', seller = CIF) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" xmlns:cac="c" xmlns:cbc="b">${extra}` +
  `<cbc:ID>F-1</cbc:ID><cac:AccountingSupplierParty><cac:Party><cac:PartyTaxScheme><cbc:CompanyID>RO${seller}</cbc:CompanyID></cac:PartyTaxScheme></cac:Party></cac:AccountingSupplierParty>` +
  `<cac:AccountingCustomerParty><cac:Party><cac:PartyTaxScheme><cbc:CompanyID>RO${buyer}</cbc:CompanyID></cac:PartyTaxScheme></cac:Party></cac:AccountingCustomerParty></Invoice>`;

/** The members of a ZIP (stored or deflated), by name. */
function unzip(zip: Buffer): Record<string, Buffer> {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const entries = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const members: Record<string, Buffer> = {};
  for (let i = 0; i < entries; i++) {
    const method = zip.readUInt16LE(at + 10);
    const size = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const skip = nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.subarray(at + 46, at + 46 + nameLength).toString('utf8');
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = zip.subarray(start, start + size);
    members[name] = method === 8 ? inflateRawSync(data) : data;
    at += 46 + skip;
  }
  return members;
}
/** `yyyyMMddHHmm` in Romania, as `data_creare`. */
const romaniaCompact = (ms: number) =>
  new Intl.DateTimeFormat('sv-SE', { timeZone: 'Europe/Bucharest', dateStyle: 'short', timeStyle: 'short' }).format(new Date(ms)).replace(/\D/g, '');
const download = async (id: string) => Buffer.from(await (await call(`descarcare?id=${id}`)).arrayBuffer());

describe('bearer auth', () => {
  it('answers 401 to a missing, unknown or expired token on every e-Factura call', async () => {
    const paths = ['upload?standard=UBL&cif=1', 'uploadb2c?standard=UBL&cif=1', 'stareMesaj?id_incarcare=1', 'listaMesajeFactura?zile=1&cif=1', 'listaMesajePaginatieFactura?startTime=1&endTime=2&cif=1&pagina=1', 'descarcare?id=1'];
    for (const path of paths) {
      const method = path.startsWith('upload') ? 'POST' : 'GET';
      const none = await call(path, { method, token: null });
      expect(none.status, path).toBe(401);
      expect(await none.json()).toMatchObject({ status: 401, error: 'Unauthorized' });
      expect((await call(path, { method, token: 'not.issued.here' })).status, path).toBe(401);
    }
    emulator.control.setTokenLifetimes({ accessSeconds: 60 });
    const short = await connect();
    expect((await call(`listaMesajeFactura?zile=1&cif=${CIF}`, { token: short })).status).toBe(200);
    emulator.control.advanceClock(61);
    expect((await call(`listaMesajeFactura?zile=1&cif=${CIF}`, { token: short })).status).toBe(401);
  });
});

describe('upload', () => {
  it('accepts UBL, CN, CII and RASP with the flags, on upload and uploadb2c', async () => {
    const ok = await upload(invoice(), `standard=UBL&cif=${CIF}&extern=DA&autofactura=DA&executare=DA`);
    expect(ok).toMatch(/^<\?xml[^>]*>\r?\n<header xmlns="mfp:anaf:dgti:spv:respUploadFisier:v1" dateResponse="\d{12}" ExecutionStatus="0" index_incarcare="\d+"\/>/);
    expect(await upload('<CreditNote/>', `standard=CN&cif=${CIF}`)).toContain('ExecutionStatus="0"');
    expect(await upload('<rsm:CrossIndustryInvoice xmlns:rsm="x"/>', `standard=CII&cif=${CIF}`)).toContain('ExecutionStatus="0"');
    expect(await upload('<Raspuns/>', `standard=RASP&cif=${CIF}`)).toContain('ExecutionStatus="0"');
    expect(await upload(invoice(), `standard=UBL&cif=${CIF}`, 'uploadb2c')).toContain('ExecutionStatus="0"');
  });

  it('answers each rejection with ANAF body', async () => {
    const missing = await call(`upload?cif=${CIF}`, { method: 'POST', body: '<Invoice/>' });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ status: 400, message: 'Parametrii standard si cif sunt obligatorii' });
    sameAsFixture(await upload(invoice(), `standard=XML&cif=${CIF}`), 'upload-error-invalid-standard.xml');
    sameAsFixture(await upload('x'.repeat(10 * 1024 * 1024 + 1)), 'upload-error-too-large.xml');
    const invalid = await upload('<?xml version="1.0"?>\n<Invoice1 xmlns="x">\n</Invoice1>');
    expect(invalid).toContain('ExecutionStatus="1"');
    expect(invalid).toContain(
      `errorMessage="Fisierul transmis nu este valid. org.xml.sax.SAXParseException; lineNumber: 2; columnNumber: 21; cvc-elt.1.a: Cannot find the declaration of element 'Invoice1'. "`,
    );
    expect(await upload('not xml at all')).toContain('Content is not allowed in prolog.');
    expect(await upload('<Invoice><cbc:ID>')).toContain('XML document structures must start and end within the same entity.');
    expect(await upload('<Invoice/>', 'standard=UBL&cif=RO123')).toContain('CIF introdus= RO123 nu este un numar');

    emulator.control.setLimits({ raspPerCuiPerDay: 1 });
    expect(await upload('<Raspuns/>', `standard=RASP&cif=${CIF}`)).toContain('ExecutionStatus="0"');
    const limited = await upload('<Raspuns/>', `standard=RASP&cif=${CIF}`);
    expect(limited).toContain(`errorMessage="S-au incarcat deja 1 de mesaje de tip RASP pentru cui=${CIF} in cursul zilei"`);
    emulator.control.advanceClock(24 * 3600);
    expect(await upload('<Raspuns/>', `standard=RASP&cif=${CIF}`)).toContain('ExecutionStatus="0"');

    emulator.control.failNext('technical_error', 1, { target: 'upload' });
    sameAsFixture(await upload(invoice()), 'upload-error-technical.xml');
  });

  it('rejects a re-sent invoice as ANAF does: accepted, then nok with the first index and date', async () => {
    const first = indexOf(await upload(invoice()));
    const again = indexOf(await upload(invoice()));
    expect(again).not.toBe(first);
    const stare = await text(`stareMesaj?id_incarcare=${again}`);
    expect(stare).toContain('stare="nok"');
    const members = unzip(await download(downloadIdOf(stare)));
    const day = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Bucharest' }).format(new Date());
    expect(members[`${again}.xml`]!.toString()).toBe(
      `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<header xmlns="mfp:anaf:dgti:efactura:mesajEroriFactuta:v1" Index_incarcare="${again}" Cif_emitent="${CIF}">\n` +
        `    <Error errorMessage="Factura a mai fost transmisa anterior cu index=${first} si data incarcare=${day}"/>\n</header>\n`,
    );
    expect(Object.keys(members)).toEqual([`${again}.xml`, `semnatura_${again}.xml`]);
    expect(await upload(invoice(), `standard=UBL&cif=${OTHER}`)).toContain('ExecutionStatus="0"');
    expect(await text(`stareMesaj?id_incarcare=${indexOf(await upload(invoice(), `standard=UBL&cif=${OTHER}`))}`)).toContain('stare="nok"');
  });
});

describe('stareMesaj', () => {
  it('is in prelucrare for the processing time, then ok, nok or XML cu erori', async () => {
    emulator.control.setUploadOutcome({ outcome: 'ok', processingSeconds: 30 });
    const index = indexOf(await upload(invoice()));
    sameAsFixture(await text(`stareMesaj?id_incarcare=${index}`), 'stare-in-prelucrare.xml');
    emulator.control.advanceClock(30);
    const ok = await text(`stareMesaj?id_incarcare=${index}`);
    expect(ok).toBe(fixtureText('stare-ok.xml').replace('id_descarcare="1234"', `id_descarcare="${downloadIdOf(ok)}"`));

    const marked = indexOf(await upload(invoice(OTHER, '<!-- emulator:outcome=nok emulator:processing-seconds=0 -->')));
    const nok = await text(`stareMesaj?id_incarcare=${marked}`);
    expect(nok).toBe(fixtureText('stare-nok.xml').replace('id_descarcare="123"', `id_descarcare="${downloadIdOf(nok)}"`));
    const errorDoc = unzip(await download(downloadIdOf(nok)))[`${marked}.xml`]!.toString();
    expect(errorDoc).toContain('xmlns="mfp:anaf:dgti:efactura:mesajEroriFactuta:v1"');

    const third = indexOf(await upload(invoice('99')));
    expect((await admin('upload-outcome', { index: third, outcome: 'xml-errors', processingSeconds: 0 })).status).toBe(200);
    sameAsFixture(await text(`stareMesaj?id_incarcare=${third}`), 'stare-xml-cu-erori.xml');
    expect((await admin('upload-outcome', { index: '1', outcome: 'ok' })).status).toBe(400);
  });

  it('answers not found, no right for the index, and the daily limit in both shapes', async () => {
    sameAsFixture(await text('stareMesaj?id_incarcare=15000'), 'stare-error-not-found.xml');
    expect((await call('stareMesaj')).status).toBe(400);
    const index = indexOf(await upload(invoice()));
    expect((await admin('spv-rights', { cifs: [OTHER] })).status).toBe(200);
    expect(await text(`stareMesaj?id_incarcare=${index}`)).toBe(
      fixtureText('stare-error-no-right-for-index.xml').replace('id_incarcare= 18', `id_incarcare= ${index}`),
    );
    emulator.control.setSpvRights(SERIAL, null);
    // The call refused for lack of rights counted too: two calls of this message today.
    emulator.control.setLimits({ statusPerMessagePerDay: 2 });
    expect(await text(`stareMesaj?id_incarcare=${index}`)).toContain('stare="ok"');
    expect(await text(`stareMesaj?id_incarcare=${index}`)).toBe(fixtureText('stare-error-daily-limit.xml').replace('deja 20 ', 'deja 2 '));
    emulator.control.setLimits({ xmlCallLimitAnswer: 'text-plain-json' });
    const plain = await call(`stareMesaj?id_incarcare=${index}`);
    expect(plain.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await plain.json()).toEqual({ eroare: 'S-au facut deja 2 descarcari de mesaj in cursul zilei', titlu: 'Stare Mesaj' });
  });
});

describe('listaMesajeFactura', () => {
  it('lists uploads and seeded messages in ANAF formats, filtered, newest first', async () => {
    const before = Date.now();
    const index = indexOf(await upload(invoice()));
    const fromOther = indexOf(await upload(invoice(CIF, '', OTHER), `standard=UBL&cif=${OTHER}`));
    const after = Date.now();
    const selfBilled = indexOf(await upload(invoice(OTHER, '<!-- self -->'), `standard=UBL&cif=${OTHER}&autofactura=DA`));
    await admin('messages', { cif: CIF, type: 'buyer-message', count: 1, ageSeconds: 120, counterpartCif: OTHER });
    const body = await json(`listaMesajeFactura?zile=1&cif=${CIF}`);
    expect(body).toMatchObject({ cui: CIF, titlu: 'Lista Mesaje disponibile din ultimele 1 zile' });
    expect(body.mesaje.map((m: { tip: string }) => m.tip)).toEqual(['FACTURA PRIMITA', 'FACTURA TRIMISA', 'MESAJ CUMPARATOR PRIMIT / MESAJ CUMPARATOR TRANSMIS']);
    const [received, sent, buyer] = body.mesaje;
    expect(sent).toMatchObject({ cif: CIF, id_solicitare: index, detalii: `Factura cu id_incarcare=${index} emisa de cif_emitent=${CIF} pentru cif_beneficiar=${OTHER}` });
    expect(received).toMatchObject({ cif: CIF, id_solicitare: fromOther, detalii: `Factura cu id_incarcare=${fromOther} emisa de cif_emitent=${OTHER} pentru cif_beneficiar=${CIF}` });
    expect(buyer.detalii).toMatch(new RegExp(`^Mesaj cumparator cu id_incarcare=\\d+ transmis de cif_emitent=${OTHER} pentru cif_beneficiar=${CIF}$`));
    expect([romaniaCompact(before), romaniaCompact(after)]).toContain(sent.data_creare);
    expect(Object.keys(sent)).toEqual(['data_creare', 'cif', 'id_solicitare', 'detalii', 'tip', 'id']);

    const twice = (await json(`listaMesajeFactura?zile=1&cif=${OTHER}`)).mesaje.filter((m: { id_solicitare: string }) => m.id_solicitare === selfBilled);
    expect(twice.map((m: { tip: string }) => m.tip).sort()).toEqual(['FACTURA PRIMITA', 'FACTURA TRIMISA']);
    expect(twice[0].detalii).toBe(`Factura cu id_incarcare=${selfBilled} transmisa de cif=${OTHER} ca autofactura in numele cif=${CIF}`);
    expect(twice[0].id).not.toBe(twice[1].id);

    await admin('messages', { cif: CIF, type: 'errors', count: 2 });
    expect((await json(`listaMesajeFactura?zile=1&cif=${CIF}&filtru=E`)).mesaje).toHaveLength(2);
    expect((await json(`listaMesajeFactura?zile=1&cif=${CIF}&filtru=P`)).mesaje).toHaveLength(1);
    expect(await json(`listaMesajeFactura?zile=1&cif=${CIF}&filtru=X`)).toMatchObject({ titlu: 'Lista Mesaje', eroare: expect.stringContaining('E, T, P sau R') });
  });

  it('answers ANAF errors: days, empty, over 500, no right, daily limit, 400', async () => {
    expect(await json(`listaMesajeFactura?zile=0&cif=${CIF}`)).toEqual(fixtureJson('lista-mesaje-eroare-zile.json'));
    expect(await json(`listaMesajeFactura?zile=15&cif=${CIF}`)).toEqual(fixtureJson('lista-mesaje-eroare-nu-exista-mesaje.json'));
    emulator.control.seedMessages({ cif: CIF, type: 'invoice-received', count: 501, ageSeconds: 10, spacingSeconds: 1 });
    expect(await json(`listaMesajeFactura?zile=1&cif=${CIF}`)).toEqual(fixtureJson('lista-mesaje-eroare-peste-500.json'));
    expect((await json(`listaMesajeFactura?zile=1&cif=${CIF}&filtru=E`)).eroare).toBe('Nu exista mesaje in ultimele 1 zile');
    emulator.control.seedMessages({ cif: OTHER, type: 'invoice-sent', ageSeconds: 2 * 86400 });
    expect((await json(`listaMesajeFactura?zile=1&cif=${OTHER}`)).eroare).toBe('Nu exista mesaje in ultimele 1 zile');
    expect((await json(`listaMesajeFactura?zile=3&cif=${OTHER}`)).mesaje).toHaveLength(1);
    expect((await call(`listaMesajeFactura?zile=1`)).status).toBe(400);

    emulator.control.setSpvRights(SERIAL, [CIF]);
    expect(await json(`listaMesajeFactura?zile=3&cif=${OTHER}`)).toEqual({ ...fixtureJson('lista-mesaje-eroare-fara-drept-cif.json'), eroare: `Nu aveti drept in SPV pentru CIF=${OTHER}` });
    emulator.control.setSpvRights(SERIAL, null);
    emulator.control.setLimits({ listsPerCuiPerDay: 1 });
    expect((await json(`listaMesajeFactura?zile=3&cif=777`)).eroare).toBe('Nu exista mesaje in ultimele 3 zile');
    expect(await json(`listaMesajeFactura?zile=3&cif=777`)).toEqual({
      ...fixtureJson('lista-mesaje-eroare-limita-zilnica.json'),
      eroare: 'S-au facut deja 1 interogari de lista mesaje de catre utilizator in cursul zilei',
    });
  });
});

describe('listaMesajePaginatieFactura', () => {
  const paged = (start: number, end: number, page: number, cif = CIF) =>
    json(`listaMesajePaginatieFactura?startTime=${start}&endTime=${end}&cif=${cif}&pagina=${page}`);

  it('pages 500 at a time with ANAF counters and errors', async () => {
    const seeded = emulator.control.seedMessages({ cif: CIF, type: 'invoice-received', count: 1001, ageSeconds: 60, spacingSeconds: 1 });
    const end = Date.now() - 1000;
    const start = end - 3600_000;
    const first = await paged(start, end, 1);
    expect(Object.keys(first)).toEqual(Object.keys(fixtureJson('lista-mesaje-paginatie.json')));
    expect(first).toMatchObject({ numar_inregistrari_in_pagina: 500, numar_total_inregistrari_per_pagina: 500, numar_total_inregistrari: 1001, numar_total_pagini: 3, index_pagina_curenta: 1, cui: CIF });
    expect(first.mesaje[0].id).toBe(seeded[0]!.id);
    expect(first.titlu).toMatch(/^Lista Mesaje disponibile din intervalul \d\d-\d\d-\d{4} \d\d:\d\d:\d\d - \d\d-\d\d-\d{4} \d\d:\d\d:\d\d$/);
    const last = await paged(start, end, 3);
    expect(last).toMatchObject({ numar_inregistrari_in_pagina: 1, index_pagina_curenta: 3 });
    expect(last.mesaje[0].id).toBe(seeded[1000]!.id);
    expect(await paged(start, end, 50)).toEqual({ ...fixtureJson('lista-mesaje-paginatie-eroare-pagina.json'), eroare: 'Pagina solicitata 50 este mai mare decat numarul toatal de pagini 3' });

    const future = await paged(start, Date.now() + 5000, 1);
    expect(future.eroare).toMatch(/^endTime = \d\d-\d\d-\d{4} \d\d:\d\d:\d\d nu poate in viitor fata de momentul requestului$/);
    const old = await paged(Date.now() - 61 * 86400_000, end, 1);
    expect(old.eroare).toMatch(/^startTime = \d\d-\d\d-\d{4} \d\d:\d\d:\d\d nu poate fi mai vechi de 60 de zile fata de momentul requestului$/);
    expect(await paged(start, end, 1, OTHER)).toEqual(fixtureJson('lista-mesaje-paginatie-eroare-nu-exista-mesaje.json'));
    expect((await call(`listaMesajePaginatieFactura?startTime=1&cif=${CIF}`)).status).toBe(400);
    emulator.control.setLimits({ pagedListsPerCuiPerDay: 0 });
    expect((await paged(start, end, 1)).eroare).toBe('S-au facut deja 0 interogari de lista mesaje de catre utilizator in cursul zilei');
  });
});

describe('descarcare', () => {
  it('serves the real production ZIP byte for byte under its documented id', async () => {
    const response = await call(`descarcare?id=${REAL_PROD_ZIP.downloadId}`);
    expect(response.headers.get('content-type')).toBe('application/zip');
    expect(Buffer.from(await response.arrayBuffer()).equals(fixtureBytes('descarcare-nok-duplicate.REAL-PROD.zip'))).toBe(true);
    const stare = await text(`stareMesaj?id_incarcare=${REAL_PROD_ZIP.index}`);
    expect(stare).toContain(`stare="nok" id_descarcare="${REAL_PROD_ZIP.downloadId}"`);
    const listed = await json(`listaMesajeFactura?zile=1&cif=${REAL_PROD_ZIP.cif}`);
    expect(listed.mesaje).toEqual([expect.objectContaining({ id: REAL_PROD_ZIP.downloadId, tip: 'ERORI FACTURA', id_solicitare: REAL_PROD_ZIP.index })]);
    const members = unzip(await download(REAL_PROD_ZIP.downloadId));
    expect(members[`${REAL_PROD_ZIP.index}.xml`]!.equals(fixtureBytes(`descarcare-nok-duplicate.member-${REAL_PROD_ZIP.index}.xml`))).toBe(true);
  });

  it('zips the uploaded XML and a signature; seeded messages download too', async () => {
    const body = invoice();
    const index = indexOf(await upload(body));
    const members = unzip(await download(downloadIdOf(await text(`stareMesaj?id_incarcare=${index}`))));
    expect(Object.keys(members)).toEqual([`${index}.xml`, `semnatura_${index}.xml`]);
    expect(members[`${index}.xml`]!.toString()).toBe(body);
    expect(members[`semnatura_${index}.xml`]!.toString()).toContain('<Signature xmlns="http://www.w3.org/2000/09/xmldsig#">');
    const [seeded] = emulator.control.seedMessages({ cif: CIF, type: 'errors' });
    const doc = unzip(await download(seeded!.id))[`${seeded!.id_solicitare}.xml`]!.toString();
    expect(doc).toContain('<header xmlns="mfp:anaf:dgti:efactura:mesajEroriFactuta:v1"');
  });

  it('answers ANAF failures: unknown, no right, 60 days, daily limit as published', async () => {
    expect(await json('descarcare?id=21')).toEqual(fixtureJson('descarcare-eroare-id-inexistent.json'));
    expect((await call('descarcare')).status).toBe(400);
    const [message] = emulator.control.seedMessages({ cif: OTHER, type: 'invoice-received' });
    emulator.control.setSpvRights(SERIAL, [CIF]);
    expect(await json(`descarcare?id=${message!.id}`)).toEqual(fixtureJson('descarcare-eroare-fara-drept.json'));
    emulator.control.setSpvRights(SERIAL, null);
    expect((await admin('message-expired', { id: message!.id })).status).toBe(200);
    expect(await json(`descarcare?id=${message!.id}`)).toEqual(fixtureJson('descarcare-eroare-60-zile.FIELD-OBSERVED.json'));
    expect((await json(`listaMesajeFactura?zile=1&cif=${OTHER}`)).mesaje).toHaveLength(1);
    expect((await admin('message-expired', { id: '1' })).status).toBe(400);

    const [fresh] = emulator.control.seedMessages({ cif: CIF, type: 'invoice-sent' });
    for (let i = 0; i < 10; i++) expect((await call(`descarcare?id=${fresh!.id}`)).headers.get('content-type')).toBe('application/zip');
    const limited = await call(`descarcare?id=${fresh!.id}`);
    expect(limited.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await limited.text()).toBe(fixtureText('descarcare-eroare-limita-zilnica.AS-PUBLISHED.txt'));
  });
});

describe('SPV rights', () => {
  it('refuses uploads for CIFs the certificate has no rights for', async () => {
    emulator.control.setSpvRights(SERIAL, [CIF]);
    expect(await upload(invoice())).toContain('ExecutionStatus="0"');
    const refused = await upload(invoice(), `standard=UBL&cif=${OTHER}`);
    expect(refused).toBe(fixtureText('upload-error-no-right-for-cif.xml').replace('CIF=1234', `CIF=${OTHER}`).replace(/dateResponse="\d{12}"/, /dateResponse="\d{12}"/.exec(refused)![0]));
    emulator.control.setSpvRights(SERIAL, []);
    sameAsFixture(await upload(invoice()), 'upload-error-no-spv-rights.xml');
    emulator.control.setSpvRights('5b:00:00:00:56:78:9a', []);
    emulator.control.setSpvRights(SERIAL, null);
    expect(await upload(invoice(OTHER, '<!-- 2 -->'))).toContain('ExecutionStatus="0"');
  });
});

describe('public host', () => {
  const post = (path: string, body: string, contentType = 'text/plain', base = emulator.publicApiBaseUrl) =>
    fetch(`${base}/${path}`, { method: 'POST', headers: { 'content-type': contentType }, body });

  it('validates and renders PDFs without a token, on the production path only', async () => {
    const ok = await (await post('validare/FACT1', invoice())).json();
    expect(ok).toEqual({ stare: 'ok', trace_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    const nok = await (await post('validare/FACT1', invoice(OTHER, '<!-- emulator:validare=nok -->'))).json();
    expect(nok).toEqual({ ...fixtureJson('validare-nok.json'), trace_id: expect.any(String) });
    expect(await (await post('validare/FCN', invoice())).json()).toMatchObject({ stare: 'nok' });

    const pdf = await post('transformare/FACT1', invoice());
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    const bytes = Buffer.from(await pdf.arrayBuffer()).toString('latin1');
    expect(bytes.startsWith('%PDF-1.4\n')).toBe(true);
    expect(bytes.trimEnd().endsWith('%%EOF')).toBe(true);
    const xref = Number(/startxref\n(\d+)/.exec(bytes)![1]);
    expect(bytes.slice(xref, xref + 4)).toBe('xref');
    [...bytes.matchAll(/(\d{10}) 00000 n /g)].forEach((m, i) => {
      expect(bytes.slice(Number(m[1]), Number(m[1]) + `${i + 1} 0 obj`.length)).toBe(`${i + 1} 0 obj`);
    });
    expect(bytes).toContain('(Factura F-1 \\(FACT1\\)');
    expect(await (await post('transformare/FCN', invoice())).json()).toMatchObject({ stare: 'nok', Messages: [expect.any(Object)] });
    expect((await post('transformare/FCN/DA', invoice())).headers.get('content-type')).toBe('application/pdf');

    expect((await post('validare/FACT1', invoice(), 'text/plain', emulator.publicApiBaseUrl.replace('/prod/', '/test/'))).status).toBe(404);
    expect((await post('validare/FACT1', invoice(), 'application/xml')).status).toBe(415);
    expect((await post('validare/XYZ', invoice())).status).toBe(404);
    expect(await (await post('validare/FACT1', 'x'.repeat(5 * 1024 * 1024 + 1))).json()).toMatchObject({ stare: 'nok' });
    const firewall = await post('transformare/FACT1', invoice(OTHER, '<!-- emulator:firewall -->'));
    expect(firewall.status).toBe(200);
    expect(firewall.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await firewall.text()).toContain('The requested URL was rejected');
    expect(emulator.control.apiStats().calls).toMatchObject({ validare: 6, transformare: 4 });
  });
});

describe('failure switches', () => {
  it('applies each kind to the targeted endpoint, then answers normally', async () => {
    const lista = `listaMesajeFactura?zile=1&cif=${CIF}`;
    const cases: [string, (r: Response) => Promise<void>][] = [
      ['server_error', async (r) => expect(r.status).toBe(500)],
      ['unavailable', async (r) => expect([r.status, r.headers.get('content-type')]).toEqual([503, 'text/html'])],
      ['rate_limited', async (r) => expect([r.status, r.headers.get('retry-after')]).toEqual([429, '1'])],
      ['unauthorized', async (r) => expect(r.status).toBe(401)],
      ['firewall', async (r) => expect(await r.text()).toContain('The requested URL was rejected')],
      ['text_plain_json', async (r) => expect([r.headers.get('content-type'), ((await r.json()) as { titlu: string }).titlu]).toEqual(['text/plain;charset=UTF-8', 'Lista Mesaje'])],
      ['garbage', async (r) => {
        expect([r.status, r.headers.get('content-type')]).toEqual([200, 'application/json;charset=UTF-8']);
        const body = await r.text();
        expect(() => JSON.parse(body)).toThrow();
      }],
      ['technical_error', async (r) => expect(((await r.json()) as { eroare: string }).eroare).toBe('A aparut o eroare tehnica. Cod: XXX')],
    ];
    for (const [kind, check] of cases) {
      expect((await admin('fail-next', { target: 'listaMesajeFactura', kind })).status, kind).toBe(200);
      await check(await call(lista));
      expect((await call(lista)).status, `${kind} is used once`).toBe(200);
    }
    emulator.control.failNext('garbage', 1, { target: 'descarcare' });
    const garbage = await call(`descarcare?id=${REAL_PROD_ZIP.downloadId}`);
    expect(garbage.headers.get('content-type')).toBe('application/zip');
    expect(Buffer.from(await garbage.arrayBuffer()).subarray(0, 2).toString()).not.toBe('PK');
    emulator.control.failNext('text_plain_json', 1, { target: 'stareMesaj' });
    const plain = await call('stareMesaj?id_incarcare=1');
    expect(plain.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await plain.json()).toEqual({ eroare: 'S-au facut deja 100 descarcari de mesaj in cursul zilei', titlu: 'Stare Mesaj' });
    emulator.control.failNext('firewall', 1, { target: 'validare' });
    expect(await (await fetch(`${emulator.publicApiBaseUrl}/validare/FACT1`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: invoice() })).text()).toContain('rejected');
  });

  it('hang never answers, drop processes and loses the answer, slow answers, any queues for every call', async () => {
    emulator.control.failNext('hang', 1, { target: 'upload' });
    await expect(call(`upload?standard=UBL&cif=${CIF}`, { method: 'POST', body: invoice(), signal: AbortSignal.timeout(300) })).rejects.toThrow();
    emulator.control.failNext('drop', 1, { target: 'upload' });
    await expect(upload(invoice())).rejects.toThrow();
    const next = Number(indexOf(await upload(invoice(OTHER, '<!-- after drop -->'))));
    expect(await text(`stareMesaj?id_incarcare=${next - 1}`)).toContain('stare="ok"');
    expect(await text(`stareMesaj?id_incarcare=${next - 2}`)).toContain('Nu exista factura');
    expect(emulator.control.apiStats().calls.upload).toBe(3);

    emulator.control.failNext('slow', 1, { target: 'any', ms: 20 });
    expect((await call(`descarcare?id=${REAL_PROD_ZIP.downloadId}`)).status).toBe(200);
    emulator.control.failNext('unauthorized', 2, { target: 'any' });
    expect((await call('stareMesaj?id_incarcare=1')).status).toBe(401);
    expect((await call(`listaMesajeFactura?zile=1&cif=${CIF}`)).status).toBe(401);
    expect((await call(`listaMesajeFactura?zile=1&cif=${CIF}`)).status).toBe(200);

    expect((await admin('fail-next', { target: 'upload', kind: 'invalid_grant' })).status).toBe(400);
    expect((await admin('fail-next', { target: 'nowhere', kind: 'hang' })).status).toBe(400);
    expect((await admin('fail-next', { target: 'upload', kind: 'slow' })).status).toBe(400);
    expect((await admin('fail-next', { kind: 'garbage' })).status).toBe(400);
  });
});

describe('limits and stats', () => {
  it('answers 429 over the per-minute limit until the next minute, and counts calls per endpoint', async () => {
    await admin('limits', { callsPerMinute: 2 });
    // Start at the beginning of an emulator-clock minute, so the three calls share it.
    await admin('clock', { advanceSeconds: 61 - ((Date.now() / 1000) % 60) });
    const token2 = token;
    expect((await call(`listaMesajeFactura?zile=1&cif=${CIF}`, { token: token2 })).status).toBe(200);
    expect((await call(`descarcare?id=${REAL_PROD_ZIP.downloadId}`, { token: token2 })).status).toBe(200);
    const refused = await call(`stareMesaj?id_incarcare=1`, { token: token2 });
    expect(refused.status).toBe(429);
    expect(await refused.json()).toEqual({ status: 429, error: 'Too Many Requests' });
    await admin('clock', { advanceSeconds: 60 });
    expect((await call(`stareMesaj?id_incarcare=1`, { token: token2 })).status).toBe(200);

    const stats = (await (await fetch(`${emulator.url}/__emulator/stats`)).json()) as { api: { calls: Record<ApiEndpoint, number>; rateLimited: number } };
    expect(stats.api).toEqual({
      calls: { upload: 0, uploadb2c: 0, stareMesaj: 2, listaMesajeFactura: 1, listaMesajePaginatieFactura: 0, descarcare: 1, validare: 0, transformare: 0 },
      rateLimited: 1,
    });
    const state = (await (await fetch(`${emulator.url}/__emulator/state`)).json()) as Record<string, any>;
    expect(state).toMatchObject({ publicApiBaseUrl: emulator.publicApiBaseUrl, efactura: { limits: { callsPerMinute: 2 }, realProdZip: REAL_PROD_ZIP } });
    expect(JSON.stringify(state)).not.toContain(token2);
  });

  it('rejects bad admin input with 400', async () => {
    for (const [action, body] of [
      ['limits', { callsPerMinute: -1 }],
      ['limits', { nonsense: 1 }],
      ['limits', { xmlCallLimitAnswer: 'html' }],
      ['clock', { advanceSeconds: -5 }],
      ['spv-rights', { cifs: ['RO1'] }],
      ['spv-rights', { serial: 'zz', cifs: null }],
      ['upload-outcome', { outcome: 'maybe' }],
      ['messages', { cif: CIF, type: 'spam' }],
      ['messages', { cif: 'RO1', type: 'errors' }],
      ['messages', { cif: CIF, type: 'errors', count: 0 }],
    ] as const) {
      expect((await admin(action, body)).status, `${action} ${JSON.stringify(body)}`).toBe(400);
    }
    const seeded = (await (await admin('messages', { cif: CIF, type: 'self-billed', count: 2 })).json()) as { messages: { id_solicitare: string }[] };
    expect(seeded.messages).toHaveLength(4);
    expect(new Set(seeded.messages.map((m) => m.id_solicitare)).size).toBe(2);
  });
});
