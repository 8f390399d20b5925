import * as z from 'zod/mini';
import { HTTP_STATUS, type ErrorCode } from '../domain/errors.js';
import type { AuditEvent, CompanyView, ConnectSessionView, TokenView } from '../domain/model.js';
import { SESSION_ID_SHAPE, TOKEN_ID_SHAPE } from '../domain/state.js';
import type { issueAccessToken } from '../services/access.js';
import type { createConnectSession } from '../services/authorization.js';
import type { listEvents } from '../services/events.js';
import type { createInvoiceUpload } from '../services/invoice-uploads.js';
import type { listMessages, uploadInvoice, uploadStatus as getUploadStatus, validateInvoice } from '../services/efactura.js';
import { TENANT_ID_SHAPE } from './params.js';

/*
 * The v1 answers as zod schemas. The OpenAPI document (local/openapi.ts) is generated from these and
 * from the request schemas the handlers validate with; test/integration/openapi-contract.test.ts
 * validates the local stack's real answers against these same objects, so the document, the types the
 * services answer (checked at compile time below) and the wire cannot drift apart.
 */

/** Every code of the code → status table, in its order. */
export const ERROR_CODES = Object.keys(HTTP_STATUS) as [ErrorCode, ...ErrorCode[]];

/** What each code means to the caller (shown in the document); a code without a line does not compile. */
export const ERROR_MEANINGS: Record<ErrorCode, string> = {
  VALIDATION_ERROR: 'the input is not what the route takes (the message names the field)',
  INVALID_CUI: 'a CUI is not a valid Romanian CUI/CIF',
  INVALID_JSON: 'the body is not valid JSON',
  INVALID_RETURN_URL: 'returnUrl is not on an origin of RETURN_URL_ALLOWLIST',
  TOO_MANY_CUIS: 'more than 50 companies in one request',
  CLIENT_MISMATCH: "the pair was issued to another ANAF client than the tenant's",
  IMPORT_REFRESH_REFUSED: 'ANAF refused to rotate the pasted refresh token; nothing was stored',
  PAYLOAD_TOO_LARGE: 'the body is over 64 KB (JSON routes) or over the route\'s own limit (invoice XML: 6 MB inline, 10 MB through invoice-uploads; validate/pdf: 5 MB)',
  UNAUTHORIZED: 'no or wrong credentials (local bearer key)',
  NOT_FOUND: 'no such route',
  METHOD_NOT_ALLOWED: 'the path exists, not with this method',
  TENANT_NOT_FOUND: 'the tenant has no ANAF client stored',
  COMPANY_NOT_FOUND: 'the company is not registered',
  TOKEN_NOT_FOUND: 'no such token for this tenant',
  CLIENT_ID_IN_USE: 'the tenant has active tokens issued to its current client id',
  NOT_CONNECTED: 'the company has no token',
  REAUTH_REQUIRED: 'a person with the certificate must connect again',
  TOKEN_DISCONNECTED: 'the token was disconnected',
  REFRESH_IN_PROGRESS: 'another refresh of the token is under way; retry shortly',
  REFRESH_RATE_LIMITED: 'the token rotated too often in 24 hours; retry after Retry-After seconds',
  STORE_UNAVAILABLE:
    "the broker's storage did not answer in time (a timeout, throttling, a 5xx of DynamoDB, Secrets Manager, KMS, S3 or EventBridge), or the token's current secret version is not readable yet; retry after Retry-After seconds",
  TOKEN_EXISTS: 'the certificate already has an active token (send replace: true)',
  SESSION_NOT_FOUND: 'no such connect session in this tenant',
  CONFLICT: 'a concurrent change won; retry',
  ANAF_REJECTED: 'ANAF refused (client id/secret or grant)',
  ANAF_UNAVAILABLE: 'ANAF is down or slow; nothing was lost, retry later',
  NO_SPV_RIGHTS: "the certificate holder has no SPV rights on this company (or on this message); the company's spvRights becomes not-covered",
  MESSAGE_NOT_FOUND: 'ANAF knows no such upload or message',
  EXPIRED_60_DAYS: 'ANAF lists the message but its 60 days of download have passed: final',
  ANAF_DAILY_LIMIT: "ANAF's own daily limit for this call is spent; Retry-After is midnight in Romania",
  RATE_LIMITED: "one of ANAF's published limits would be exceeded (the message names it); ANAF was not called; retry after Retry-After seconds",
  IDEMPOTENCY_KEY_IN_USE: 'an upload with this Idempotency-Key is still under way, or the key was used for another request',
  UPLOAD_NOT_FOUND: 'no invoice object at this objectKey: not PUT yet, already sent, or expired (a day)',
  INTERNAL_ERROR: 'an unexpected error (logged; the body says nothing more)',
};

/** `{error: {code, message}}` with the given codes (all of them by default). */
export const errorBody = (codes: readonly ErrorCode[] = ERROR_CODES) =>
  z.strictObject({
    error: z.strictObject({
      code: z.enum(codes as [ErrorCode, ...ErrorCode[]]),
      message: z.string().check(z.minLength(1)),
    }),
  });

/** The one error shape of the document; each response names its own codes (`x-error-codes`). */
export const error = errorBody();

export const timestamp = z.iso.datetime().check(z.describe('ISO 8601 time, UTC'));
const cui = z.string().check(z.regex(/^\d{2,10}$/), z.describe('CUI/CIF as stored: digits only'));
const tokenId = z.string().check(z.regex(TOKEN_ID_SHAPE));

/** Path parameters by name; the generator refuses a route whose path names one that is not here. */
export const PATH_PARAMS: Record<string, z.ZodMiniType<string>> = {
  tenantId: z.string().check(z.regex(TENANT_ID_SHAPE), z.describe('the ERP customer account; chosen by the ERP')),
  cui: z.string().check(
    z.maxLength(32),
    z.describe('CUI/CIF; an RO prefix and spaces are accepted and stripped; control digit checked (else 400 INVALID_CUI)'),
  ),
  tokenId: z.string().check(z.describe('a tokenId as answered (tok_ and 24 hex digits); any other value is 404 TOKEN_NOT_FOUND')),
  sessionId: z.string().check(z.regex(SESSION_ID_SHAPE)),
  uploadId: z.string().check(z.describe("ANAF's index_incarcare, as answered by the upload; digits (any other value is 404 MESSAGE_NOT_FOUND)")),
  downloadId: z.string().check(z.describe("ANAF's id_descarcare (a message's id); digits (any other value is 404 MESSAGE_NOT_FOUND)")),
};

export const tenantClient = z.strictObject({
  clientId: z.string(),
  redirectUri: z.string().check(z.describe('the callback ANAF sends the browser back to')),
  displayName: z.nullable(z.string().check(z.describe('the name the accountant sees on the result pages'))),
  anafEnvironment: z.enum(['test', 'prod']).check(z.describe("ANAF's e-Factura environment the tenant's calls go to")),
  updatedAt: timestamp,
});

export const companyView = z.strictObject({
  cui,
  name: z.nullable(z.string()),
  tokenId: z.nullable(tokenId),
  status: z.enum(['not-connected', 'active', 'reauth-required']),
  accessExpiresAt: z.nullable(timestamp),
  refreshExpiresAt: z.nullable(timestamp),
  spvRights: z.enum(['unknown', 'covered', 'not-covered']).check(
    z.describe("learned from ANAF's e-Factura answers for this company: covered after a success, not-covered after NO_SPV_RIGHTS"),
  ),
});
export const companyList = z.strictObject({ companies: z.array(companyView) });

export const tokenView = z.strictObject({
  tokenId,
  status: z.enum(['active', 'reauth-required', 'disconnected']),
  serial: z.nullable(z.string().check(z.describe("the certificate's serial claim"))),
  cuis: z.array(cui).check(z.describe('companies using this token, sorted; empty once disconnected')),
  accessExpiresAt: timestamp,
  refreshExpiresAt: timestamp,
  lastRefreshAt: z.nullable(timestamp),
  lastError: z.nullable(z.string().check(z.describe('code of the last failed refresh, e.g. ANAF_UNAVAILABLE, CLIENT_REJECTED'))),
  createdAt: timestamp,
  updatedAt: timestamp,
});
export const tokenList = z.strictObject({ tokens: z.array(tokenView) });

export const connectSessionCreated = z.strictObject({
  sessionId: z.string().check(z.regex(SESSION_ID_SHAPE)),
  authorizeUrl: z.url().check(z.describe('send it to the certificate holder; it opens GET /v1/oauth/authorize')),
  expiresAt: timestamp,
});

export const connectSessionView = z.strictObject({
  sessionId: z.string().check(z.regex(SESSION_ID_SHAPE)),
  status: z.enum(['open', 'completed', 'expired']),
  cuis: z.array(cui),
  expiresAt: timestamp,
  tokenId: z.optional(tokenId.check(z.describe('set once completed'))),
  lastError: z.optional(
    z.enum(['ACCESS_DENIED', 'SESSION_EXPIRED', 'ANAF_REJECTED', 'ANAF_UNAVAILABLE']).check(z.describe('the last failed attempt, while not completed')),
  ),
});

export const accessToken = z.strictObject({
  accessToken: z.string().check(z.minLength(1), z.describe('the bearer token for ANAF e-Factura calls')),
  expiresAt: timestamp,
  tokenId,
});

export const auditEvent = z.strictObject({
  tenantId: z.string(),
  type: z.enum(['connected', 'connect-failed', 'refreshed', 'refresh-failed', 'reauth-required', 'recovered', 'relinked', 'expiring', 'disconnected', 'token-issued']),
  tokenId: z.nullable(tokenId),
  cuis: z.array(cui),
  at: timestamp,
  connectUrl: z.optional(z.url().check(z.describe('a ready connect link for the certificate holder (warnings)'))),
  details: z.optional(
    z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).check(z.describe('metadata only: serial, error code, reason')),
  ),
});
export const eventsPage = z.strictObject({
  events: z.array(auditEvent).check(z.describe('newest first')),
  nextCursor: z.nullable(z.string().check(z.describe('pass as ?cursor= for the next page; null on the last'))),
});

const anafId = z.string().check(z.regex(/^\d{1,20}$/));

export const uploadCreated = z.strictObject({
  uploadId: anafId.check(z.describe("ANAF's index_incarcare: ask its status with it")),
});

export const invoiceUploadCreated = z.strictObject({
  uploadUrl: z.url().check(z.describe('PUT the XML here with no credentials (path-style S3 presigned URL) before expiresAt')),
  objectKey: z.string().check(z.describe('then POST …/invoices?standard=…&objectKey=<this> with an empty body')),
  expiresAt: timestamp,
  maxBytes: z.int().check(z.describe("ANAF's upload limit (10 MB); a larger object is refused with 413 when named")),
});

export const uploadStatus = z.strictObject({
  state: z.enum(['processing', 'accepted', 'rejected', 'invalid-xml']).check(
    z.describe('ANAF stare: in prelucrare, ok, nok, or "XML cu erori nepreluat de sistem" (final, nothing to download)'),
  ),
  downloadId: z.optional(anafId.check(z.describe("ANAF's id_descarcare: the ZIP with the invoice (accepted) or its errors (rejected)"))),
});

export const efacturaMessage = z.strictObject({
  id: anafId,
  downloadId: anafId.check(z.describe('GET …/messages/{downloadId} downloads it')),
  uploadId: z.string().check(z.describe("ANAF's id_solicitare: the upload it answers (an index_incarcare)")),
  createdAt: z.string().check(z.describe('when ANAF indexed it, ISO 8601 with the Europe/Bucharest offset')),
  type: z.enum(['invoice-sent', 'invoice-received', 'errors', 'buyer-message']),
  issuerCif: z.nullable(z.string().check(z.describe('from ANAF\'s detalii (cif_emitent, or the supplier of a self-billed invoice)'))),
  buyerCif: z.nullable(z.string().check(z.describe("from ANAF's detalii (cif_beneficiar, or the buyer issuing a self-billed invoice)"))),
  details: z.string().check(z.describe("ANAF's detalii, as written")),
});

export const messagesPage = z.strictObject({
  messages: z.array(efacturaMessage),
  page: z.optional(z.int().check(z.describe('paginated list: this page (0 when empty)'))),
  pages: z.optional(z.int().check(z.describe('paginated list: the number of pages (500 messages each)'))),
  from: z.optional(timestamp.check(z.describe('paginated list: the interval asked for; ask the next page with it'))),
  to: z.optional(timestamp.check(z.describe('paginated list: the end used (clamped to a minute ago)'))),
});

export const validation = z.strictObject({
  valid: z.boolean(),
  messages: z.array(z.string()).check(z.describe("ANAF's messages (errors and warnings), as written")),
});

/** The browser routes take any query parameter (mail trackers, ANAF's own); these are the ones they read. */
export const authorizeQuery = z.object({
  session: z.string().check(z.describe('the sessionId of the connect session (authorizeUrl carries it)')),
});
export const callbackQuery = z.object({
  state: z.string().check(z.describe('single use, 10 minutes')),
  code: z.optional(z.string().check(z.describe("ANAF's authorization code"))),
  error: z.optional(z.string().check(z.describe("ANAF's refusal, e.g. access_denied"))),
});

/** IAM in AWS (API Gateway's own 403 `{message}` when it fails), the printed bearer key locally. */
export const SECURITY_SCHEMES = {
  sigv4: {
    type: 'apiKey',
    in: 'header',
    name: 'Authorization',
    description: 'AWS Signature Version 4 (IAM auth on the HTTP API): sign with credentials allowed execute-api:Invoke.',
    'x-amazon-apigateway-authtype': 'awsSigv4',
  },
  localBearer: {
    type: 'http',
    scheme: 'bearer',
    description: 'Local stack only: Authorization: Bearer <LOCAL_API_KEY>, printed by npm run dev.',
  },
} as const;

// Compile-time agreement with what the services answer: a field added to, removed from or retyped in
// a view without the same change here fails `tsc`.
type Exactly<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
export const VIEWS_AGREE = [
  true satisfies Exactly<z.infer<typeof companyView>, CompanyView>,
  true satisfies Exactly<z.infer<typeof tokenView>, TokenView>,
  true satisfies Exactly<z.infer<typeof auditEvent>, AuditEvent>,
  true satisfies Exactly<z.infer<typeof eventsPage>, Awaited<ReturnType<typeof listEvents>>>,
  true satisfies Exactly<z.infer<typeof accessToken>, Awaited<ReturnType<typeof issueAccessToken>>>,
  true satisfies Exactly<z.infer<typeof connectSessionCreated>, Awaited<ReturnType<typeof createConnectSession>>>,
  true satisfies Exactly<z.infer<typeof connectSessionView>, ConnectSessionView>,
  true satisfies Exactly<z.infer<typeof uploadCreated>, Awaited<ReturnType<typeof uploadInvoice>>>,
  true satisfies Exactly<z.infer<typeof invoiceUploadCreated>, Awaited<ReturnType<typeof createInvoiceUpload>>>,
  true satisfies Exactly<z.infer<typeof uploadStatus>, Awaited<ReturnType<typeof getUploadStatus>>>,
  true satisfies Exactly<z.infer<typeof messagesPage>, Awaited<ReturnType<typeof listMessages>>>,
  true satisfies Exactly<z.infer<typeof validation>, Awaited<ReturnType<typeof validateInvoice>>>,
] as const;
