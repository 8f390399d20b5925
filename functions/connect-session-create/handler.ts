import * as z from 'zod/mini';
import { httpHandler } from '../../shared/http/handler.js';
import { integerInRange, nonEmptyCuiListSchema, normalizeCuiList, parseWith, tenantIdParam } from '../../shared/http/params.js';
import { json } from '../../shared/http/responses.js';
import {
  MAX_SESSION_TTL_SECONDS,
  MIN_SESSION_TTL_SECONDS,
  createConnectSession,
} from '../../shared/services/authorization.js';
import { dynamoStores } from '../../shared/runtime/adapters/dynamodb.js';

export const body = z.strictObject({
  cuis: nonEmptyCuiListSchema,
  returnUrl: z.optional(z.string().check(z.maxLength(2048))),
  ttlSeconds: z.optional(integerInRange(MIN_SESSION_TTL_SECONDS, MAX_SESSION_TTL_SECONDS, { unit: 'seconds' })),
  /** The session restores this token's certificate holder: another certificate completing it moves no company. */
  tokenId: z.optional(z.string().check(z.maxLength(64))),
});

/** POST /v1/tenants/{tenantId}/connect-sessions: a link for the certificate holder. */
export const handler = httpHandler(async (request, deps) => {
  const tenantId = tenantIdParam(request.params.tenantId);
  const input = parseWith(body, request.body);
  const session = await createConnectSession(deps, { tenantId, ...input, cuis: normalizeCuiList(input.cuis) });
  return json(201, session);
}, { body: true, adapters: [dynamoStores] });
