import * as z from 'zod/mini';
import { httpHandler } from '../../shared/http/handler.js';
import { cuiListSchema, normalizeCuiList, parseWith, tenantIdParam } from '../../shared/http/params.js';
import { json } from '../../shared/http/responses.js';
import {
  MAX_SESSION_TTL_SECONDS,
  MIN_SESSION_TTL_SECONDS,
  createConnectSession,
} from '../../shared/services/authorization.js';

export const body = z.strictObject({
  cuis: cuiListSchema.check(z.minLength(1)),
  returnUrl: z.optional(z.string().check(z.maxLength(2048))),
  ttlSeconds: z.optional(z.number().check(z.int(), z.minimum(MIN_SESSION_TTL_SECONDS), z.maximum(MAX_SESSION_TTL_SECONDS))),
});

/** POST /v1/tenants/{tenantId}/connect-sessions: a link for the certificate holder. */
export const handler = httpHandler(async (request, deps) => {
  const tenantId = tenantIdParam(request.params.tenantId);
  const input = parseWith(body, request.body);
  const session = await createConnectSession(deps, { tenantId, ...input, cuis: normalizeCuiList(input.cuis) });
  return json(201, session);
}, { body: true });
