import { routeDispatcher } from '../../shared/http/handler.js';
import { route as pdf } from './pdf.js';
import { route as validate } from './validate.js';

/** validare and transformare on ANAF's public host: no token, no tenant. */
export const handler = routeDispatcher({
  'POST /v1/validate': validate,
  'POST /v1/pdf': pdf,
});
