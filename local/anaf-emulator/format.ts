/**
 * What the emulated ANAF hosts share: the fixture files they answer with, ANAF's Romania-time
 * formats, reply builders and the cheap XML checks that stand in for ANAF's schema validation.
 */
import { readFileSync } from 'node:fs';
import { romaniaDay as romaniaDayOf, romaniaWallClock } from '../../shared/domain/romania-time.js';

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

const FIXTURES_DIR = new URL('../../test/support/fixtures/anaf/', import.meta.url);
export const JSON_TYPE = 'application/json;charset=UTF-8';
export const XML_TYPE = 'application/xml;charset=UTF-8';

/** A fixture's text; `mustContain` fails start-up when a placeholder the emulator substitutes is gone. */
export function fixture(name: string, mustContain: string[] = []): string {
  const text = readFileSync(new URL(name, FIXTURES_DIR), 'utf8');
  for (const needle of mustContain) {
    if (!text.includes(needle)) throw new Error(`ANAF fixture ${name} no longer contains ${JSON.stringify(needle)}`);
  }
  return text;
}
export const fixtureBytes = (name: string): Buffer => readFileSync(new URL(name, FIXTURES_DIR));

/** Escapes a value for a double-quoted attribute; apostrophes stay, as in ANAF's bodies. */
export const escapeXml = (value: string) => value.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

const pad = (n: number, width = 2) => String(n).padStart(width, '0');
/** Romania-time parts of an instant (ANAF stamps its answers in local time), zero-padded. */
function romaniaTime(ms: number) {
  const w = romaniaWallClock(ms);
  return { y: pad(w.y, 4), mo: pad(w.mo), d: pad(w.d), h: pad(w.h), mi: pad(w.mi), s: pad(w.s) };
}
/** `yyyyMMddHHmm`, as in `dateResponse` and `data_creare`. */
export const compactTime = (ms: number) => {
  const t = romaniaTime(ms);
  return `${t.y}${t.mo}${t.d}${t.h}${t.mi}`;
};
/** `dd-MM-yyyy HH:mm:ss`, as in the `timestamp` of ANAF's 400 bodies and the paginated list's texts. */
export const springTime = (ms: number) => {
  const t = romaniaTime(ms);
  return `${t.d}-${t.mo}-${t.y} ${t.h}:${t.mi}:${t.s}`;
};
/** `yyyy-MM-dd` in Romania: the day ANAF's daily limits count in, and the duplicate message's date. */
export const romaniaDay = (ms: number) => romaniaDayOf(ms).date;

export const jsonText = (status: number, body: string): Reply => ({ status, headers: { 'content-type': JSON_TYPE }, body });
export const jsonOf = (status: number, body: unknown): Reply => jsonText(status, JSON.stringify(body));
export const xmlText = (body: string): Reply => ({ status: 200, headers: { 'content-type': XML_TYPE }, body });
export const textPlain = (body: string): Reply => ({ status: 200, headers: { 'content-type': 'text/plain;charset=UTF-8' }, body });

/** ANAF's Spring-style 4xx body (`{timestamp, status, error, message}`) with the current timestamp. */
export const springError = (status: number, error: string, message: string, ms: number): Reply =>
  jsonText(status, JSON.stringify({ timestamp: springTime(ms), status, error, message }, null, 2));
/** A fixture's Spring-style body with the current timestamp. */
export const withTimestamp = (template: string, ms: number): Reply =>
  jsonText(400, JSON.stringify({ ...(JSON.parse(template) as object), timestamp: springTime(ms) }, null, 2));

/** The F5 page ANAF's firewall answers with HTTP 200 (seen on webservicesp.anaf.ro). */
export const firewallPage = (): Reply => ({
  status: 200,
  headers: { 'content-type': 'text/html; charset=utf-8' },
  body:
    '<html><head><title>Request Rejected</title></head><body>The requested URL was rejected. ' +
    'Please consult with your administrator.<br><br>Your support ID is: 8096782510241224773<br><br>' +
    "<a href='javascript:history.back();'>[Go Back]</a></body></html>",
});

/** Root element names each standard's schema declares (RASP and unknown: not checked). */
const ROOTS: Record<string, string> = { UBL: 'Invoice', CN: 'CreditNote', CII: 'CrossIndustryInvoice', FACT1: 'Invoice', FCN: 'CreditNote' };

/**
 * Xerces' complaint about a body, in the words ANAF passes on, or null. Only the prolog, the root
 * element's name and a closed document are checked: enough to produce ANAF's answers on demand.
 */
export function xmlProblem(body: Buffer, standard: string): string | null {
  const text = body.toString('utf8').replace(/^\uFEFF/, '');
  const root = /^\s*(?:(?:<\?[\s\S]*?\?>|<!--[\s\S]*?-->)\s*)*<([A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?)[^>]*>/.exec(text);
  const at = (offset: number) => {
    const before = text.slice(0, offset);
    const line = before.split('\n').length;
    return `lineNumber: ${line}; columnNumber: ${offset - before.lastIndexOf('\n')}`;
  };
  if (!root) return `org.xml.sax.SAXParseException; lineNumber: 1; columnNumber: 1; Content is not allowed in prolog.`;
  const end = root.index + root[0].length;
  const expected = ROOTS[standard];
  const local = root[1]!.split(':').pop();
  if (expected && local !== expected) {
    return `org.xml.sax.SAXParseException; ${at(end)}; cvc-elt.1.a: Cannot find the declaration of element '${root[1]}'.`;
  }
  if (!root[0].endsWith('/>') && !text.trimEnd().endsWith(`</${root[1]}>`)) {
    return `org.xml.sax.SAXParseException; ${at(text.length)}; XML document structures must start and end within the same entity.`;
  }
  return null;
}
