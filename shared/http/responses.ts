import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import { BrokerError, HTTP_STATUS, type ErrorCode } from '../domain/errors.js';

export type HttpResult = Exclude<APIGatewayProxyResultV2, string> & { statusCode: number };

const BASE_HEADERS = { 'cache-control': 'no-store' };

export const json = (statusCode: number, body: unknown): HttpResult => ({
  statusCode,
  headers: { ...BASE_HEADERS, 'content-type': 'application/json; charset=utf-8' },
  body: JSON.stringify(body),
});

/** A document's bytes (ZIP, XML, PDF): base64 with isBase64Encoded, which API Gateway decodes for the client. */
export const binary = (statusCode: number, contentType: string, bytes: Uint8Array, fileName?: string): HttpResult => ({
  statusCode,
  headers: {
    ...BASE_HEADERS,
    'content-type': contentType,
    'x-content-type-options': 'nosniff',
    ...(fileName ? { 'content-disposition': `attachment; filename="${fileName.replace(/[^A-Za-z0-9._-]/g, '_')}"` } : {}),
  },
  body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'),
  isBase64Encoded: true,
});

export const noContent = (): HttpResult => ({ statusCode: 204, headers: BASE_HEADERS });

/** Browser responses: no referrer (the callback URL carries the code), no scripts, no framing. */
const PAGE_HEADERS = {
  ...BASE_HEADERS,
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'none'",
};

export const redirect = (location: string): HttpResult => ({
  statusCode: 302,
  headers: { ...PAGE_HEADERS, location },
});

export const html = (statusCode: number, body: string): HttpResult => ({
  statusCode,
  headers: { ...PAGE_HEADERS, 'content-type': 'text/html; charset=utf-8' },
  body,
});

/** The JSON error body; 5xx messages never expose internals. */
export function errorResult(code: ErrorCode, message: string): HttpResult {
  const status = HTTP_STATUS[code];
  const safeMessage =
    status >= 500 && code === 'INTERNAL_ERROR' ? 'An internal error occurred; it has been logged.' : message;
  return json(status, { error: { code, message: safeMessage } });
}

export function fromBrokerError(error: BrokerError): HttpResult {
  const result = errorResult(error.code, error.message);
  if (error.retryAfterSeconds !== undefined) result.headers = { ...result.headers, 'retry-after': String(error.retryAfterSeconds) };
  return result;
}
