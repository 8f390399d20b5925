import * as z from 'zod/mini';
import { httpHandler } from '../../shared/http/handler.js';
import { cuiParam, parseWith, tenantIdParam, tokenIdParam } from '../../shared/http/params.js';
import { json } from '../../shared/http/responses.js';
import { putCompany } from '../../shared/services/companies.js';
import { dynamoStores } from '../../shared/runtime/adapters/dynamodb.js';

export const body = z.optional(
  z.strictObject({
    name: z.optional(z.nullable(z.string().check(z.maxLength(256)))),
    tokenId: z.optional(z.nullable(z.string())),
  }),
);

/** PUT /v1/tenants/{tenantId}/companies/{cui}: registers a company; with tokenId, links it to that token. */
export const handler = httpHandler(async (request, deps) => {
  const tenantId = tenantIdParam(request.params.tenantId);
  const cui = cuiParam(request.params.cui);
  const input = parseWith(body, request.body) ?? {};
  // null unlinks, undefined keeps the link; any string (even empty) must name an existing token.
  const tokenId = typeof input.tokenId === 'string' ? tokenIdParam(input.tokenId) : input.tokenId;
  return json(200, await putCompany(deps, { tenantId, cui, name: input.name, tokenId }));
}, { body: true, adapters: [dynamoStores] });
