import * as z from 'zod/mini';
import { MAX_PUBLIC_DOCUMENT_BYTES } from '../../shared/http/efactura-params.js';
import { httpHandler } from '../../shared/http/handler.js';
import { parseWith } from '../../shared/http/params.js';
import { json } from '../../shared/http/responses.js';
import { validateInvoice } from '../../shared/services/efactura.js';
import { anafEfactura, limitStore } from '../../shared/runtime/adapters/efactura.js';

export const query = z.object({
  standard: z.enum(['FACT1', 'FCN']).check(z.describe('FACT1 invoice, FCN credit note')),
});

/** POST /v1/validate?standard=: ANAF's validare of the XML body (public host, no token). */
export const route = httpHandler(async (request, deps) => {
  const { standard } = parseWith(query, request.query);
  return json(200, await validateInvoice(deps, { standard, xml: request.xml! }));
}, { adapters: [limitStore, anafEfactura], xml: { maxBytes: MAX_PUBLIC_DOCUMENT_BYTES }, query: ['standard'] });
