import { httpHandler } from '../../shared/http/handler.js';
import { tenantIdParam } from '../../shared/http/params.js';
import { json } from '../../shared/http/responses.js';
import { requireTenant, toAnafClientView } from '../../shared/services/tenants.js';
import { dynamoStores } from '../../shared/runtime/adapters/dynamodb.js';

/** GET /v1/tenants/{tenantId}/anaf-client: client id, redirect URI and display name, never the secret. */
export const handler = httpHandler(async (request, deps) => {
  const client = await requireTenant(deps, tenantIdParam(request.params.tenantId));
  return json(200, toAnafClientView(client, deps.settings.defaultAnafEnvironment));
}, { adapters: [dynamoStores] });
