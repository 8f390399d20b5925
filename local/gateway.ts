import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import type { ErrorCode } from '../shared/domain/errors.js';
import { errorResult } from '../shared/http/responses.js';
import { ROUTES, type RouteDef } from '../shared/http/routes.js';

/** Largest body the gateway reads (API Gateway's own limit is 10 MB; handlers apply 64 KB). */
const MAX_GATEWAY_BODY_BYTES = 10 * 1024 * 1024;

type LambdaHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<unknown>;

export interface GatewayOptions {
  apiKey: string;
  /** Loads `functions/<fn>/handler.ts` (dynamic import by default). */
  loadHandler?: (fn: string) => Promise<LambdaHandler>;
  /** The file `loadHandler` runs for `fn`, named in each answer's `x-local-handler` header (the bundles). */
  handlerFile?: (fn: string) => string | null;
  /** Local-only pages and endpoints outside the route table (the console); answers true when it served the request. */
  local?: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;
}

interface CompiledRoute extends RouteDef {
  pattern: RegExp;
  names: string[];
}

const compiled: CompiledRoute[] = ROUTES.map((route) => {
  const names: string[] = [];
  const source = route.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  return { ...route, pattern: new RegExp(`^${source}$`), names };
});

const defaultLoader = async (fn: string): Promise<LambdaHandler> =>
  ((await import(`../functions/${fn}/handler.ts`)) as { handler: LambdaHandler }).handler;

/**
 * A local stand-in for API Gateway's HTTP API: matches the route table, checks the bearer key on
 * service routes (IAM does that in AWS), builds a payload-v2 event and calls the same handler.
 */
export function createGateway(options: GatewayOptions): Server {
  const load = options.loadHandler ?? defaultLoader;
  const handlers = new Map<string, Promise<LambdaHandler>>();
  const expectedKey = Buffer.from(options.apiKey);
  // RFC 9110 §11.1: the scheme is case-insensitive; clients differ in how they spell it.
  const authorized = (header: string | undefined) => {
    const given = Buffer.from(/^bearer +(\S+)$/i.exec(header ?? '')?.[1] ?? '');
    return given.length === expectedKey.length && timingSafeEqual(given, expectedKey);
  };

  return createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      process.stderr.write(`gateway error: ${(error as Error)?.name}: ${(error as Error)?.message}\n`);
      if (!res.headersSent) fail(req, res, 'INTERNAL_ERROR', 'internal error');
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://gateway.local');
    if (options.local && (await options.local(req, res, url))) return;
    const method = (req.method ?? 'GET').toUpperCase();
    if (method === 'GET' && url.pathname === OPENAPI_PATH) return serveOpenApi(req, res);
    const matches = compiled.filter((route) => route.pattern.test(url.pathname));
    if (matches.length === 0) return fail(req, res, 'NOT_FOUND', 'no such route');
    const route = matches.find((r) => r.method === method);
    if (!route) {
      const allow = [...new Set(matches.map((r) => r.method))].join(', ');
      return fail(req, res, 'METHOD_NOT_ALLOWED', `${method} is not allowed here`, { allow });
    }

    if (route.auth === 'service' && !authorized(req.headers.authorization)) {
      // Read (and drop) a body of a size we would accept, so that the connection stays usable.
      await readBody(req);
      return fail(req, res, 'UNAUTHORIZED', 'missing or wrong credentials');
    }

    const body = await readBody(req);
    if (body === null) return fail(req, res, 'PAYLOAD_TOO_LARGE', 'the body is too large');

    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
    }
    const event = apiGatewayEvent(route, {
      url,
      headers,
      body,
      sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
      protocol: `HTTP/${req.httpVersion}`,
    });
    let handler = handlers.get(route.fn);
    if (!handler) {
      handler = load(route.fn);
      handlers.set(route.fn, handler);
    }
    const result = (await (await handler)(event, lambdaContext(route.fn))) as {
      statusCode: number;
      headers?: Record<string, string>;
      body?: string;
      isBase64Encoded?: boolean;
    };
    const file = options.handlerFile?.(route.fn);
    res.writeHead(result.statusCode, { ...(result.headers ?? {}), ...(file ? { 'x-local-handler': file } : {}) });
    res.end(result.body === undefined ? undefined : Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8'));
  }
}

/** The route of ROUTES that serves `method` on `pathname`, or null. */
export function matchRoute(method: string, pathname: string): RouteDef | null {
  return compiled.find((route) => route.method === method && route.pattern.test(pathname)) ?? null;
}

/**
 * The payload-v2 event API Gateway would send for a request on `route` (lower-cased `headers`).
 * Tests that invoke a handler module directly build their events here too.
 */
export function apiGatewayEvent(
  route: RouteDef,
  request: { url: URL; headers?: Record<string, string>; body?: Buffer; sourceIp?: string; protocol?: string },
): APIGatewayProxyEventV2 {
  const { url } = request;
  const headers = request.headers ?? {};
  const body = request.body ?? Buffer.alloc(0);
  const pattern = compiled.find((r) => r.method === route.method && r.path === route.path)!;
  const values = pattern.pattern.exec(url.pathname)!.slice(1);
  const pathParameters = Object.fromEntries(pattern.names.map((name, i) => [name, safeDecode(values[i]!)]));
  // API Gateway joins repeated query keys with commas.
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = name in query ? `${query[name]},${value}` : value;
  const text = body.toString('utf8');
  const isText = Buffer.from(text, 'utf8').equals(body);
  const routeKey = `${route.method} ${route.path}`;
  const now = Date.now();
  return {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    queryStringParameters: Object.keys(query).length ? query : undefined,
    pathParameters: Object.keys(pathParameters).length ? pathParameters : undefined,
    body: body.length ? (isText ? text : body.toString('base64')) : undefined,
    isBase64Encoded: body.length > 0 && !isText,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'localhost',
      http: {
        method: route.method,
        path: url.pathname,
        protocol: request.protocol ?? 'HTTP/1.1',
        sourceIp: request.sourceIp ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: new Date(now).toISOString(),
      timeEpoch: now,
    },
  };
}

/** A Lambda context for `fn` with 30 s to run (API Gateway's limit). */
export function lambdaContext(fn: string): Context {
  const deadline = Date.now() + 30_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: fn,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${fn}`,
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: `/local/${fn}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** Local only, unauthenticated: the OpenAPI document of ROUTES (the deployed API has no such route). */
const OPENAPI_PATH = '/openapi.json';

async function serveOpenApi(req: IncomingMessage, res: ServerResponse): Promise<void> {
  await drain(req);
  // Loaded on first request: the generator and zod-openapi stay out of the gateway's start-up.
  const { renderOpenApi } = await import('./openapi.js');
  const body = renderOpenApi({ serverUrl: `http://${req.headers.host ?? '127.0.0.1'}` });
  res.writeHead(200, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    // Lets a browser-based viewer or client generator load it from the local stack.
    'access-control-allow-origin': '*',
  });
  res.end(body);
}

/**
 * The request body, or null once it is over the limit (declared or sent): reading stops there and the
 * rest is left unread (`fail` then closes the connection).
 */
function readBody(req: IncomingMessage): Promise<Buffer | null> {
  if (Number(req.headers['content-length'] ?? 0) > MAX_GATEWAY_BODY_BYTES) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_GATEWAY_BODY_BYTES) {
        req.off('data', onData).off('end', onEnd).off('error', reject);
        req.pause();
        resolve(null);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => resolve(Buffer.concat(chunks));
    req.on('data', onData).once('end', onEnd).once('error', reject);
  });
}

async function drain(req: IncomingMessage): Promise<void> {
  for await (const _ of req) {
    // discard
  }
}

/** Answers an error with the same body and status as the handlers (one code → status table). */
function fail(req: IncomingMessage, res: ServerResponse, code: ErrorCode, message: string, headers: Record<string, string> = {}): void {
  const result = errorResult(code, message);
  // A body we did not read to its end would be parsed as the next request on this connection: close it
  // instead, and say so, so that a keep-alive client opens a new one.
  const close: Record<string, string> = req.complete ? {} : { connection: 'close' };
  res.writeHead(result.statusCode, { ...(result.headers as Record<string, string>), ...headers, ...close });
  res.end(result.body);
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
