import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { getRuntime } from '../runtime/runtime.js';
import type { ServiceDeps } from '../services/deps.js';
import { accessLog, errorMapper, flushMetrics, jsonBody, onlyDeclaredInput, type JsonEvent, type RouteInput } from './middleware.js';
import type { HttpResult } from './responses.js';

export interface HttpRequest {
  params: Record<string, string | undefined>;
  query: Record<string, string | undefined>;
  body: unknown;
  headers: Record<string, string | undefined>;
}

/**
 * Wraps a route function with the house middleware: JSON body parsing with limits, refusal of input the
 * route does not declare in `input` (by default: no body, no query parameters), one access-log line,
 * and the error→status mapping. The route function gets the request and the service deps.
 */
export function httpHandler(run: (request: HttpRequest, deps: ServiceDeps) => Promise<HttpResult>, input: RouteInput = {}) {
  const logger = () => getRuntime().logger;
  return middy<JsonEvent, HttpResult, Error, Context>()
    // middy runs onError in reverse order: the mapper sets the response, then the access log sees it.
    .use(flushMetrics(() => getRuntime().deps.metrics))
    .use(accessLog(logger))
    .use(errorMapper(logger))
    .use(jsonBody())
    .use(onlyDeclaredInput(input))
    .handler(async (event) =>
      run(
        {
          params: event.pathParameters ?? {},
          query: event.queryStringParameters ?? {},
          body: event.jsonBody,
          headers: event.headers ?? {},
        },
        getRuntime().deps,
      ),
    );
}
