import * as z from 'zod/mini';
import { MAX_PUBLIC_DOCUMENT_BYTES } from '../../shared/http/efactura-params.js';
import { httpHandler } from '../../shared/http/handler.js';
import { parseWith } from '../../shared/http/params.js';
import { binary } from '../../shared/http/responses.js';
import { invoicePdf } from '../../shared/services/efactura.js';
import { anafEfactura, limitStore } from '../../shared/runtime/adapters/efactura.js';

export const query = z.object({
  standard: z.enum(['FACT1', 'FCN']).check(z.describe('FACT1 invoice, FCN credit note')),
  validate: z._default(z.enum(['true', 'false']).check(z.describe('false: ANAF renders without validating first')), 'true'),
});

/** POST /v1/pdf?standard=[&validate=false]: ANAF's transformare of the XML body into a PDF (public host, no token). */
export const route = httpHandler(async (request, deps) => {
  const q = parseWith(query, request.query);
  const pdf = await invoicePdf(deps, { standard: q.standard, xml: request.xml!, validate: q.validate === 'true' });
  return binary(200, 'application/pdf', pdf, 'invoice.pdf');
}, { adapters: [limitStore, anafEfactura], xml: { maxBytes: MAX_PUBLIC_DOCUMENT_BYTES }, query: ['standard', 'validate'] });
