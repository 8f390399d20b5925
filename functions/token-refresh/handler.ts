import { httpHandler } from '../../shared/http/handler.js';
import { tenantIdParam, tokenIdParam } from '../../shared/http/params.js';
import { json } from '../../shared/http/responses.js';
import { manualRefresh } from '../../shared/services/access.js';
import { PAIR_WRITING } from '../../shared/runtime/adapters/pair-writing.js';

/** POST /v1/tenants/{tenantId}/tokens/{tokenId}/refresh: the ERP's "Refresh Token" button. */
export const handler = httpHandler(async (request, deps) =>
  json(200, await manualRefresh(deps, { tenantId: tenantIdParam(request.params.tenantId), tokenId: tokenIdParam(request.params.tokenId) })),
  { adapters: PAIR_WRITING },
);
