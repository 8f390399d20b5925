import { httpHandler } from '../../shared/http/handler.js';
import { cuiParam, tenantIdParam } from '../../shared/http/params.js';
import { json } from '../../shared/http/responses.js';
import { dynamoStores } from '../../shared/runtime/adapters/dynamodb.js';
import { invoiceObjects } from '../../shared/runtime/adapters/s3.js';
import { createInvoiceUpload } from '../../shared/services/invoice-uploads.js';

/**
 * POST /v1/tenants/{tenantId}/companies/{cui}/invoice-uploads: a presigned S3 PUT for an invoice over the
 * inline limit. Its own function: the role that signs may only put objects, never read one.
 */
export const handler = httpHandler(async (request, deps) => {
  const tenantId = tenantIdParam(request.params.tenantId);
  const cui = cuiParam(request.params.cui);
  return json(201, await createInvoiceUpload(deps, { tenantId, cui }));
}, { adapters: [dynamoStores, invoiceObjects] });
