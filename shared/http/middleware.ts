import type middy from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { BrokerError } from '../domain/errors.js';
import type { Logger, Metrics } from '../ports.js';
import { errorResult, fromBrokerError, type HttpResult } from './responses.js';

export const MAX_BODY_BYTES = 64 * 1024;

export type JsonEvent = APIGatewayProxyEventV2 & { jsonBody?: unknown };

/**
 * Parses the JSON body before the handler runs: over 64 KB → PAYLOAD_TOO_LARGE, not JSON →
 * INVALID_JSON, empty → undefined (the route's schema decides whether that is allowed).
 */
export function jsonBody(): middy.MiddlewareObj<JsonEvent, HttpResult> {
  return {
    before: (request) => {
      const event = request.event;
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

/**
 * Maps every error to `{error: {code, message}}` with the status of its code. Unknown errors become a
 * 500 whose body says nothing about internals; their name and message go to the log only.
 */
export function errorMapper(logger: () => Logger): middy.MiddlewareObj<JsonEvent, HttpResult> {
  return {
    onError: (request) => {
      const error = request.error;
      if (error instanceof BrokerError) {
        request.response = fromBrokerError(error);
        return;
      }
      logger().error('unhandled error', {
        route: request.event.routeKey,
        errorName: (error as Error | null)?.name,
        errorMessage: (error as Error | null)?.message,
      });
      request.response = errorResult('INTERNAL_ERROR', 'internal error');
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
