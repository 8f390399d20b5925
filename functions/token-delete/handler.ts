import { httpHandler } from '../../shared/http/handler.js';
import { tenantIdParam, tokenIdParam } from '../../shared/http/params.js';
import { noContent } from '../../shared/http/responses.js';
import { disconnectToken } from '../../shared/services/disconnect.js';
import { dynamoStores } from '../../shared/runtime/adapters/dynamodb.js';
import { eventBus } from '../../shared/runtime/adapters/eventbridge.js';
import { cloudWatchMetrics } from '../../shared/runtime/adapters/metrics.js';
import { secretStore } from '../../shared/runtime/adapters/secrets-manager.js';

/** DELETE /v1/tenants/{tenantId}/tokens/{tokenId}: disconnect (delete the pair, unlink companies). */
export const handler = httpHandler(async (request, deps) => {
  await disconnectToken(deps, tenantIdParam(request.params.tenantId), tokenIdParam(request.params.tokenId));
  return noContent();
}, { adapters: [dynamoStores, secretStore, eventBus, cloudWatchMetrics] });
