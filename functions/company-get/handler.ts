import { httpHandler } from '../../shared/http/handler.js';
import { cuiParam, tenantIdParam } from '../../shared/http/params.js';
import { json } from '../../shared/http/responses.js';
import { getCompany, listCompanies } from '../../shared/services/companies.js';
import { dynamoStores } from '../../shared/runtime/adapters/dynamodb.js';

/** GET /v1/tenants/{tenantId}/companies[/{cui}]: companies with connection status and expiries. */
export const handler = httpHandler(async (request, deps) => {
  const tenantId = tenantIdParam(request.params.tenantId);
  if (request.params.cui === undefined) return json(200, { companies: await listCompanies(deps, tenantId) });
  return json(200, await getCompany(deps, tenantId, cuiParam(request.params.cui)));
}, { adapters: [dynamoStores] });
