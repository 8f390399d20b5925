import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { getRuntime, type AdapterKit } from '../runtime/runtime.js';
import type { BrokerError } from '../domain/errors.js';
import type { ServiceDeps } from '../services/deps.js';
import { accessLog, errorMapper, flushMetrics, jsonBody, onlyDeclaredInput, type JsonEvent, type RouteInput } from './middleware.js';
import { errorResult, type HttpResult } from './responses.js';

export interface HttpRequest {
  params: Record<string, string | undefined>;
  query: Record<string, string | undefined>;
  body: unknown;
  /** The XML document of a route that takes one (`input.xml`). */
  xml: Buffer | undefined;
  headers: Record<string, string | undefined>;
}

/** What a route reads besides its path, and the adapter kits its code path uses (its composition). */
export interface RouteOptions extends RouteInput {
  /**
   * The kits that provide the ports the route's service calls, each imported from its own module under
   * shared/runtime/adapters/ (or a group from shared/runtime/adapters/index.ts): only these SDK clients
   * go into the function's bundle. A port left out throws on use; bundles.test.ts checks the bundle
   * against the function's IAM grants.
   */
  adapters: readonly AdapterKit[];
  /**
   * A route a person's browser opens (authorize, callback): its failures of ours (5xx) are this HTML
   * page, not JSON (`renderErrorPage`).
   */
  errorPage?: (error: BrokerError | null) => HttpResult;
}

/**
 * Wraps a route function with the house middleware: JSON body parsing with limits, refusal of input the
 * route does not declare (by default: no body, no query parameters), one access-log line, and the
 * error→status mapping. The route function gets the request and the service deps, built from the kits
 * in `options.adapters`.
 */
export function httpHandler(run: (request: HttpRequest, deps: ServiceDeps) => Promise<HttpResult>, options: RouteOptions) {
  const { adapters, errorPage, ...input } = options;
  const runtime = () => getRuntime(...adapters);
  const logger = () => runtime().logger;
  return middy<JsonEvent, HttpResult, Error, Context>()
    // middy runs onError in reverse order: the mapper sets the response, then the access log sees it.
    .use(flushMetrics(() => runtime().deps.metrics))
    .use(accessLog(logger))
    .use(errorMapper(logger, { errorPage }))
    .use(jsonBody(input))
    .use(onlyDeclaredInput(input))
    .handler(async (event) =>
      run(
        {
          params: event.pathParameters ?? {},
          query: event.queryStringParameters ?? {},
          body: event.jsonBody,
          xml: event.xmlBody,
          headers: event.headers ?? {},
        },
        runtime().deps,
      ),
    );
}

type RouteHandler = (event: JsonEvent, context: Context) => Promise<HttpResult>;

/**
 * One Lambda behind several routes that share their adapters (the e-Factura calls): the route's own
 * handler by API Gateway's `routeKey` (`METHOD /path`), each with its own declared input.
 */
export function routeDispatcher(routes: Record<string, RouteHandler>) {
  return async (event: JsonEvent, context: Context): Promise<HttpResult> => {
    const route = routes[event.routeKey];
    if (!route) return errorResult('NOT_FOUND', 'no such route');
    return route(event, context);
  };
}
