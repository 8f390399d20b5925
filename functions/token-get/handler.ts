import { httpHandler } from '../../shared/http/handler.js';
import { tenantIdParam, tokenIdParam } from '../../shared/http/params.js';
import { json } from '../../shared/http/responses.js';
import { getToken, listTokens } from '../../shared/services/tokens.js';
import { dynamoStores } from '../../shared/runtime/adapters/dynamodb.js';

/** GET /v1/tenants/{tenantId}/tokens[/{tokenId}]: token metadata only. */
export const handler = httpHandler(async (request, deps) => {
  const tenantId = tenantIdParam(request.params.tenantId);
  if (request.params.tokenId === undefined) return json(200, { tokens: await listTokens(deps, tenantId) });
  return json(200, await getToken(deps, tenantId, tokenIdParam(request.params.tokenId)));
}, { adapters: [dynamoStores] });
