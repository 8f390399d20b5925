import { httpHandler } from '../../shared/http/handler.js';
import { cuiParam, tenantIdParam } from '../../shared/http/params.js';
import { json } from '../../shared/http/responses.js';
import { issueAccessToken } from '../../shared/services/access.js';
import { PAIR_WRITING } from '../../shared/runtime/adapters/pair-writing.js';

/** GET /v1/tenants/{tenantId}/companies/{cui}/access-token: the one route that answers a token. */
export const handler = httpHandler(async (request, deps) =>
  json(200, await issueAccessToken(deps, tenantIdParam(request.params.tenantId), cuiParam(request.params.cui))),
  { adapters: PAIR_WRITING },
);
