/**
 * A small e-Factura REST API (`/prod|test/FCTEL/rest/...`) answering with ANAF's published example
 * bodies (copied into test/support/fixtures/anaf/), with the request's values substituted.
 * Uploads are remembered so that stareMesaj, listaMesajeFactura and descarcare can find them.
 */
import { readFileSync } from 'node:fs';
import { storedZip } from './zip.js';

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

const FIXTURES_DIR = new URL('../../test/support/fixtures/anaf/', import.meta.url);
const JSON_TYPE = 'application/json;charset=UTF-8';
const XML_TYPE = 'application/xml;charset=UTF-8';
const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;
const STANDARDS = new Set(['UBL', 'CN', 'CII', 'RASP']);
const CIF_DIGITS = /^[0-9]{1,13}$/;

function fixture(name: string, mustContain: string[] = []): string {
  const text = readFileSync(new URL(name, FIXTURES_DIR), 'utf8');
  for (const needle of mustContain) {
    if (!text.includes(needle)) throw new Error(`ANAF fixture ${name} no longer contains ${JSON.stringify(needle)}`);
  }
  return text;
}

function loadFixtures() {
  return {
    listaOk: JSON.parse(fixture('lista-mesaje.json')) as {
      mesaje: Record<string, string>[];
      serial: string;
      cui: string;
      titlu: string;
    },
    lista400: fixture('lista-mesaje-400.json'),
    listaZile: fixture('lista-mesaje-eroare-zile.json'),
    stareOk: fixture('stare-ok.xml', ['id_descarcare="1234"']),
    stareNotFound: fixture('stare-error-not-found.xml', ['id_incarcare= 15000']),
    stare400: fixture('stare-400-missing-param.json'),
    uploadOk: fixture('upload-ok.xml', ['dateResponse="202108051140"', 'index_incarcare="3828"']),
    upload400: fixture('upload-400-missing-params.json'),
    uploadBadStandard: fixture('upload-error-invalid-standard.xml', ['dateResponse="202108051144"']),
    uploadTooLarge: fixture('upload-error-too-large.xml', ['dateResponse="202108051144"']),
    descarcare400: fixture('descarcare-400.json'),
    descarcareUnknown: fixture('descarcare-eroare-id-inexistent.json', ['id=21 ']),
  };
}

const escapeXml = (value: string) =>
  value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);

/** Romania-time parts of an instant (ANAF stamps its answers in local time). */
function romaniaTime(ms: number) {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/Bucharest',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(ms));
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '00';
  return { y: get('year'), mo: get('month'), d: get('day'), h: get('hour'), mi: get('minute'), s: get('second') };
}
/** `yyyyMMddHHmm`, as in `dateResponse` and `data_creare`. */
const compactTime = (ms: number) => {
  const t = romaniaTime(ms);
  return `${t.y}${t.mo}${t.d}${t.h}${t.mi}`;
};
/** `dd-MM-yyyy HH:mm:ss`, as in the `timestamp` of ANAF's 400 bodies. */
const springTime = (ms: number) => {
  const t = romaniaTime(ms);
  return `${t.d}-${t.mo}-${t.y} ${t.h}:${t.mi}:${t.s}`;
};

const json = (status: number, body: string): Reply => ({ status, headers: { 'content-type': JSON_TYPE }, body });
const xml = (body: string): Reply => ({ status: 200, headers: { 'content-type': XML_TYPE }, body });
const withTimestamp = (template: string, ms: number) =>
  JSON.stringify({ ...(JSON.parse(template) as object), timestamp: springTime(ms) }, null, 2);
const notADigitsCif = (cif: string) => `CIF introdus= ${cif} nu este un numar`;

interface Upload {
  index: string;
  cif: string;
  downloadId: string;
  xml: Buffer;
  atMs: number;
}

/** Builds the e-Factura handlers over the shared clock; `reset()` forgets uploads. */
export function createEfactura(now: () => number) {
  const f = loadFixtures();
  const uploads = new Map<string, Upload>();
  const downloads = new Map<string, Upload>();
  let nextIndex = 5_001_200_000;
  let nextDownloadId = 3_001_600_000;

  function listaMesajeFactura(query: URLSearchParams): Reply {
    const zile = query.get('zile');
    const cif = query.get('cif');
    if (!zile || !cif) return json(400, withTimestamp(f.lista400, now()));
    if (!CIF_DIGITS.test(cif)) return json(200, JSON.stringify({ eroare: notADigitsCif(cif), titlu: 'Lista Mesaje' }));
    const days = Number(zile);
    if (!/^[0-9]+$/.test(zile) || days < 1 || days > 60) return json(200, f.listaZile);
    const since = now() - days * 24 * 3600 * 1000;
    const ours = [...uploads.values()]
      .filter((u) => u.cif === cif && u.atMs >= since)
      .reverse()
      .map((u) => ({
        data_creare: compactTime(u.atMs),
        cif,
        id_solicitare: u.index,
        detalii: `Factura cu id_incarcare=${u.index} emisa de cif_emitent=${cif} pentru cif_beneficiar=3`,
        tip: 'FACTURA TRIMISA',
        id: u.downloadId,
      }));
    const body = {
      mesaje: [...ours, ...f.listaOk.mesaje.map((m) => ({ ...m, cif }))],
      serial: f.listaOk.serial,
      cui: cif,
      titlu: `Lista Mesaje disponibile din ultimele ${days} zile`,
    };
    return json(200, JSON.stringify(body));
  }

  function stareMesaj(query: URLSearchParams): Reply {
    const id = query.get('id_incarcare');
    if (!id) return json(400, withTimestamp(f.stare400, now()));
    const upload = uploads.get(id);
    if (!upload) return xml(f.stareNotFound.replace('id_incarcare= 15000', `id_incarcare= ${escapeXml(id)}`));
    return xml(f.stareOk.replace('id_descarcare="1234"', `id_descarcare="${upload.downloadId}"`));
  }

  function upload(query: URLSearchParams, body: Buffer, tooLarge: boolean): Reply {
    const standard = query.get('standard');
    const cif = query.get('cif');
    const stamp = `dateResponse="${compactTime(now())}"`;
    if (!standard || !cif) return json(400, withTimestamp(f.upload400, now()));
    if (!STANDARDS.has(standard)) return xml(f.uploadBadStandard.replace('dateResponse="202108051144"', stamp));
    if (tooLarge || body.length > MAX_UPLOAD_BYTES) {
      return xml(f.uploadTooLarge.replace('dateResponse="202108051144"', stamp));
    }
    if (!CIF_DIGITS.test(cif)) {
      return xml(
        `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n` +
          `<header xmlns="mfp:anaf:dgti:spv:respUploadFisier:v1" ${stamp} ExecutionStatus="1">\n` +
          `    <Errors errorMessage="${escapeXml(notADigitsCif(cif))}"/>\n</header>\n`,
      );
    }
    const record: Upload = {
      index: String(nextIndex++),
      cif,
      downloadId: String(nextDownloadId++),
      xml: body,
      atMs: now(),
    };
    uploads.set(record.index, record);
    downloads.set(record.downloadId, record);
    return xml(
      f.uploadOk
        .replace('dateResponse="202108051140"', stamp)
        .replace('index_incarcare="3828"', `index_incarcare="${record.index}"`),
    );
  }

  function descarcare(query: URLSearchParams): Reply {
    const id = query.get('id');
    if (!id) return json(400, withTimestamp(f.descarcare400, now()));
    const record = downloads.get(id);
    if (!record) {
      const body = JSON.parse(f.descarcareUnknown) as { eroare: string; titlu: string };
      return json(200, JSON.stringify({ ...body, eroare: body.eroare.replace('id=21 ', `id=${id} `) }));
    }
    const signature = Buffer.from(
      '<?xml version="1.0" encoding="UTF-8" standalone="no"?>' +
        '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><!-- emulator: not a real signature --></Signature>',
    );
    const zip = storedZip(
      [
        { name: `${record.index}.xml`, data: record.xml },
        { name: `semnatura_${record.index}.xml`, data: signature },
      ],
      new Date(now()),
    );
    return {
      status: 200,
      headers: { 'content-type': 'application/zip', 'content-disposition': `attachment; filename="${record.downloadId}.zip"` },
      body: zip,
    };
  }

  return {
    /** Routes one authenticated call; `endpoint` is the path after `/FCTEL/rest/`. */
    handle(method: string, endpoint: string, query: URLSearchParams, body: Buffer, tooLarge: boolean): Reply {
      const route = `${method} ${endpoint}`;
      switch (route) {
        case 'GET listaMesajeFactura':
          return listaMesajeFactura(query);
        case 'GET stareMesaj':
          return stareMesaj(query);
        case 'POST upload':
        case 'POST uploadb2c':
          return upload(query, body, tooLarge);
        case 'GET descarcare':
          return descarcare(query);
        default:
          return json(
            404,
            JSON.stringify({ timestamp: springTime(now()), status: 404, error: 'Not Found', message: 'No message available' }),
          );
      }
    },
    /** ANAF's gateway answer to a missing, unknown or expired bearer token. */
    unauthorized(): Reply {
      return json(401, JSON.stringify({ timestamp: springTime(now()), status: 401, error: 'Unauthorized' }));
    },
    reset(): void {
      uploads.clear();
      downloads.clear();
    },
    maxUploadBytes: MAX_UPLOAD_BYTES,
  };
}
