import * as z from 'zod/mini';
import { BrokerError } from '../../shared/domain/errors.js';
import { httpHandler } from '../../shared/http/handler.js';
import { cuiParam, integerInRange, parseWith, tenantIdParam } from '../../shared/http/params.js';
import { json } from '../../shared/http/responses.js';
import { listMessages, MAX_LIST_DAYS, type MessagesQuery } from '../../shared/services/efactura.js';
import { EFACTURA } from '../../shared/runtime/adapters/index.js';

const instant = z.iso.datetime({ offset: true }).check(z.describe('ISO 8601 time with an offset or Z'));

export const query = z.object({
  days: z.optional(integerInRange(1, MAX_LIST_DAYS, { coerce: true, unit: 'days' }).check(z.describe('the last N days (ANAF\'s simple list)'))),
  from: z.optional(instant.check(z.describe('start of the interval (at most 60 days back); with to and page, the paginated list'))),
  to: z.optional(instant.check(z.describe('end of the interval; default now; clamped to a minute ago'))),
  page: z.optional(integerInRange(1, 100_000, { coerce: true }).check(z.describe('page of the paginated list (500 messages each); default 1'))),
  filter: z.optional(z.enum(['E', 'T', 'P', 'R']).check(z.describe("ANAF's filtru: E errors, T sent, P received, R buyer messages"))),
});

/** GET /v1/tenants/{tenantId}/companies/{cui}/messages?days= | ?from=&to=&page=: the company's messages. */
export const route = httpHandler(async (request, deps) => {
  const tenantId = tenantIdParam(request.params.tenantId);
  const cui = cuiParam(request.params.cui);
  const q = parseWith(query, request.query);
  const filter = q.filter ? { filter: q.filter } : {};
  let messagesQuery: MessagesQuery;
  if (q.days !== undefined) {
    if (q.from !== undefined || q.to !== undefined || q.page !== undefined) throw new BrokerError('VALIDATION_ERROR', 'days cannot be combined with from, to or page');
    messagesQuery = { kind: 'days', days: q.days, ...filter };
  } else if (q.from !== undefined) {
    messagesQuery = { kind: 'range', fromMs: Date.parse(q.from), page: q.page ?? 1, ...(q.to ? { toMs: Date.parse(q.to) } : {}), ...filter };
  } else {
    throw new BrokerError('VALIDATION_ERROR', 'days (1–60) or from (with optional to and page) is required');
  }
  return json(200, await listMessages(deps, { tenantId, cui, query: messagesQuery }));
}, { adapters: EFACTURA, query: ['days', 'from', 'to', 'page', 'filter'] });
