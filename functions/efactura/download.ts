import * as z from 'zod/mini';
import { anafIdParam } from '../../shared/http/efactura-params.js';
import { httpHandler } from '../../shared/http/handler.js';
import { cuiParam, parseWith, tenantIdParam } from '../../shared/http/params.js';
import { binary } from '../../shared/http/responses.js';
import { downloadMessage } from '../../shared/services/efactura.js';
import { EFACTURA } from '../../shared/runtime/adapters/index.js';

export const query = z.object({
  part: z.optional(z.enum(['invoice', 'signature']).check(z.describe("one member of ANAF's ZIP, its exact bytes: <index>.xml or semnatura_<index>.xml"))),
});

/** GET /v1/tenants/{tenantId}/companies/{cui}/messages/{downloadId}[?part=]: ANAF's ZIP, or one of its members. */
export const route = httpHandler(async (request, deps) => {
  const tenantId = tenantIdParam(request.params.tenantId);
  const cui = cuiParam(request.params.cui);
  const downloadId = anafIdParam(request.params.downloadId, 'message');
  const { part } = parseWith(query, request.query);
  const file = await downloadMessage(deps, { tenantId, cui, downloadId, ...(part ? { part } : {}) });
  return binary(200, file.contentType, file.bytes, file.fileName);
}, { adapters: EFACTURA, query: ['part'] });
