import * as z from 'zod/mini';
import { httpHandler } from '../../shared/http/handler.js';
import { integerInRange, parseWith, tenantIdParam } from '../../shared/http/params.js';
import { json } from '../../shared/http/responses.js';
import { listEvents } from '../../shared/services/events.js';
import { dynamoStores } from '../../shared/runtime/adapters/dynamodb.js';

const MAX_EVENTS_PAGE = 100;

export const query = z.object({
  limit: z._default(integerInRange(1, MAX_EVENTS_PAGE, { coerce: true }), 50),
  cursor: z.optional(z.string().check(z.maxLength(1024))),
});

/** GET /v1/tenants/{tenantId}/events?limit=&cursor=: the audit trail, newest first. */
export const handler = httpHandler(async (request, deps) => {
  const tenantId = tenantIdParam(request.params.tenantId);
  const { limit, cursor } = parseWith(query, request.query);
  return json(200, await listEvents(deps, { tenantId, limit, cursor }));
}, { query: ['limit', 'cursor'], adapters: [dynamoStores] });
