import * as z from 'zod/mini';
import { httpHandler } from '../../shared/http/handler.js';
import { parseWith, tenantIdParam } from '../../shared/http/params.js';
import { json } from '../../shared/http/responses.js';
import { putAnafClient, toAnafClientView } from '../../shared/services/tenants.js';
import { dynamoStores } from '../../shared/runtime/adapters/dynamodb.js';
import { secretStore } from '../../shared/runtime/adapters/secrets-manager.js';

export const body = z.strictObject({
  clientId: z.string().check(z.minLength(1), z.maxLength(256)),
  clientSecret: z.string().check(z.minLength(1), z.maxLength(1024)),
  redirectUri: z.optional(z.string().check(z.maxLength(2048))),
  displayName: z.optional(z.string().check(z.maxLength(256))),
  anafEnvironment: z.optional(z.enum(['test', 'prod']).check(z.describe("ANAF's e-Factura environment of the tenant's calls; default: the stage's"))),
});

/** PUT /v1/tenants/{tenantId}/anaf-client: stores the client; the answer never holds the secret. */
export const handler = httpHandler(async (request, deps) => {
  const tenantId = tenantIdParam(request.params.tenantId);
  const input = parseWith(body, request.body);
  const client = await putAnafClient(deps, { tenantId, ...input });
  return json(200, toAnafClientView(client, deps.settings.defaultAnafEnvironment));
}, { body: true, adapters: [dynamoStores, secretStore] });
