import * as z from 'zod/mini';
import { flag, idempotencyKeyHeader, MAX_INVOICE_BYTES } from '../../shared/http/efactura-params.js';
import { httpHandler } from '../../shared/http/handler.js';
import { cuiParam, parseWith, tenantIdParam } from '../../shared/http/params.js';
import { json } from '../../shared/http/responses.js';
import { BrokerError } from '../../shared/domain/errors.js';
import { uploadInvoice } from '../../shared/services/efactura.js';
import { uploadStoredInvoice } from '../../shared/services/invoice-uploads.js';
import { EFACTURA } from '../../shared/runtime/adapters/index.js';

export const query = z.object({
  standard: z.enum(['UBL', 'CN', 'CII', 'RASP']).check(z.describe('UBL invoice, CN credit note, CII, or RASP (a buyer message)')),
  extern: flag("ANAF's extern=DA: the buyer is outside Romania"),
  selfBilled: flag("ANAF's autofactura=DA: a self-billed invoice"),
  enforcement: flag("ANAF's executare=DA: issued in an enforcement procedure"),
  b2c: flag('send through uploadb2c (invoices to consumers)'),
  objectKey: z.optional(
    z.string().check(z.maxLength(200), z.describe('an invoice PUT to the uploadUrl of POST …/invoice-uploads (over 6 MB, up to 10 MB); the body is then empty')),
  ),
});

/**
 * POST /v1/tenants/{tenantId}/companies/{cui}/invoices?standard=[&objectKey=]: uploads the XML body to
 * ANAF, or the invoice the ERP PUT to S3 through POST …/invoice-uploads.
 */
export const route = httpHandler(
  async (request, deps) => {
    const tenantId = tenantIdParam(request.params.tenantId);
    const cui = cuiParam(request.params.cui);
    const q = parseWith(query, request.query);
    const idempotencyKey = idempotencyKeyHeader(request.headers);
    const upload = {
      tenantId,
      cui,
      standard: q.standard,
      extern: q.extern === 'true',
      selfBilled: q.selfBilled === 'true',
      enforcement: q.enforcement === 'true',
      b2c: q.b2c === 'true',
      ...(idempotencyKey ? { idempotencyKey } : {}),
    };
    if (q.objectKey !== undefined) {
      if (request.xml) throw new BrokerError('VALIDATION_ERROR', 'send the XML inline or name an objectKey, not both');
      return json(201, await uploadStoredInvoice(deps, { ...upload, objectKey: q.objectKey }));
    }
    if (!request.xml) throw new BrokerError('VALIDATION_ERROR', 'the body must be the XML document (it is empty), or name an uploaded one with objectKey');
    return json(201, await uploadInvoice(deps, { ...upload, xml: request.xml }));
  },
  {
    adapters: EFACTURA,
    xml: { maxBytes: MAX_INVOICE_BYTES, optional: true },
    query: ['standard', 'extern', 'selfBilled', 'enforcement', 'b2c', 'objectKey'],
  },
);
