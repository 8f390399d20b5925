import { httpHandler } from '../../shared/http/handler.js';
import { renderErrorPage, renderFlowOutcome } from '../../shared/http/pages.js';
import { startAuthorization } from '../../shared/services/authorization.js';
import { dynamoStores } from '../../shared/runtime/adapters/dynamodb.js';
import { eventBus } from '../../shared/runtime/adapters/eventbridge.js';
import { cloudWatchMetrics } from '../../shared/runtime/adapters/metrics.js';

/** GET /v1/oauth/authorize?session=…: mints a state and sends the browser to ANAF (public route). */
export const handler = httpHandler(
  async (request, deps) => renderFlowOutcome(await startAuthorization(deps, request.query.session ?? '')),
  { query: 'any', errorPage: renderErrorPage, adapters: [dynamoStores, eventBus, cloudWatchMetrics] },
);
