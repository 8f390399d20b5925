/**
 * The e-Factura REST API (`/prod|test/FCTEL/rest/...`, bearer token) answering with ANAF's published
 * bodies (copied into test/support/fixtures/anaf/) with the request's values substituted: uploads and
 * their processing, both message lists, downloads, SPV rights per certificate serial, and ANAF's
 * limits counted on the emulator clock.
 */
import { createHash } from 'node:crypto';
import { storedZip } from './zip.js';
import {
  compactTime,
  escapeXml,
  fixture,
  fixtureBytes,
  jsonOf,
  jsonText,
  romaniaDay,
  springError,
  springTime,
  textPlain,
  withTimestamp,
  xmlProblem,
  xmlText,
  type Reply,
} from './format.js';
import {
  DEFAULT_LIMITS,
  type ApiEndpoint,
  type ApiFailureKind,
  type EmulatorLimits,
  type SeededMessage,
  type SeedMessagesInput,
  type UploadOutcome,
} from './types.js';

export type { Reply } from './format.js';

const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;
const PAGE_SIZE = 500;
const SIMPLE_LIST_MAX = 500;
const DAY_MS = 24 * 3600 * 1000;
const STANDARDS = new Set(['UBL', 'CN', 'CII', 'RASP']);
const CIF_DIGITS = /^[0-9]{1,13}$/;

/** The real production ZIP (a duplicate rejected as nok), served byte for byte under this id. */
export const REAL_PROD_ZIP = { downloadId: '3001500000', index: '5935607155', cif: '22354360' } as const;

export const TIP = {
  sent: 'FACTURA TRIMISA',
  received: 'FACTURA PRIMITA',
  errors: 'ERORI FACTURA',
  buyer: 'MESAJ CUMPARATOR PRIMIT / MESAJ CUMPARATOR TRANSMIS',
} as const;
const FILTERS: Record<string, string> = { E: TIP.errors, T: TIP.sent, P: TIP.received, R: TIP.buyer };

/** `detalii` texts: ANAF's formats (anaf.md); the buyer-message wording is the emulator's (unconfirmed). */
export const DETALII = {
  invoice: (index: string, issuer: string, buyer: string) =>
    `Factura cu id_incarcare=${index} emisa de cif_emitent=${issuer} pentru cif_beneficiar=${buyer}`,
  selfBilled: (index: string, uploader: string, inNameOf: string) =>
    `Factura cu id_incarcare=${index} transmisa de cif=${uploader} ca autofactura in numele cif=${inNameOf}`,
  errors: (index: string) => `Erori de validare identificate la factura primita cu id_incarcare=${index}`,
  buyerMessage: (index: string, sender: string, recipient: string) =>
    `Mesaj cumparator cu id_incarcare=${index} transmis de cif_emitent=${sender} pentru cif_beneficiar=${recipient}`,
};

function loadFixtures() {
  const stamp = 'dateResponse="202108051144"';
  return {
    lista400: fixture('lista-mesaje-400.json'),
    listaZile: fixture('lista-mesaje-eroare-zile.json'),
    listaNoRight: fixture('lista-mesaje-eroare-fara-drept-cif.json', ['CIF=8000000000']),
    listaLimit: fixture('lista-mesaje-eroare-limita-zilnica.json', ['deja 1000 ']),
    listaEmpty: fixture('lista-mesaje-eroare-nu-exista-mesaje.json', ['ultimele 15 zile']),
    listaOver500: fixture('lista-mesaje-eroare-peste-500.json'),
    pagedOk: JSON.parse(fixture('lista-mesaje-paginatie.json')) as Record<string, unknown>,
    pagedFuture: fixture('lista-mesaje-paginatie-eroare-endtime-viitor.json', ['02-12-2022 11:49:24']),
    pagedEmpty: fixture('lista-mesaje-paginatie-eroare-nu-exista-mesaje.json'),
    pagedPage: fixture('lista-mesaje-paginatie-eroare-pagina.json', ['solicitata 50 ', 'pagini 29']),
    pagedTooOld: fixture('lista-mesaje-paginatie-eroare-starttime-60-zile.json', ['09-07-2022 10:41:11']),
    stareOk: fixture('stare-ok.xml', ['id_descarcare="1234"']),
    stareNok: fixture('stare-nok.xml', ['id_descarcare="123"']),
    stareProcessing: fixture('stare-in-prelucrare.xml'),
    stareXmlErrors: fixture('stare-xml-cu-erori.xml'),
    stareNotFound: fixture('stare-error-not-found.xml', ['id_incarcare= 15000']),
    stareNoRight: fixture('stare-error-no-right-for-index.xml', ['id_incarcare= 18']),
    stareLimit: fixture('stare-error-daily-limit.xml', ['deja 20 ']),
    stare400: fixture('stare-400-missing-param.json'),
    uploadOk: fixture('upload-ok.xml', ['dateResponse="202108051140"', 'index_incarcare="3828"']),
    upload400: fixture('upload-400-missing-params.json'),
    uploadBadStandard: fixture('upload-error-invalid-standard.xml', [stamp]),
    uploadTooLarge: fixture('upload-error-too-large.xml', [stamp]),
    uploadInvalidXml: fixture('upload-error-invalid-xml.xml', [stamp, 'org.xml.sax.SAXParseException', "'Invoice1'. "]),
    uploadNoRightCif: fixture('upload-error-no-right-for-cif.xml', ['dateResponse="202210121034"', 'CIF=1234']),
    uploadNoRights: fixture('upload-error-no-spv-rights.xml', ['dateResponse="202210121036"']),
    uploadRaspLimit: fixture('upload-error-rasp-daily-limit.xml', ['dateResponse="202401260957"', 'deja 1000 ', 'cui=1234 ']),
    uploadTechnical: fixture('upload-error-technical.xml', ['dateResponse="202210121034"']),
    descarcare400: fixture('descarcare-400.json'),
    descarcareUnknown: fixture('descarcare-eroare-id-inexistent.json', ['id=21 ']),
    descarcareNoRight: fixture('descarcare-eroare-fara-drept.json'),
    descarcareExpired: fixture('descarcare-eroare-60-zile.FIELD-OBSERVED.json'),
    descarcareLimit: fixture('descarcare-eroare-limita-zilnica.AS-PUBLISHED.txt', ['deja 10 ']),
    realZip: fixtureBytes('descarcare-nok-duplicate.REAL-PROD.zip'),
    realError: fixture('descarcare-nok-duplicate.member-5935607155.xml', ['mesajEroriFactuta']),
  };
}

const SIGNATURE = Buffer.from(
  '<?xml version="1.0" encoding="UTF-8" standalone="no"?>' +
    '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><!-- emulator: not a real signature --></Signature>',
);

/** The error document ANAF puts in a nok upload's ZIP (namespace spelled as ANAF spells it). */
export const errorDocument = (index: string, cif: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n` +
  `<header xmlns="mfp:anaf:dgti:efactura:mesajEroriFactuta:v1" Index_incarcare="${index}" Cif_emitent="${cif}">\n` +
  `    <Error errorMessage="${escapeXml(message).replaceAll('\n', '&#xA;')}"/>\n</header>\n`;

const invoiceXml = (index: string, seller: string, buyer: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"` +
  ` xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"` +
  ` xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">` +
  `<cbc:ID>EMU-${index}</cbc:ID>` +
  `<cac:AccountingSupplierParty><cac:Party><cac:PartyTaxScheme><cbc:CompanyID>RO${seller}</cbc:CompanyID></cac:PartyTaxScheme></cac:Party></cac:AccountingSupplierParty>` +
  `<cac:AccountingCustomerParty><cac:Party><cac:PartyTaxScheme><cbc:CompanyID>RO${buyer}</cbc:CompanyID></cac:PartyTaxScheme></cac:Party></cac:AccountingCustomerParty>` +
  `</Invoice>\n`;

/** The party CIF of a UBL/CII section, digits only, when the XML names one. */
function partyCif(xml: string, party: 'Supplier' | 'Customer'): string | undefined {
  const section = new RegExp(`<(?:cac:)?Accounting${party}Party>([\\s\\S]*?)</(?:cac:)?Accounting${party}Party>`).exec(xml)?.[1];
  const id = section && /<(?:cbc:)?(?:CompanyID|EndpointID)[^>]*>\s*(?:RO)?\s*([0-9]{1,13})\s*</i.exec(section)?.[1];
  return id || undefined;
}

interface Upload {
  index: string;
  cif: string;
  standard: string;
  body: Buffer;
  hash: string;
  atMs: number;
  processingMs: number;
  outcome: UploadOutcome;
  errorMessage?: string;
  selfBilled: boolean;
  /** The other party's CIF (buyer, or for a self-billed invoice the seller), when known and in Romania. */
  counterpart?: string;
  /** The listed message's id (`id_descarcare`) and, for a buyer's or self-billed copy, the second one. */
  downloadId: string;
  copyId: string;
  fixedZip?: Buffer;
}

interface Message {
  id: string;
  /** Whose list shows it. */
  cif: string;
  idSolicitare: string;
  tip: string;
  detalii: string;
  atMs: number;
  zip: () => Buffer;
}

export interface Caller {
  /** The certificate serial behind the bearer token. */
  serial: string;
}

/** Builds the e-Factura handlers over the shared clock; `reset()` forgets everything but re-seeds the real ZIP. */
export function createEfactura(now: () => number) {
  const f = loadFixtures();
  const uploads = new Map<string, Upload>();
  const seeded = new Map<string, Message>();
  const expired = new Set<string>();
  const counters = new Map<string, number>();
  const rights = new Map<string, Set<string> | null>();
  let limits: EmulatorLimits = { ...DEFAULT_LIMITS };
  let defaultOutcome = { outcome: 'ok' as UploadOutcome, processingSeconds: 0, errorMessage: undefined as string | undefined };
  let nextIndex = 5_001_200_000;
  let nextId = 3_001_600_000;
  const newIndex = () => String(nextIndex++);
  const newId = () => String(nextId++);

  /** Adds one to a counter and answers whether it is now over `limit`. Days are Romania days. */
  function over(name: string, key: string, limit: number, window: 'day' | 'minute'): boolean {
    const period = window === 'day' ? romaniaDay(now()) : String(Math.floor(now() / 60_000));
    const counterKey = `${period}|${name}|${key}`;
    const count = (counters.get(counterKey) ?? 0) + 1;
    counters.set(counterKey, count);
    return count > limit;
  }

  const covered = (caller: Caller, cif: string) => {
    const set = rights.get(caller.serial);
    return set === undefined || set === null || set.has(cif);
  };

  // ---- messages ----
  const uploadZip = (u: Upload) => () =>
    u.fixedZip ??
    storedZip(
      [
        {
          name: `${u.index}.xml`,
          data: u.outcome === 'ok' ? u.body : Buffer.from(errorDocument(u.index, u.cif, u.errorMessage ?? defaultErrorMessage(u.cif))),
        },
        { name: `semnatura_${u.index}.xml`, data: SIGNATURE },
      ],
      new Date(u.atMs + u.processingMs),
    );
  const defaultErrorMessage = (cif: string) =>
    `E: validari globale\n eroare regula: R6.1: CIF-ul vanzatorului nu figureaza in baza de date:${cif}`;

  /** What an upload lists once processed: sent (plus the buyer's or self-billed copy), or errors. */
  function messagesOf(u: Upload): Message[] {
    const readyAt = u.atMs + u.processingMs;
    if (now() < readyAt || u.outcome === 'xml-errors') return [];
    const zip = uploadZip(u);
    const base = { idSolicitare: u.index, atMs: readyAt, zip };
    if (u.outcome === 'nok') return [{ ...base, id: u.downloadId, cif: u.cif, tip: TIP.errors, detalii: DETALII.errors(u.index) }];
    if (u.selfBilled) {
      const detalii = DETALII.selfBilled(u.index, u.cif, u.counterpart ?? '3');
      return [
        { ...base, id: u.downloadId, cif: u.cif, tip: TIP.sent, detalii },
        { ...base, id: u.copyId, cif: u.cif, tip: TIP.received, detalii },
      ];
    }
    const buyer = u.counterpart ?? '3';
    if (u.standard === 'RASP') {
      const detalii = DETALII.buyerMessage(u.index, u.cif, buyer);
      const sent = { ...base, id: u.downloadId, cif: u.cif, tip: TIP.buyer, detalii };
      return u.counterpart && u.counterpart !== u.cif ? [sent, { ...base, id: u.copyId, cif: u.counterpart, tip: TIP.buyer, detalii }] : [sent];
    }
    const detalii = DETALII.invoice(u.index, u.cif, buyer);
    const sent = { ...base, id: u.downloadId, cif: u.cif, tip: TIP.sent, detalii };
    return u.counterpart && u.counterpart !== u.cif ? [sent, { ...base, id: u.copyId, cif: u.counterpart, tip: TIP.received, detalii }] : [sent];
  }

  const allMessages = (): Message[] => [...seeded.values(), ...[...uploads.values()].flatMap(messagesOf)];
  const newestFirst = (a: Message, b: Message) => b.atMs - a.atMs || Number(b.id) - Number(a.id);
  const view = (m: Message) => ({ data_creare: compactTime(m.atMs), cif: m.cif, id_solicitare: m.idSolicitare, detalii: m.detalii, tip: m.tip, id: m.id });

  function seedMessages(input: SeedMessagesInput): SeededMessage[] {
    const { cif, type } = input;
    const count = input.count ?? 1;
    const ageMs = (input.ageSeconds ?? 60) * 1000;
    const spacingMs = (input.spacingSeconds ?? 60) * 1000;
    const other = input.counterpartCif ?? '3';
    const created: Message[] = [];
    for (let i = 0; i < count; i++) {
      const index = newIndex();
      const atMs = now() - ageMs - i * spacingMs;
      const sign = (xml: string) => () =>
        storedZip(
          [
            { name: `${index}.xml`, data: Buffer.from(xml) },
            { name: `semnatura_${index}.xml`, data: SIGNATURE },
          ],
          new Date(atMs),
        );
      const one = (tip: string, detalii: string, xml: string): Message => ({ id: newId(), cif, idSolicitare: index, tip, detalii, atMs, zip: sign(xml) });
      if (type === 'invoice-sent') created.push(one(TIP.sent, DETALII.invoice(index, cif, other), invoiceXml(index, cif, other)));
      if (type === 'invoice-received') created.push(one(TIP.received, DETALII.invoice(index, other, cif), invoiceXml(index, other, cif)));
      if (type === 'errors') created.push(one(TIP.errors, DETALII.errors(index), errorDocument(index, cif, defaultErrorMessage(cif))));
      if (type === 'buyer-message') {
        created.push(one(TIP.buyer, DETALII.buyerMessage(index, other, cif), `<?xml version="1.0" encoding="UTF-8"?>\n<MesajCumparator index="${index}"/>\n`));
      }
      if (type === 'self-billed') {
        const detalii = DETALII.selfBilled(index, cif, other);
        const xml = invoiceXml(index, other, cif);
        created.push(one(TIP.sent, detalii, xml), one(TIP.received, detalii, xml));
      }
    }
    for (const m of created) seeded.set(m.id, m);
    return created.map((m) => ({ id: m.id, id_solicitare: m.idSolicitare, tip: m.tip, data_creare: compactTime(m.atMs) }));
  }

  function seedRealZip(): void {
    const atMs = now();
    uploads.set(REAL_PROD_ZIP.index, {
      index: REAL_PROD_ZIP.index,
      cif: REAL_PROD_ZIP.cif,
      standard: 'UBL',
      body: Buffer.alloc(0),
      hash: '',
      atMs,
      processingMs: 0,
      outcome: 'nok',
      errorMessage: /errorMessage="([^"]*)"/.exec(f.realError)![1],
      selfBilled: false,
      downloadId: REAL_PROD_ZIP.downloadId,
      copyId: REAL_PROD_ZIP.downloadId,
      fixedZip: f.realZip,
    });
  }
  seedRealZip();

  // ---- lists ----
  const listaError = (eroare: string) => jsonOf(200, { eroare, titlu: 'Lista Mesaje' });
  const noRightForCif = (cif: string) => jsonText(200, f.listaNoRight.replace('CIF=8000000000', `CIF=${cif}`));
  const listLimit = (limit: number) => jsonText(200, f.listaLimit.replace('deja 1000 ', `deja ${limit} `));
  const serialOf = (caller: Caller) => caller.serial.replaceAll(':', '').toUpperCase();

  /** Shared checks of both lists: a digits-only CIF, SPV rights, the filter. Answers an error or the messages. */
  function listed(query: URLSearchParams, caller: Caller, cif: string): Reply | Message[] {
    if (!CIF_DIGITS.test(cif)) return listaError(`CIF introdus= ${cif} nu este un numar`);
    if (!covered(caller, cif)) return noRightForCif(cif);
    const filtru = query.get('filtru');
    if (filtru !== null && !(filtru in FILTERS)) return listaError('Valorile acceptate pentru parametrul filtru sunt E, T, P sau R');
    return allMessages().filter((m) => m.cif === cif && (filtru === null || m.tip === FILTERS[filtru]));
  }

  function listaMesajeFactura(query: URLSearchParams, caller: Caller): Reply {
    const zile = query.get('zile');
    const cif = query.get('cif');
    if (!zile || !cif) return withTimestamp(f.lista400, now());
    if (CIF_DIGITS.test(cif) && over('lista', cif, limits.listsPerCuiPerDay, 'day')) return listLimit(limits.listsPerCuiPerDay);
    const days = Number(zile);
    if (!/^[0-9]+$/.test(zile) || days < 1 || days > 60) return jsonText(200, f.listaZile);
    const found = listed(query, caller, cif);
    if (!Array.isArray(found)) return found;
    const since = now() - days * DAY_MS;
    const messages = found.filter((m) => m.atMs >= since && m.atMs <= now()).sort(newestFirst);
    if (messages.length === 0) return jsonText(200, f.listaEmpty.replace('ultimele 15 zile', `ultimele ${days} zile`));
    if (messages.length > SIMPLE_LIST_MAX) return jsonText(200, f.listaOver500);
    return jsonOf(200, { mesaje: messages.map(view), serial: serialOf(caller), cui: cif, titlu: `Lista Mesaje disponibile din ultimele ${days} zile` });
  }

  function listaMesajePaginatieFactura(query: URLSearchParams, caller: Caller): Reply {
    const [start, end, cif, pagina] = ['startTime', 'endTime', 'cif', 'pagina'].map((name) => query.get(name));
    if (!start || !end || !cif || !pagina) {
      return springError(400, 'Bad Request', 'Parametrii startTime, endTime, cif si pagina sunt obligatorii', now());
    }
    if (![start, end, pagina].every((v) => /^[0-9]{1,15}$/.test(v))) {
      return springError(400, 'Bad Request', 'Parametrii startTime, endTime si pagina trebuie sa fie numerici', now());
    }
    if (CIF_DIGITS.test(cif) && over('paged', cif, limits.pagedListsPerCuiPerDay, 'day')) return listLimit(limits.pagedListsPerCuiPerDay);
    const [startMs, endMs, page] = [Number(start), Number(end), Number(pagina)];
    if (endMs > now()) return jsonText(200, f.pagedFuture.replace('02-12-2022 11:49:24', springTime(endMs)));
    if (startMs < now() - 60 * DAY_MS) return jsonText(200, f.pagedTooOld.replace('09-07-2022 10:41:11', springTime(startMs)));
    const found = listed(query, caller, cif);
    if (!Array.isArray(found)) return found;
    const messages = found.filter((m) => m.atMs >= startMs && m.atMs <= endMs).sort(newestFirst);
    if (messages.length === 0) return jsonText(200, f.pagedEmpty);
    const pages = Math.ceil(messages.length / PAGE_SIZE);
    if (page < 1 || page > pages) {
      return jsonText(200, f.pagedPage.replace('solicitata 50 ', `solicitata ${page} `).replace('pagini 29', `pagini ${pages}`));
    }
    const slice = messages.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE);
    return jsonOf(200, {
      mesaje: slice.map(view),
      numar_inregistrari_in_pagina: slice.length,
      numar_total_inregistrari_per_pagina: PAGE_SIZE,
      numar_total_inregistrari: messages.length,
      numar_total_pagini: pages,
      index_pagina_curenta: page,
      serial: serialOf(caller),
      cui: cif,
      titlu: `Lista Mesaje disponibile din intervalul ${springTime(startMs)} - ${springTime(endMs)}`,
    });
  }

  // ---- stareMesaj ----
  const stareError = (message: string) =>
    xmlText(
      `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<header xmlns="mfp:anaf:dgti:efactura:stareMesajFactura:v1">\n` +
        `    <Errors errorMessage="${escapeXml(message)}"/>\n</header>\n`,
    );

  function stareMesaj(query: URLSearchParams, caller: Caller): Reply {
    const id = query.get('id_incarcare');
    if (!id) return withTimestamp(f.stare400, now());
    if (over('stare', id, limits.statusPerMessagePerDay, 'day')) {
      const limit = limits.statusPerMessagePerDay;
      return limits.xmlCallLimitAnswer === 'xml'
        ? xmlText(f.stareLimit.replace('deja 20 ', `deja ${limit} `))
        : textPlain(JSON.stringify({ eroare: `S-au facut deja ${limit} descarcari de mesaj in cursul zilei`, titlu: 'Stare Mesaj' }));
    }
    const upload = uploads.get(id);
    if (!upload) return xmlText(f.stareNotFound.replace('id_incarcare= 15000', `id_incarcare= ${escapeXml(id)}`));
    if (!covered(caller, upload.cif)) return xmlText(f.stareNoRight.replace('id_incarcare= 18', `id_incarcare= ${id}`));
    if (now() < upload.atMs + upload.processingMs) return xmlText(f.stareProcessing);
    if (upload.outcome === 'xml-errors') return xmlText(f.stareXmlErrors);
    if (upload.outcome === 'nok') return xmlText(f.stareNok.replace('id_descarcare="123"', `id_descarcare="${upload.downloadId}"`));
    return xmlText(f.stareOk.replace('id_descarcare="1234"', `id_descarcare="${upload.downloadId}"`));
  }

  // ---- upload ----
  const uploadError = (message: string, stamp: string) =>
    xmlText(
      `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n` +
        `<header xmlns="mfp:anaf:dgti:spv:respUploadFisier:v1" ${stamp} ExecutionStatus="1">\n` +
        `    <Errors errorMessage="${escapeXml(message)}"/>\n</header>\n`,
    );

  function upload(query: URLSearchParams, body: Buffer, tooLarge: boolean, caller: Caller): Reply {
    const standard = query.get('standard');
    const cif = query.get('cif');
    const stamp = `dateResponse="${compactTime(now())}"`;
    const restamp = (text: string) => text.replace(/dateResponse="\d{12}"/, stamp);
    if (!standard || !cif) return withTimestamp(f.upload400, now());
    if (!STANDARDS.has(standard)) return xmlText(restamp(f.uploadBadStandard));
    if (tooLarge || body.length > MAX_UPLOAD_BYTES) return xmlText(restamp(f.uploadTooLarge));
    if (!CIF_DIGITS.test(cif)) return uploadError(`CIF introdus= ${cif} nu este un numar`, stamp);
    const right = rights.get(caller.serial);
    if (right instanceof Set && right.size === 0) return xmlText(restamp(f.uploadNoRights));
    if (!covered(caller, cif)) return xmlText(restamp(f.uploadNoRightCif).replace('CIF=1234', `CIF=${cif}`));
    if (standard === 'RASP' && over('rasp', cif, limits.raspPerCuiPerDay, 'day')) {
      const message = `S-au incarcat deja ${limits.raspPerCuiPerDay} de mesaje de tip RASP pentru cui=${cif} in cursul zilei`;
      return limits.xmlCallLimitAnswer === 'xml'
        ? xmlText(restamp(f.uploadRaspLimit).replace(/S-au incarcat[^"]*/, escapeXml(message)))
        : textPlain(JSON.stringify({ eroare: message, titlu: 'Upload fisier' }));
    }
    const problem = xmlProblem(body, standard);
    if (problem) return uploadError(`Fisierul transmis nu este valid. ${problem} `, stamp);

    const text = body.toString('utf8');
    const selfBilled = query.get('autofactura') === 'DA';
    const hash = createHash('sha256').update(body).digest('hex');
    const marker = /emulator:outcome=(ok|nok|xml-errors)/.exec(text)?.[1] as UploadOutcome | undefined;
    const markedSeconds = /emulator:processing-seconds=([0-9]{1,7})/.exec(text)?.[1];
    const first = [...uploads.values()].find((u) => u.cif === cif && u.hash === hash && u.outcome === 'ok');
    const record: Upload = {
      index: newIndex(),
      cif,
      standard,
      body,
      hash,
      atMs: now(),
      processingMs: (markedSeconds !== undefined ? Number(markedSeconds) : defaultOutcome.processingSeconds) * 1000,
      outcome: first ? 'nok' : (marker ?? defaultOutcome.outcome),
      errorMessage: first
        ? `Factura a mai fost transmisa anterior cu index=${first.index} si data incarcare=${romaniaDay(first.atMs)}`
        : defaultOutcome.errorMessage,
      selfBilled,
      counterpart:
        query.get('extern') === 'DA' || query.get('b2c') ? undefined : partyCif(text, selfBilled ? 'Supplier' : 'Customer'),
      downloadId: newId(),
      copyId: newId(),
    };
    uploads.set(record.index, record);
    return xmlText(restamp(f.uploadOk).replace('index_incarcare="3828"', `index_incarcare="${record.index}"`));
  }

  // ---- descarcare ----
  function descarcare(query: URLSearchParams, caller: Caller): Reply {
    const id = query.get('id');
    if (!id) return withTimestamp(f.descarcare400, now());
    if (over('descarcare', id, limits.downloadsPerMessagePerDay, 'day')) {
      return textPlain(f.descarcareLimit.replace('deja 10 ', `deja ${limits.downloadsPerMessagePerDay} `));
    }
    const message = seeded.get(id) ?? [...uploads.values()].flatMap(messagesOf).find((m) => m.id === id);
    if (!message) {
      const body = JSON.parse(f.descarcareUnknown) as { eroare: string; titlu: string };
      return jsonOf(200, { ...body, eroare: body.eroare.replace('id=21 ', `id=${id} `) });
    }
    if (!covered(caller, message.cif)) return jsonText(200, f.descarcareNoRight);
    if (expired.has(id)) return jsonText(200, f.descarcareExpired);
    return {
      status: 200,
      headers: { 'content-type': 'application/zip', 'content-disposition': `attachment; filename="${id}.zip"` },
      body: message.zip(),
    };
  }

  /** The daily-limit text of a call, with the current limit (text_plain_json answers it). */
  function limitText(endpoint: ApiEndpoint): string {
    switch (endpoint) {
      case 'upload':
      case 'uploadb2c':
        return `S-au incarcat deja ${limits.raspPerCuiPerDay} de mesaje de tip RASP pentru cui=0 in cursul zilei`;
      case 'stareMesaj':
        return `S-au facut deja ${limits.statusPerMessagePerDay} descarcari de mesaj in cursul zilei`;
      case 'descarcare':
        return `S-au facut deja ${limits.downloadsPerMessagePerDay} descarcari de mesaj in cursul zilei`;
      case 'listaMesajePaginatieFactura':
        return `S-au facut deja ${limits.pagedListsPerCuiPerDay} interogari de lista mesaje de catre utilizator in cursul zilei`;
      default:
        return `S-au facut deja ${limits.listsPerCuiPerDay} interogari de lista mesaje de catre utilizator in cursul zilei`;
    }
  }

  /** Answers of the injected failures that take the call's own shape. */
  function failureReply(kind: Extract<ApiFailureKind, 'text_plain_json' | 'garbage' | 'technical_error'>, endpoint: ApiEndpoint): Reply {
    const isXml = endpoint === 'upload' || endpoint === 'uploadb2c' || endpoint === 'stareMesaj';
    const titlu = { upload: 'Upload fisier', uploadb2c: 'Upload fisier', stareMesaj: 'Stare Mesaj', descarcare: 'Descarcare mesaj' }[endpoint as string] ?? 'Lista Mesaje';
    if (kind === 'garbage') {
      const type = isXml ? 'application/xml;charset=UTF-8' : endpoint === 'descarcare' ? 'application/zip' : 'application/json;charset=UTF-8';
      return { status: 200, headers: { 'content-type': type }, body: '\u0000emulator: not an ANAF answer <<<{' };
    }
    if (kind === 'text_plain_json') return textPlain(JSON.stringify({ eroare: limitText(endpoint), titlu }));
    const technical = 'A aparut o eroare tehnica. Cod: XXX';
    if (endpoint === 'upload' || endpoint === 'uploadb2c') return xmlText(f.uploadTechnical.replace(/dateResponse="\d{12}"/, `dateResponse="${compactTime(now())}"`));
    if (endpoint === 'stareMesaj') return stareError(technical);
    return jsonOf(200, { eroare: technical, titlu });
  }

  return {
    /** Routes one call with a live token; `endpoint` is the path after `/FCTEL/rest/`. */
    handle(method: string, endpoint: string, query: URLSearchParams, body: Buffer, tooLarge: boolean, caller: Caller): Reply {
      if (over('calls', 'app', limits.callsPerMinute, 'minute')) return jsonOf(429, { status: 429, error: 'Too Many Requests' });
      switch (`${method} ${endpoint}`) {
        case 'GET listaMesajeFactura':
          return listaMesajeFactura(query, caller);
        case 'GET listaMesajePaginatieFactura':
          return listaMesajePaginatieFactura(query, caller);
        case 'GET stareMesaj':
          return stareMesaj(query, caller);
        case 'POST upload':
          return upload(query, body, tooLarge, caller);
        case 'POST uploadb2c':
          return upload(new URLSearchParams([...query, ['b2c', 'DA']]), body, tooLarge, caller);
        case 'GET descarcare':
          return descarcare(query, caller);
        default:
          return springError(404, 'Not Found', 'No message available', now());
      }
    },
    failureReply,
    /** ANAF's gateway answer to a missing, unknown or expired bearer token. */
    unauthorized(): Reply {
      return jsonOf(401, { timestamp: springTime(now()), status: 401, error: 'Unauthorized' });
    },
    seedMessages,
    expireDownload(id: string): boolean {
      const known = seeded.has(id) || [...uploads.values()].some((u) => u.downloadId === id || u.copyId === id);
      if (known) expired.add(id);
      return known;
    },
    setSpvRights(serial: string, cifs: string[] | null): void {
      rights.set(serial, cifs === null ? null : new Set(cifs));
    },
    /** False when `index` names no upload. */
    setUploadOutcome(o: { index?: string; outcome: UploadOutcome; processingSeconds?: number; errorMessage?: string }): boolean {
      if (o.index === undefined) {
        defaultOutcome = { outcome: o.outcome, processingSeconds: o.processingSeconds ?? 0, errorMessage: o.errorMessage };
        return true;
      }
      const u = uploads.get(o.index);
      if (!u) return false;
      u.outcome = o.outcome;
      if (o.processingSeconds !== undefined) u.processingMs = o.processingSeconds * 1000;
      if (o.errorMessage !== undefined) u.errorMessage = o.errorMessage;
      return true;
    },
    setLimits(l: Partial<EmulatorLimits>): void {
      limits = { ...limits, ...l };
    },
    view: () => ({
      limits: { ...limits },
      defaultUploadOutcome: { ...defaultOutcome },
      spvRights: Object.fromEntries([...rights].map(([serial, set]) => [serial, set === null ? null : [...set]])),
      uploads: uploads.size,
      seededMessages: seeded.size,
      realProdZip: { ...REAL_PROD_ZIP },
    }),
    reset(): void {
      uploads.clear();
      seeded.clear();
      expired.clear();
      counters.clear();
      rights.clear();
      limits = { ...DEFAULT_LIMITS };
      defaultOutcome = { outcome: 'ok', processingSeconds: 0, errorMessage: undefined };
      seedRealZip();
    },
    maxUploadBytes: MAX_UPLOAD_BYTES,
  };
}
