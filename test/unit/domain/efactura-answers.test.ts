import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  cifsFromDetails,
  messageType,
  parseDownloadAnswer,
  parseListAnswer,
  parsePdfAnswer,
  parseStatusAnswer,
  parseUploadAnswer,
  parseValidateAnswer,
  xmlErrorMessages,
  type Parsed,
  type RawAnswer,
} from '../../../shared/domain/efactura.js';
import { anafCompactTimeToIso, secondsUntilRomaniaMidnight } from '../../../shared/domain/romania-time.js';
import { readZip, zipPart } from '../../../shared/domain/zip.js';

const DIR = new URL('../../support/fixtures/anaf/', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, DIR));
const answer = (body: Uint8Array | string, status = 200, contentType = 'application/json'): RawAnswer => ({
  status,
  contentType,
  body: typeof body === 'string' ? Buffer.from(body) : body,
});

/** The parser a fixture's name points at (ANAF's call), and HTTP status ANAF sent it with. */
function parse(name: string, body: Buffer): Parsed<unknown> {
  const status = /-400/.test(name) ? 400 : 200;
  const raw = answer(body, status, name.endsWith('.xml') ? 'application/xml' : 'application/json');
  if (name.startsWith('upload-')) return parseUploadAnswer(raw);
  if (name.startsWith('stare-')) return parseStatusAnswer(raw);
  if (name.startsWith('lista-mesaje-paginatie')) return parseListAnswer(raw, true);
  if (name.startsWith('lista-mesaje')) return parseListAnswer(raw, false);
  if (name.startsWith('descarcare-')) return parseDownloadAnswer(raw);
  if (name.startsWith('validare-')) return parseValidateAnswer(raw);
  throw new Error(`no parser for ${name}`);
}

type Expected =
  | { ok: unknown }
  | { code: string; spvScope?: 'cif' | 'message'; message?: RegExp }
  /** Not an e-Factura answer, or a ZIP member: checked by its own test below. */
  | { skip: string };

/** Every file of the fixtures folder must be named here: a new fixture cannot be forgotten. */
const EXPECTED: Record<string, Expected> = {
  'descarcare-400.json': { code: 'ANAF_REJECTED', message: /Parametrul id este obligatoriu/ },
  'descarcare-eroare-60-zile.FIELD-OBSERVED.json': { code: 'EXPIRED_60_DAYS' },
  'descarcare-eroare-fara-drept.json': { code: 'NO_SPV_RIGHTS', spvScope: 'message' },
  'descarcare-eroare-id-inexistent.json': { code: 'MESSAGE_NOT_FOUND' },
  'descarcare-eroare-limita-zilnica.AS-PUBLISHED.txt': { code: 'ANAF_DAILY_LIMIT', message: /10 descarcari/ },
  'descarcare-nok-duplicate.REAL-PROD.zip': { ok: 'zip' },
  'descarcare-nok-duplicate.member-5935607155.xml': { skip: 'ZIP member (zip test)' },
  'descarcare-nok-duplicate.member-semnatura_5935607155.xml': { skip: 'ZIP member (zip test)' },
  'descarcare-zip-member-erori-R6.1.OCA-fixture.xml': { skip: 'ZIP member (error document test)' },
  'jwt-access-token-claims.SHAPE-ONLY.json': { skip: 'OAuth' },
  'lista-mesaje-400.json': { code: 'ANAF_REJECTED' },
  'lista-mesaje-eroare-fara-drept-cif.json': { code: 'NO_SPV_RIGHTS', spvScope: 'cif' },
  'lista-mesaje-eroare-limita-zilnica.json': { code: 'ANAF_DAILY_LIMIT' },
  'lista-mesaje-eroare-nu-exista-mesaje.json': { ok: { messages: [] } },
  'lista-mesaje-eroare-peste-500.json': { code: 'list-too-large' },
  'lista-mesaje-eroare-zile.json': { code: 'VALIDATION_ERROR' },
  'lista-mesaje-paginatie-eroare-endtime-viitor.json': { code: 'ANAF_UNAVAILABLE' },
  'lista-mesaje-paginatie-eroare-nu-exista-mesaje.FIELD-OBSERVED-TEST.json': { ok: { messages: [], page: 0, pages: 0 } },
  'lista-mesaje-paginatie-eroare-nu-exista-mesaje.json': { ok: { messages: [], page: 0, pages: 0 } },
  'lista-mesaje-paginatie-eroare-pagina.json': { code: 'VALIDATION_ERROR', message: /Pagina solicitata 50/ },
  'lista-mesaje-paginatie-eroare-starttime-60-zile.json': { code: 'VALIDATION_ERROR' },
  'lista-mesaje-paginatie.json': {
    ok: {
      messages: [
        {
          id: '3001474425',
          downloadId: '3001474425',
          uploadId: '5001120362',
          createdAt: '2022-10-31T14:52:00+02:00',
          type: 'errors',
          issuerCif: null,
          buyerCif: null,
          details: 'Erori de validare identificate la factura primita cu id_incarcare=5001120362',
        },
        {
          id: '3001474424',
          downloadId: '3001474424',
          uploadId: '5001120366',
          createdAt: '2022-10-31T14:52:00+02:00',
          type: 'errors',
          issuerCif: null,
          buyerCif: null,
          details: 'Erori de validare identificate la factura primita cu id_incarcare=5001120366',
        },
      ],
      page: 29,
      pages: 29,
    },
  },
  'lista-mesaje.json': {
    ok: {
      messages: [
        {
          id: '3001293434',
          downloadId: '3001293434',
          uploadId: '5001130147',
          createdAt: '2022-11-01T14:15:00+02:00',
          type: 'errors',
          issuerCif: null,
          buyerCif: null,
          details: 'Erori de validare identificate la factura primita cu id_incarcare=5001130147',
        },
        {
          id: '3001503294',
          downloadId: '3001503294',
          uploadId: '5001131297',
          createdAt: '2022-11-01T13:36:00+02:00',
          type: 'invoice-sent',
          issuerCif: '8000000000',
          buyerCif: '3',
          details: 'Factura cu id_incarcare=5001131297 emisa de cif_emitent=8000000000 pentru cif_beneficiar=3',
        },
      ],
    },
  },
  'oauth-callback-examples.txt': { skip: 'OAuth' },
  'README.md': { skip: 'documentation' },
  'stare-400-missing-param.json': { code: 'ANAF_REJECTED' },
  'stare-error-daily-limit.xml': { code: 'ANAF_DAILY_LIMIT' },
  'stare-error-no-right-for-index.xml': { code: 'NO_SPV_RIGHTS', spvScope: 'message' },
  'stare-error-not-found.xml': { code: 'MESSAGE_NOT_FOUND' },
  'stare-in-prelucrare.xml': { ok: { state: 'processing' } },
  'stare-nok.xml': { ok: { state: 'rejected', downloadId: '123' } },
  'stare-ok.xml': { ok: { state: 'accepted', downloadId: '1234' } },
  'stare-xml-cu-erori.xml': { ok: { state: 'invalid-xml' } },
  'token-error-invalid_client.PARTIAL.json': { skip: 'OAuth' },
  'token-response.SHAPE-ONLY.json': { skip: 'OAuth' },
  'upload-400-missing-params.json': { code: 'ANAF_REJECTED' },
  'upload-error-invalid-standard.xml': { code: 'ANAF_REJECTED', message: /standard/ },
  'upload-error-invalid-xml.xml': { code: 'ANAF_REJECTED', message: /Invoice1/ },
  'upload-error-no-right-for-cif.xml': { code: 'NO_SPV_RIGHTS', spvScope: 'cif' },
  'upload-error-no-spv-rights.xml': { code: 'NO_SPV_RIGHTS', spvScope: 'cif' },
  'upload-error-rasp-daily-limit.xml': { code: 'ANAF_DAILY_LIMIT' },
  'upload-error-technical.xml': { code: 'ANAF_UNAVAILABLE' },
  'upload-error-too-large.xml': { code: 'ANAF_REJECTED', message: /10 MB/ },
  'upload-ok.xml': { ok: { uploadId: '3828' } },
  'validare-nok.json': { ok: 'validare-nok' },
  'validare-ok.json': { ok: { valid: true, messages: [] } },
};

describe('every ANAF fixture parses to its typed outcome', () => {
  const files = readdirSync(DIR).sort();

  it('names every file of the folder, and only those', () => {
    expect(files).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const name of files) {
    const expected = EXPECTED[name];
    if (!expected || 'skip' in expected) continue;
    it(name, () => {
      const result = parse(name, read(name));
      if ('ok' in expected) {
        expect(result.ok, JSON.stringify(result)).toBe(true);
        if (!result.ok) return;
        if (expected.ok === 'zip') expect(Buffer.from(result.value as Uint8Array).equals(read(name))).toBe(true);
        else if (expected.ok === 'validare-nok') {
          expect(result.value).toMatchObject({ valid: false });
          expect((result.value as { messages: string[] }).messages).toHaveLength(3);
          expect((result.value as { messages: string[] }).messages[2]).toMatch(/R_BT_32_cui/);
        } else expect(result.value).toEqual(expected.ok);
        return;
      }
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.failure.code).toBe(expected.code);
      if (expected.spvScope) expect(result.failure.spvScope).toBe(expected.spvScope);
      if (expected.message) expect(result.failure.messages.join(' ')).toMatch(expected.message);
      expect(result.failure.messages.length).toBeGreaterThan(0);
    });
  }
});

describe('shapes no fixture holds', () => {
  const firewall = '<html><head><title>Request Rejected</title></head><body>The requested URL was rejected. Please consult with your administrator.</body></html>';
  it.each<[string, () => Parsed<unknown>, string]>([
    ['firewall page on validare', () => parseValidateAnswer(answer(firewall, 200, 'text/html')), 'ANAF_REJECTED'],
    ['firewall page on transformare', () => parsePdfAnswer(answer(firewall, 200, 'text/html')), 'ANAF_REJECTED'],
    ['text/plain JSON daily limit on the XML status call', () => parseStatusAnswer(answer('{"eroare":"S-au facut deja 100 interogari in cursul zilei","titlu":"Stare"}', 200, 'text/plain')), 'ANAF_DAILY_LIMIT'],
    ['text/plain JSON no rights on upload', () => parseUploadAnswer(answer('{"eroare":"Nu aveti drept in SPV pentru CIF=1234","titlu":"Upload"}', 200, 'text/plain')), 'NO_SPV_RIGHTS'],
    ['garbage', () => parseUploadAnswer(answer('\u0000\u0001 garbage', 200, 'application/octet-stream')), 'ANAF_REJECTED'],
    ['empty body', () => parseStatusAnswer(answer('', 200)), 'ANAF_REJECTED'],
    ['HTTP 401', () => parseListAnswer(answer('{"status":401,"error":"Unauthorized"}', 401), false), 'unauthorized'],
    ['HTTP 503 without a known body', () => parseDownloadAnswer(answer('<html>Service Unavailable</html>', 503, 'text/html')), 'ANAF_UNAVAILABLE'],
    ['HTTP 429', () => parseDownloadAnswer(answer('', 429)), 'ANAF_UNAVAILABLE'],
    ['an eroare body under HTTP 500 is still read', () => parseDownloadAnswer(answer('{"eroare":"Pentru id=2 nu exista inregistrata nici o factura"}', 500)), 'MESSAGE_NOT_FOUND'],
    ['PDF refused with messages', () => parsePdfAnswer(answer('{"stare":"nok","Messages":[{"message":"E: bad"}]}')), 'ANAF_REJECTED'],
    ['an upload XML with ExecutionStatus 0 and no index', () => parseUploadAnswer(answer('<header ExecutionStatus="0"/>', 200, 'application/xml')), 'ANAF_REJECTED'],
    ['an unknown stare', () => parseStatusAnswer(answer('<header stare="altceva"/>', 200, 'application/xml')), 'ANAF_REJECTED'],
  ])('%s', (_, run, code) => {
    const result = run();
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.failure.code).toBe(code);
  });

  it('a PDF answer is its bytes', () => {
    const pdf = Buffer.from('%PDF-1.4\n%\u00e2\u00e3\n1 0 obj\n');
    const result = parsePdfAnswer(answer(pdf, 200, 'application/pdf'));
    expect(result.ok && Buffer.from(result.value).equals(pdf)).toBe(true);
  });
});

describe('message fields', () => {
  it.each([
    ['Factura cu id_incarcare=1 emisa de cif_emitent=8000000000 pentru cif_beneficiar=3', '8000000000', '3'],
    ['Factura cu id_incarcare=2 transmisa de cif=14399840 ca autofactura in numele cif=18547290', '18547290', '14399840'],
    ['Erori de validare identificate la factura primita cu id_incarcare=5001130147', null, null],
  ])('%s', (details, issuerCif, buyerCif) => {
    expect(cifsFromDetails(details)).toEqual({ issuerCif, buyerCif });
  });

  it.each([
    ['FACTURA TRIMISA', 'invoice-sent'],
    ['FACTURA PRIMITA', 'invoice-received'],
    ['ERORI FACTURA', 'errors'],
    ['MESAJ CUMPARATOR PRIMIT / MESAJ CUMPARATOR TRANSMIS', 'buyer-message'],
  ])('tip %s → %s', (tip, type) => expect(messageType(tip)).toBe(type));

  it.each([
    ['202211011415', '2022-11-01T14:15:00+02:00'],
    ['202207011415', '2022-07-01T14:15:00+03:00'],
    // The autumn hour that occurs twice: the summer one.
    ['202310290330', '2023-10-29T03:30:00+03:00'],
    ['202310290430', '2023-10-29T04:30:00+02:00'],
    ['2022110114', null],
    ['202213011415', null],
  ])('data_creare %s → %s', (value, iso) => expect(anafCompactTimeToIso(value)).toBe(iso));

  it.each([
    // 22:00 UTC in winter is midnight in Romania; one minute before it, 60 s are left.
    ['2026-01-15T21:59:00Z', 60],
    ['2026-01-15T22:00:00Z', 86_400],
    // Summer: midnight is 21:00 UTC.
    ['2026-07-15T20:00:00Z', 3600],
  ])('seconds from %s to midnight in Romania: %d', (at, seconds) => expect(secondsUntilRomaniaMidnight(Date.parse(at))).toBe(seconds));
});

describe('ZIP members', () => {
  const zip = read('descarcare-nok-duplicate.REAL-PROD.zip');

  it("the real production ZIP's members come out byte-identical", () => {
    expect(readZip(zip).map((m) => m.name)).toEqual(['5935607155.xml', 'semnatura_5935607155.xml']);
    expect(zipPart(zip, 'invoice')!.data.equals(read('descarcare-nok-duplicate.member-5935607155.xml'))).toBe(true);
    expect(zipPart(zip, 'signature')!.data.equals(read('descarcare-nok-duplicate.member-semnatura_5935607155.xml'))).toBe(true);
  });

  it('error documents inside a ZIP give their messages', () => {
    expect(xmlErrorMessages(read('descarcare-nok-duplicate.member-5935607155.xml').toString())).toEqual([
      'Factura a mai fost transmisa anterior cu index=5896677868 si data incarcare=2026-01-20',
    ]);
    expect(xmlErrorMessages(read('descarcare-zip-member-erori-R6.1.OCA-fixture.xml').toString())[0]).toMatch(/^E: validari globale\n eroare regula: R6\.1/);
  });

  it('refuses what is not a ZIP', () => {
    expect(() => readZip(Buffer.from('{"eroare":"x"}'))).toThrow(/not a ZIP/);
  });
});
