import { anafIdParam } from '../../shared/http/efactura-params.js';
import { httpHandler } from '../../shared/http/handler.js';
import { cuiParam, tenantIdParam } from '../../shared/http/params.js';
import { json } from '../../shared/http/responses.js';
import { uploadStatus } from '../../shared/services/efactura.js';
import { EFACTURA } from '../../shared/runtime/adapters/index.js';

/** GET /v1/tenants/{tenantId}/companies/{cui}/invoices/{uploadId}/status: ANAF's stareMesaj. */
export const route = httpHandler(async (request, deps) => {
  const tenantId = tenantIdParam(request.params.tenantId);
  const cui = cuiParam(request.params.cui);
  const uploadId = anafIdParam(request.params.uploadId, 'upload');
  return json(200, await uploadStatus(deps, { tenantId, cui, uploadId }));
}, { adapters: EFACTURA });
