/**
 * The public host (webservicesp.anaf.ro, no token): `validare/{FACT1|FCN}` and
 * `transformare/{FACT1|FCN}[/DA]`, on the production path only (the test path answers 404), with
 * `Content-Type: text/plain` and at most 5 MB. A body containing `emulator:validare=nok` fails
 * validation with ANAF's example messages; one containing `emulator:firewall` gets the firewall page.
 */
import { randomUUID } from 'node:crypto';
import { firewallPage, fixture, jsonOf, springError, xmlProblem, type Reply } from './format.js';

export const MAX_PUBLIC_BYTES = 5 * 1024 * 1024;

/** A one-page PDF (valid structure and xref offsets) naming the invoice: ANAF's rendering stands in here. */
export function renderPdf(title: string): Buffer {
  const text = title.replace(/[^\x20-\x7e]/g, '?').replace(/[\\()]/g, (c) => `\\${c}`);
  const content = `BT /F1 14 Tf 72 770 Td (${text}) Tj ET`;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>',
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
    `<< /Length ${content.length} >>\nstream\n${content}\nendstream`,
  ];
  let pdf = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(pdf.length);
    pdf += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = pdf.length;
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) pdf += `${String(offset).padStart(10, '0')} 00000 n \n`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(pdf, 'latin1');
}

export function createPublicApi(now: () => number) {
  const ok = JSON.parse(fixture('validare-ok.json')) as { stare: string };
  const nok = JSON.parse(fixture('validare-nok.json')) as { stare: string; Messages: { message: string }[] };
  const notFound = () => springError(404, 'Not Found', 'No message available', now());

  /** ANAF's validation messages for a body, empty when valid. */
  function problems(body: Buffer, standard: string): { message: string }[] {
    const text = body.toString('utf8');
    if (text.includes('emulator:validare=nok')) return nok.Messages;
    const problem = xmlProblem(body, standard);
    return problem ? [{ message: `E: Fisierul transmis nu este valid. ${problem}` }] : [];
  }

  return {
    /** `env` and `rest` come from `/public/{env}/FCTEL/rest/{rest}`. */
    handle(method: string, env: string, rest: string, contentType: string, body: Buffer, tooLarge: boolean): Reply {
      const match = /^(validare|transformare)\/(FACT1|FCN)(\/DA)?$/.exec(rest);
      if (env !== 'prod' || !match || (match[1] === 'validare' && match[3])) return notFound();
      if (method !== 'POST') return springError(405, 'Method Not Allowed', "Request method 'GET' not supported", now());
      if (!/^text\/plain\b/i.test(contentType)) {
        return springError(415, 'Unsupported Media Type', `Content type '${contentType || 'none'}' not supported`, now());
      }
      const traceId = randomUUID();
      if (tooLarge) return jsonOf(200, { stare: 'nok', Messages: [{ message: 'Marime fisier transmis mai mare de 5 MB.' }], trace_id: traceId });
      if (body.toString('utf8').includes('emulator:firewall')) return firewallPage();
      const [, call, standard, skipValidation] = match;
      const found = skipValidation ? [] : problems(body, standard!);
      if (found.length > 0) return jsonOf(200, { stare: 'nok', Messages: found, trace_id: traceId });
      if (call === 'validare') return jsonOf(200, { ...ok, trace_id: traceId });
      const invoiceId = /<(?:cbc:)?ID>([^<]{1,60})</.exec(body.toString('utf8'))?.[1] ?? 'fara numar';
      return {
        status: 200,
        headers: { 'content-type': 'application/pdf', 'content-disposition': 'attachment; filename="factura.pdf"' },
        body: renderPdf(`Factura ${invoiceId} (${standard}) - emulator ANAF, nu este documentul ANAF`),
      };
    },
  };
}
