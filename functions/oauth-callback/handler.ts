import { httpHandler } from '../../shared/http/handler.js';
import { renderErrorPage, renderFlowOutcome } from '../../shared/http/pages.js';
import { completeAuthorization } from '../../shared/services/authorization.js';
import { PAIR_WRITING } from '../../shared/runtime/adapters/pair-writing.js';

/** GET /v1/oauth/callback?code&state | ?error&state: ANAF's redirect (public route). */
export const handler = httpHandler(
  async (request, deps) =>
    renderFlowOutcome(
      await completeAuthorization(deps, { state: request.query.state, code: request.query.code, error: request.query.error }),
    ),
  { query: 'any', errorPage: renderErrorPage, adapters: PAIR_WRITING },
);
