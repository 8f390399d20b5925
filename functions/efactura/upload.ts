import * as z from 'zod/mini';
import { flag, idempotencyKeyHeader, MAX_INVOICE_BYTES } from '../../shared/http/efactura-params.js';
import { httpHandler } from '../../shared/http/handler.js';
import { cuiParam, parseWith, tenantIdParam } from '../../shared/http/params.js';
import { json } from '../../shared/http/responses.js';
import { uploadInvoice } from '../../shared/services/efactura.js';
import { EFACTURA } from '../../shared/runtime/adapters/index.js';

export const query = z.object({
  standard: z.enum(['UBL', 'CN', 'CII', 'RASP']).check(z.describe('UBL invoice, CN credit note, CII, or RASP (a buyer message)')),
  extern: flag("ANAF's extern=DA: the buyer is outside Romania"),
  selfBilled: flag("ANAF's autofactura=DA: a self-billed invoice"),
  enforcement: flag("ANAF's executare=DA: issued in an enforcement procedure"),
  b2c: flag('send through uploadb2c (invoices to consumers)'),
});

/** POST /v1/tenants/{tenantId}/companies/{cui}/invoices?standard=: uploads the XML body to ANAF. */
export const route = httpHandler(
  async (request, deps) => {
    const tenantId = tenantIdParam(request.params.tenantId);
    const cui = cuiParam(request.params.cui);
    const q = parseWith(query, request.query);
    const idempotencyKey = idempotencyKeyHeader(request.headers);
    const answer = await uploadInvoice(deps, {
      tenantId,
      cui,
      standard: q.standard,
      extern: q.extern === 'true',
      selfBilled: q.selfBilled === 'true',
      enforcement: q.enforcement === 'true',
      b2c: q.b2c === 'true',
      xml: request.xml!,
      ...(idempotencyKey ? { idempotencyKey } : {}),
    });
    return json(201, answer);
  },
  { adapters: EFACTURA, xml: { maxBytes: MAX_INVOICE_BYTES }, query: ['standard', 'extern', 'selfBilled', 'enforcement', 'b2c'] },
);
