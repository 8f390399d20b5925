import * as z from 'zod/mini';
import { httpHandler } from '../../shared/http/handler.js';
import { cuiListSchema, normalizeCuiList, parseWith, tenantIdParam } from '../../shared/http/params.js';
import { json } from '../../shared/http/responses.js';
import { importToken } from '../../shared/services/tokens.js';
import { PAIR_WRITING } from '../../shared/runtime/adapters/pair-writing.js';

const jwt = z.string().check(z.minLength(1), z.maxLength(16_384));
// `replace: true` lets an import replace the pair of a certificate that already has an active token.
export const body = z.strictObject({ accessToken: jwt, refreshToken: jwt, cuis: cuiListSchema, replace: z.optional(z.boolean()) });

/** POST /v1/tenants/{tenantId}/tokens: imports a pair obtained by hand (migration); answers metadata only. */
export const handler = httpHandler(async (request, deps) => {
  const tenantId = tenantIdParam(request.params.tenantId);
  const input = parseWith(body, request.body);
  return json(201, await importToken(deps, { tenantId, ...input, cuis: normalizeCuiList(input.cuis) }));
}, { body: true, adapters: PAIR_WRITING });
