/**
 * ANAF's e-Factura answers turned into typed results. ANAF reports most failures with HTTP 200 (a
 * `{eroare, titlu}` JSON, an `<Errors errorMessage>` XML, a text/plain JSON on an XML call, a firewall's
 * HTML page), so every parser looks at the body first and at the status only when the body says nothing.
 * Pure: no fetch, no clock (the caller passes what it needs).
 */
import { anafCompactTimeToIso } from './romania-time.js';

/** What ANAF answered, as it came. */
export interface RawAnswer {
  status: number;
  contentType: string;
  body: Uint8Array;
  /** Seconds of a Retry-After header, when ANAF sent one. */
  retryAfterSeconds?: number;
}

/**
 * Why a call failed. The public codes are the API's own; `unauthorized` (HTTP 401: the access token is
 * refused) and `list-too-large` (the simple list holds over 500 messages) are handled by the service.
 */
export type EfacturaFailureCode =
  | 'NO_SPV_RIGHTS'
  | 'ANAF_DAILY_LIMIT'
  | 'MESSAGE_NOT_FOUND'
  | 'EXPIRED_60_DAYS'
  | 'VALIDATION_ERROR'
  | 'ANAF_REJECTED'
  | 'ANAF_UNAVAILABLE'
  | 'unauthorized'
  | 'list-too-large';

export interface EfacturaFailure {
  code: EfacturaFailureCode;
  /** ANAF's own words (for the API's message); never a token. */
  messages: string[];
  /** NO_SPV_RIGHTS only: `cif` when the certificate has no rights on the company, `message` when only on that one message. */
  spvScope?: 'cif' | 'message';
  /** ANAF_UNAVAILABLE after an HTTP 429 with a Retry-After header. */
  retryAfterSeconds?: number;
  /** The request may have reached ANAF and been acted on (a read timeout, a connection broken mid-answer). */
  uncertain?: boolean;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; failure: EfacturaFailure };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(code: EfacturaFailureCode, messages: string[], extra: Partial<EfacturaFailure> = {}): Parsed<T> => ({
  ok: false,
  failure: { code, messages, ...extra },
});

/** An ANAF sentence mapped to its failure; the first rule that matches wins. */
const MESSAGE_RULES: ReadonlyArray<{ test: RegExp; code: EfacturaFailureCode; spvScope?: 'cif' | 'message' }> = [
  { test: /nu aveti drept in SPV|nu exista niciun CIF pentru care sa aveti drept/i, code: 'NO_SPV_RIGHTS', spvScope: 'cif' },
  // Rights on the company but not on this message (it belongs to another CIF's exchange).
  { test: /nu aveti dreptul (sa descarcati|de inte\w*gare)/i, code: 'NO_SPV_RIGHTS', spvScope: 'message' },
  { test: /S-au (facut|incarcat) deja/i, code: 'ANAF_DAILY_LIMIT' },
  { test: /perioada de 60 de zile/i, code: 'EXPIRED_60_DAYS' },
  { test: /nu exista (inregistrata )?(nici o|nicio) factura|nu exista factura cu/i, code: 'MESSAGE_NOT_FOUND' },
  { test: /mai mare decat numarul de 500/i, code: 'list-too-large' },
  // ANAF's own clock ran behind ours: a retry a minute later passes.
  { test: /nu poate (fi )?in viitor/i, code: 'ANAF_UNAVAILABLE' },
  { test: /eroare tehnica/i, code: 'ANAF_UNAVAILABLE' },
  { test: /pagina solicitata \d+ este mai mare|numarul de zile trebuie|nu poate fi mai vechi de 60|nu este un numar/i, code: 'VALIDATION_ERROR' },
];

/** "No messages" on either list: an empty list, not an error. */
const NO_MESSAGES = /^nu exista mesaje/i;

/** Maps one ANAF error sentence to its failure (ANAF_REJECTED when no rule knows it). */
export function classifyAnafMessage(message: string): EfacturaFailure {
  const rule = MESSAGE_RULES.find((r) => r.test.test(message));
  return { code: rule?.code ?? 'ANAF_REJECTED', messages: [message], ...(rule?.spvScope ? { spvScope: rule.spvScope } : {}) };
}

/** The body as the kind of document it is, whatever the content type claims. */
type Shape =
  | { kind: 'json'; value: Record<string, unknown> }
  | { kind: 'eroare'; message: string }
  | { kind: 'xml'; text: string }
  | { kind: 'firewall' }
  | { kind: 'zip' }
  | { kind: 'pdf' }
  | { kind: 'other'; text: string };

const startsWith = (body: Uint8Array, bytes: number[]) => bytes.every((b, i) => body[i] === b);

function shapeOf(body: Uint8Array): Shape {
  if (startsWith(body, [0x50, 0x4b, 0x03, 0x04])) return { kind: 'zip' };
  if (startsWith(body, [0x25, 0x50, 0x44, 0x46])) return { kind: 'pdf' };
  const text = new TextDecoder().decode(body).replace(/^\uFEFF/, '').trim();
  if (/The requested URL was rejected/i.test(text)) return { kind: 'firewall' };
  if (text.startsWith('{')) {
    try {
      const value = JSON.parse(text) as unknown;
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        const record = value as Record<string, unknown>;
        if (typeof record.eroare === 'string') return { kind: 'eroare', message: record.eroare };
        return { kind: 'json', value: record };
      }
    } catch {
      // ANAF has published (and served) JSON with a stray brace: its `eroare` is still readable.
      const eroare = /"eroare"\s*:\s*"((?:[^"\\]|\\.)*)"/.exec(text)?.[1];
      if (eroare !== undefined) return { kind: 'eroare', message: JSON.parse(`"${eroare}"`) as string };
    }
    return { kind: 'other', text };
  }
  if (text.startsWith('<?xml') || /^<[A-Za-z]/.test(text)) {
    return /^<!doctype html|^<html/i.test(text) ? { kind: 'other', text } : { kind: 'xml', text };
  }
  return { kind: 'other', text };
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const decodeXml = (value: string) =>
  value.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (whole, name: string) => {
    if (name[0] === '#') return String.fromCodePoint(name[1]?.toLowerCase() === 'x' ? parseInt(name.slice(2), 16) : Number(name.slice(1)));
    return XML_ENTITIES[name] ?? whole;
  });

/** An attribute of the root `<header …>` element. */
function headerAttribute(xml: string, name: string): string | undefined {
  const header = /<(?:\w+:)?header\b([^>]*)>/i.exec(xml)?.[1];
  if (!header) return undefined;
  const value = new RegExp(`\\s${name}\\s*=\\s*"([^"]*)"`).exec(header)?.[1];
  return value === undefined ? undefined : decodeXml(value);
}

/** Every `errorMessage` of `<Errors>` (answers) or `<Error>` (error documents inside a ZIP). */
export function xmlErrorMessages(xml: string): string[] {
  return [...xml.matchAll(/<(?:\w+:)?Errors?\b[^>]*\serrorMessage\s*=\s*"([^"]*)"/g)].map((m) => decodeXml(m[1]!).trim());
}

/** Failure from an answer that is not the expected success: the body first, then the status. */
function failureOf<T>(answer: RawAnswer, shape: Shape): Parsed<T> {
  if (answer.status === 401) return fail('unauthorized', ['ANAF refused the access token (HTTP 401)']);
  if (shape.kind === 'eroare') return { ok: false, failure: classifyAnafMessage(shape.message) };
  if (shape.kind === 'xml') {
    const messages = xmlErrorMessages(shape.text);
    if (messages.length > 0) {
      const first = classifyAnafMessage(messages[0]!);
      return { ok: false, failure: { ...first, messages } };
    }
  }
  if (shape.kind === 'firewall') {
    return fail('ANAF_REJECTED', ["ANAF's firewall refused the request (The requested URL was rejected); it reacts to the document's content"]);
  }
  if (answer.status === 429 || answer.status >= 500) {
    const retry = answer.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: answer.retryAfterSeconds };
    return fail('ANAF_UNAVAILABLE', [`ANAF answered HTTP ${answer.status}`], retry);
  }
  if (shape.kind === 'json' && typeof shape.value.message === 'string') {
    // Spring's 400 body (`{timestamp, status, error, message}`): a parameter we sent is wrong.
    return fail('ANAF_REJECTED', [shape.value.message]);
  }
  return fail('ANAF_REJECTED', [`ANAF answered HTTP ${answer.status} with a body that is not one of its known answers`]);
}

export type UploadStandard = 'UBL' | 'CN' | 'CII' | 'RASP';

/** `upload`/`uploadb2c`: `ExecutionStatus="0"` with `index_incarcare`, or its errors. */
export function parseUploadAnswer(answer: RawAnswer): Parsed<{ uploadId: string }> {
  const shape = shapeOf(answer.body);
  if (answer.status === 200 && shape.kind === 'xml' && headerAttribute(shape.text, 'ExecutionStatus') === '0') {
    const uploadId = headerAttribute(shape.text, 'index_incarcare');
    if (uploadId && /^\d+$/.test(uploadId)) return ok({ uploadId });
  }
  return failureOf(answer, shape);
}

export type UploadState = 'processing' | 'accepted' | 'rejected' | 'invalid-xml';

const STATES: Record<string, UploadState> = {
  'in prelucrare': 'processing',
  ok: 'accepted',
  nok: 'rejected',
  'XML cu erori nepreluat de sistem': 'invalid-xml',
};

/** `stareMesaj`: `stare` (ok, nok, in prelucrare, XML cu erori…) and `id_descarcare`, or its errors. */
export function parseStatusAnswer(answer: RawAnswer): Parsed<{ state: UploadState; downloadId?: string }> {
  const shape = shapeOf(answer.body);
  if (answer.status === 200 && shape.kind === 'xml') {
    const stare = headerAttribute(shape.text, 'stare');
    const state = stare === undefined ? undefined : STATES[stare.trim()];
    if (state) {
      const downloadId = headerAttribute(shape.text, 'id_descarcare');
      return ok({ state, ...(downloadId ? { downloadId } : {}) });
    }
  }
  return failureOf(answer, shape);
}

export type MessageType = 'invoice-sent' | 'invoice-received' | 'errors' | 'buyer-message';

export interface EfacturaMessage {
  id: string;
  downloadId: string;
  uploadId: string;
  createdAt: string;
  type: MessageType;
  issuerCif: string | null;
  buyerCif: string | null;
  details: string;
}

export interface MessagePage {
  messages: EfacturaMessage[];
  /** Paginated call only: this page and the number of pages (0 when there are no messages). */
  page?: number;
  pages?: number;
}

/** ANAF's `tip`; the buyer's messages are the only other kind ANAF lists. */
export function messageType(tip: string): MessageType {
  const t = tip.toUpperCase();
  if (t.includes('ERORI')) return 'errors';
  if (t.includes('FACTURA') && t.includes('TRIMISA')) return 'invoice-sent';
  if (t.includes('FACTURA') && t.includes('PRIMITA')) return 'invoice-received';
  return 'buyer-message';
}

/**
 * The CIFs ANAF writes only into `detalii`: `… emisa de cif_emitent=A pentru cif_beneficiar=B`, or for a
 * self-billed invoice `… transmisa de cif=B ca autofactura in numele cif=A` (the buyer B issues it in the
 * name of the supplier A, who stays the issuer).
 */
export function cifsFromDetails(details: string): { issuerCif: string | null; buyerCif: string | null } {
  const plain = /cif_emitent\s*=\s*(\d+).*?cif_beneficiar\s*=\s*(\d+)/i.exec(details);
  if (plain) return { issuerCif: plain[1]!, buyerCif: plain[2]! };
  const selfBilled = /transmisa de cif\s*=\s*(\d+).*?in numele cif\s*=\s*(\d+)/i.exec(details);
  if (selfBilled) return { issuerCif: selfBilled[2]!, buyerCif: selfBilled[1]! };
  return { issuerCif: null, buyerCif: null };
}

const str = (value: unknown) => (typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '');

function toMessage(entry: Record<string, unknown>): EfacturaMessage | null {
  const id = str(entry.id);
  const createdAt = anafCompactTimeToIso(str(entry.data_creare));
  if (!id || !createdAt) return null;
  const details = str(entry.detalii);
  return { id, downloadId: id, uploadId: str(entry.id_solicitare), createdAt, type: messageType(str(entry.tip)), ...cifsFromDetails(details), details };
}

/**
 * `listaMesajeFactura` / `listaMesajePaginatieFactura`: `{mesaje, …}` (with page counters on the
 * paginated call), "Nu exista mesaje…" as an empty list, or its errors.
 */
export function parseListAnswer(answer: RawAnswer, paged: boolean): Parsed<MessagePage> {
  const shape = shapeOf(answer.body);
  if (answer.status === 200 && shape.kind === 'eroare' && NO_MESSAGES.test(shape.message.trim())) {
    return ok(paged ? { messages: [], page: 0, pages: 0 } : { messages: [] });
  }
  if (answer.status === 200 && shape.kind === 'json' && Array.isArray(shape.value.mesaje)) {
    const entries = shape.value.mesaje.filter((m): m is Record<string, unknown> => Boolean(m) && typeof m === 'object');
    const messages = entries.map(toMessage);
    if (messages.some((m) => m === null)) return fail('ANAF_REJECTED', ['ANAF listed a message without an id or a readable data_creare']);
    const page: MessagePage = { messages: messages as EfacturaMessage[] };
    if (paged) {
      page.page = Number(shape.value.index_pagina_curenta ?? 0);
      page.pages = Number(shape.value.numar_total_pagini ?? 0);
    }
    return ok(page);
  }
  return failureOf(answer, shape);
}

/** `descarcare`: the ZIP's bytes, or its `{eroare}` answer. */
export function parseDownloadAnswer(answer: RawAnswer): Parsed<Uint8Array> {
  const shape = shapeOf(answer.body);
  if (answer.status === 200 && shape.kind === 'zip') return ok(answer.body);
  return failureOf(answer, shape);
}

export type PublicStandard = 'FACT1' | 'FCN';

/** `validare`: `{stare: ok|nok, Messages:[{message}]}` as `{valid, messages}`; the firewall page is a failure. */
export function parseValidateAnswer(answer: RawAnswer): Parsed<{ valid: boolean; messages: string[] }> {
  const shape = shapeOf(answer.body);
  if (answer.status === 200 && shape.kind === 'json' && (shape.value.stare === 'ok' || shape.value.stare === 'nok')) {
    return ok({ valid: shape.value.stare === 'ok', messages: messagesOf(shape.value) });
  }
  return failureOf(answer, shape);
}

function messagesOf(value: Record<string, unknown>): string[] {
  const list = Array.isArray(value.Messages) ? value.Messages : [];
  return list.map((m) => str((m as { message?: unknown })?.message)).filter(Boolean);
}

/** `transformare`: the PDF's bytes; `{stare: nok, Messages}` is a rejection carrying ANAF's messages. */
export function parsePdfAnswer(answer: RawAnswer): Parsed<Uint8Array> {
  const shape = shapeOf(answer.body);
  if (answer.status === 200 && shape.kind === 'pdf') return ok(answer.body);
  if (shape.kind === 'json' && shape.value.stare === 'nok') {
    const messages = messagesOf(shape.value);
    return fail('ANAF_REJECTED', messages.length > 0 ? messages : ['ANAF could not turn the document into a PDF']);
  }
  return failureOf(answer, shape);
}
