import { httpHandler } from '../../shared/http/handler.js';
import { tenantIdParam } from '../../shared/http/params.js';
import { json } from '../../shared/http/responses.js';
import { getConnectSession } from '../../shared/services/authorization.js';
import { dynamoStores } from '../../shared/runtime/adapters/dynamodb.js';

/** GET /v1/tenants/{tenantId}/connect-sessions/{sessionId}: what became of a connect link (open, completed, expired, last failure). */
export const handler = httpHandler(async (request, deps) => {
  const tenantId = tenantIdParam(request.params.tenantId);
  return json(200, await getConnectSession(deps, tenantId, request.params.sessionId ?? ''));
}, { adapters: [dynamoStores] });
