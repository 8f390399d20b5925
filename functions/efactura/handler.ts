import { routeDispatcher } from '../../shared/http/handler.js';
import { route as download } from './download.js';
import { route as messages } from './messages.js';
import { route as status } from './status.js';
import { route as upload } from './upload.js';

/** The e-Factura calls made with a company's token (one function: they share the token and limiter paths). */
export const handler = routeDispatcher({
  'POST /v1/tenants/{tenantId}/companies/{cui}/invoices': upload,
  'GET /v1/tenants/{tenantId}/companies/{cui}/invoices/{uploadId}/status': status,
  'GET /v1/tenants/{tenantId}/companies/{cui}/messages': messages,
  'GET /v1/tenants/{tenantId}/companies/{cui}/messages/{downloadId}': download,
});
