import { httpHandler } from '../../shared/http/handler.js';
import { renderFlowOutcome } from '../../shared/http/pages.js';
import { startAuthorization } from '../../shared/services/authorization.js';

/** GET /v1/oauth/authorize?session=…: mints a state and sends the browser to ANAF (public route). */
export const handler = httpHandler(
  async (request, deps) => renderFlowOutcome(await startAuthorization(deps, request.query.session ?? '')),
  { query: 'any' },
);
