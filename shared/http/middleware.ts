import type middy from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { storeFaultAsBrokerError } from '../config/aws-calls.js';
import { BrokerError, HTTP_STATUS } from '../domain/errors.js';
import type { Logger, Metrics } from '../ports.js';
import { errorResult, fromBrokerError, type HttpResult } from './responses.js';

export const MAX_BODY_BYTES = 64 * 1024;

export type JsonEvent = APIGatewayProxyEventV2 & { jsonBody?: unknown; xmlBody?: Buffer };

/**
 * Parses the JSON body before the handler runs: over 64 KB → PAYLOAD_TOO_LARGE, not JSON →
 * INVALID_JSON, empty → undefined (the route's schema decides whether that is allowed). A route that
 * takes an XML document (`input.xml`) gets its exact bytes instead, up to its own limit.
 */
export function jsonBody(input: RouteInput = {}): middy.MiddlewareObj<JsonEvent, HttpResult> {
  return {
    before: (request) => {
      const event = request.event;
      if (input.xml) {
        if (input.xml.optional && !event.body) return;
        event.xmlBody = xmlBodyOf(event, input.xml.maxBytes);
        return;
      }
      if (event.body === undefined || event.body === null || event.body === '') return;
      const raw = event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
      if (raw.byteLength > MAX_BODY_BYTES) {
        throw new BrokerError('PAYLOAD_TOO_LARGE', `the body is over ${MAX_BODY_BYTES / 1024} KB`);
      }
      try {
        event.jsonBody = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new BrokerError('INVALID_JSON', 'the body is not valid JSON');
      }
    },
  };
}

/** XML media types an XML route accepts (ANAF takes the document as it is). */
const XML_TYPES = ['application/xml', 'text/xml'];

/** The XML body's exact bytes: required, `application/xml` (or `text/xml`), at most `maxBytes`. */
function xmlBodyOf(event: APIGatewayProxyEventV2, maxBytes: number): Buffer {
  const type = (event.headers?.['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (!XML_TYPES.includes(type)) throw new BrokerError('VALIDATION_ERROR', 'the body must be the XML document, sent as Content-Type: application/xml');
  const raw = !event.body ? Buffer.alloc(0) : event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
  if (raw.byteLength === 0) throw new BrokerError('VALIDATION_ERROR', 'the body must be the XML document (it is empty)');
  if (raw.byteLength > maxBytes) throw new BrokerError('PAYLOAD_TOO_LARGE', `the document is over ${maxBytes} bytes`);
  return raw;
}

/** What a route reads besides its path: anything else in the request is refused, never ignored. */
export interface RouteInput {
  /**
   * The route reads an XML document as its body (exact bytes, at most `maxBytes`), not JSON; `optional`:
   * an empty body leaves `xml` undefined (the route takes the document from elsewhere, say S3).
   */
  xml?: { maxBytes: number; optional?: boolean };
  /** The route reads a JSON body (its handler validates it with a strict schema); otherwise any body is refused. */
  body?: boolean;
  /**
   * Query parameters the route reads; any other is refused. Browser routes take `'any'`: links opened
   * from e-mail pick up trackers' parameters, and ANAF may add its own to the callback.
   */
  query?: readonly string[] | 'any';
}

/**
 * Refuses input a route does not read (a body on a route without one, an unknown query parameter) with
 * VALIDATION_ERROR, so that a misspelt `limit` or a body sent to the wrong route is not silently ignored.
 * Runs after `jsonBody`.
 */
export function onlyDeclaredInput(input: RouteInput = {}): middy.MiddlewareObj<JsonEvent, HttpResult> {
  const allowed = input.query ?? [];
  return {
    before: ({ event }) => {
      if (!input.body && event.jsonBody !== undefined) {
        throw new BrokerError('VALIDATION_ERROR', 'this route takes no body');
      }
      if (allowed === 'any') return;
      const unknown = Object.keys(event.queryStringParameters ?? {}).filter((name) => !allowed.includes(name));
      if (unknown.length > 0) {
        const names = unknown.slice(0, 5).map((name) => JSON.stringify(name.slice(0, 40)));
        const reads = allowed.length > 0 ? `this route reads ${allowed.join(', ')}` : 'this route takes none';
        throw new BrokerError('VALIDATION_ERROR', `unknown query ${unknown.length === 1 ? 'parameter' : 'parameters'} ${names.join(', ')} (${reads})`);
      }
    },
  };
}

/**
 * Maps every error to `{error: {code, message}}` with the status of its code. A store that did not
 * answer is a 503 STORE_UNAVAILABLE with Retry-After (its name goes to the log as a warning). Unknown
 * errors become a 500 whose body says nothing about internals; their name and message go to the log only.
 * `errorPage`: a route a person's browser opens answers its failures of ours (5xx: a store that did not
 * answer, an unknown error) with that page instead, same status; a bad request stays JSON there too (a
 * browser following our links sends none). The page renderer is passed in, not imported, so that the
 * bundles of the JSON routes do not carry the pages.
 */
export function errorMapper(
  logger: () => Logger,
  options: { errorPage?: (error: BrokerError | null) => HttpResult } = {},
): middy.MiddlewareObj<JsonEvent, HttpResult> {
  const { errorPage } = options;
  return {
    onError: (request) => {
      const error = storeFaultAsBrokerError(request.error);
      if (error instanceof BrokerError) {
        if (error !== request.error) {
          logger().warn('store unavailable', { route: request.event.routeKey, errorName: (request.error as Error).name });
        }
        request.response = errorPage && HTTP_STATUS[error.code] >= 500 ? errorPage(error) : fromBrokerError(error);
        return;
      }
      logger().error('unhandled error', {
        route: request.event.routeKey,
        errorName: (error as Error | null)?.name,
        errorMessage: (error as Error | null)?.message,
      });
      request.response = errorPage ? errorPage(null) : errorResult('INTERNAL_ERROR', 'internal error');
    },
  };
}

/** One log line per request: route, status and duration (never the query, which may hold an OAuth code). */
export function accessLog(logger: () => Logger): middy.MiddlewareObj<JsonEvent, HttpResult> {
  const started = new WeakMap<object, number>();
  const done = (request: middy.Request<JsonEvent, HttpResult>) => {
    logger().info('request', {
      route: request.event.routeKey,
      status: request.response?.statusCode,
      ms: Date.now() - (started.get(request) ?? Date.now()),
    });
  };
  return {
    before: (request) => {
      started.set(request, Date.now());
    },
    after: done,
    onError: (request) => {
      if (request.response) done(request);
    },
  };
}

/** Writes the invocation's metrics once it has answered, whatever the outcome. */
export function flushMetrics(metrics: () => Metrics | undefined): middy.MiddlewareObj<JsonEvent, HttpResult> {
  const flush = () => metrics()?.flush();
  return { after: flush, onError: flush };
}
