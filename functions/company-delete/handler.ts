import { httpHandler } from '../../shared/http/handler.js';
import { cuiParam, tenantIdParam } from '../../shared/http/params.js';
import { noContent } from '../../shared/http/responses.js';
import { deleteCompany } from '../../shared/services/companies.js';
import { dynamoStores } from '../../shared/runtime/adapters/dynamodb.js';

/** DELETE /v1/tenants/{tenantId}/companies/{cui}: forgets the company and its link (the token stays). */
export const handler = httpHandler(async (request, deps) => {
  await deleteCompany(deps, tenantIdParam(request.params.tenantId), cuiParam(request.params.cui));
  return noContent();
}, { adapters: [dynamoStores] });
