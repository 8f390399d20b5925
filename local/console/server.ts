/**
 * The local console: a page at `/` of the local gateway that walks through the product against the
 * real API (tenants, companies, the connect flow, tokens, the emulator's switches). Served by
 * `npm run dev` and the tests only; nothing under `functions/`, `shared/` or `infra/` imports it, so
 * it is in no Lambda bundle and no stack.
 *
 * The page carries the local API key (injected into the HTML), so it is served only to loopback host
 * names (a DNS-rebinding page cannot read it), never cached, never framed. Its own endpoints under
 * `/__local/` need the key like the service routes.
 */
import { timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { ErrorCode } from '../../shared/domain/errors.js';
import { errorResult } from '../../shared/http/responses.js';
import type { SweepSummary } from '../../shared/services/sweep.js';
import type { ConsoleConfig } from './browser/config.js';

export interface ConsoleOptions {
  apiKey: string;
  /** Read at request time: the port, PUBLIC_BASE_URL and the allowlist are known only once the gateway listens. */
  settings(): { publicBaseUrl: string; returnUrlAllowlist: readonly string[] };
  /** The emulator's base URL, or null when both ANAF base URLs point elsewhere. */
  emulatorUrl(): string | null;
  /** The emulator's always-accepted client (fake values), offered as a one-click fill; null without emulator. */
  emulatorClient(): { clientId: string; clientSecret: string } | null;
  runSweep(): Promise<SweepSummary>;
}

/** Answers true when it served the request (console page, its assets, `/__local/…`), false to let the gateway route it. */
export type ConsoleHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

/** Emulator admin actions the console may use, with their method (see local/anaf-emulator/README.md). */
export const EMULATOR_ACTIONS: Readonly<Record<string, 'GET' | 'POST'>> = {
  state: 'GET',
  'token-lifetimes': 'POST',
  'fail-next': 'POST',
  'token-behaviour': 'POST',
};

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const MAX_LOCAL_BODY_BYTES = 64 * 1024;
const HERE = fileURLToPath(new URL('.', import.meta.url));

/** Script only from this origin, calls only to this origin, no framing, no referrer (the key is in the page). */
const PAGE_HEADERS = {
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
};

/** True when a Host header names this machine (any port): the only hosts the console is served to. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]!;
  return LOOPBACK_HOSTS.has(name.toLowerCase());
}

/**
 * Where the console lives for a request on `requestOrigin`: itself when the return-URL allowlist has
 * it (the browser can come back to it after the ANAF login); else a redirect to PUBLIC_BASE_URL's
 * origin when that is a loopback origin the allowlist has (a visit on `localhost` when npm run dev's
 * PUBLIC_BASE_URL, and so the default allowlist, is 127.0.0.1); else itself without a return URL (the flow
 * then ends on the broker's result page, and the console says why).
 */
export function consoleHome(
  requestOrigin: string,
  settings: { publicBaseUrl: string; returnUrlAllowlist: readonly string[] },
): { redirectTo: string } | { returnUrl: string | null } {
  if (settings.returnUrlAllowlist.includes(requestOrigin)) return { returnUrl: `${requestOrigin}/` };
  const home = new URL(settings.publicBaseUrl).origin;
  if (home !== requestOrigin && settings.returnUrlAllowlist.includes(home) && isLoopbackHost(new URL(home).host)) {
    return { redirectTo: home };
  }
  return { returnUrl: null };
}

/** The console's request handler for the local gateway. */
export function createConsole(options: ConsoleOptions): ConsoleHandler {
  const expected = Buffer.from(options.apiKey);
  let bundle: Promise<string> | undefined;
  const assets = {
    '/console/app.js': { type: 'text/javascript; charset=utf-8', load: () => (bundle ??= buildBundle()) },
    '/console/console.css': { type: 'text/css; charset=utf-8', load: () => readFile(`${HERE}console.css`, 'utf8') },
  } as const;

  return async (req, res, url) => {
    if (url.pathname === '/' || url.pathname in assets) await serveConsole(req, res, url);
    else if (url.pathname === '/__local' || url.pathname.startsWith('/__local/')) await serveLocal(req, res, url);
    else return false;
    return true;
  };

  async function serveConsole(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    await drain(req);
    if (!isLoopbackHost(req.headers.host)) {
      return sendText(res, 403, 'The local console is served on localhost / 127.0.0.1 only: it carries the local API key.');
    }
    const method = (req.method ?? 'GET').toUpperCase();
    if (method !== 'GET' && method !== 'HEAD') return fail(res, 'METHOD_NOT_ALLOWED', `${method} is not allowed here`, { allow: 'GET' });
    if (url.pathname === '/') return servePage(req, res, url);
    const asset = assets[url.pathname as keyof typeof assets];
    send(res, 200, { ...PAGE_HEADERS, 'content-type': asset.type }, await asset.load());
  }

  async function serveLocal(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (!authorized(req.headers.authorization)) {
      await drain(req);
      return fail(res, 'UNAUTHORIZED', 'missing or wrong credentials');
    }
    const body = await readBody(req);
    if (body === null) return fail(res, 'PAYLOAD_TOO_LARGE', 'the body is too large');
    const method = (req.method ?? 'GET').toUpperCase();
    if (url.pathname === '/__local/sweep') {
      if (method !== 'POST') return fail(res, 'METHOD_NOT_ALLOWED', `${method} is not allowed here`, { allow: 'POST' });
      return sendJson(res, 200, await options.runSweep());
    }
    const action = /^\/__local\/emulator\/([a-z-]+)$/.exec(url.pathname)?.[1];
    const allowed = action !== undefined && Object.hasOwn(EMULATOR_ACTIONS, action) ? EMULATOR_ACTIONS[action] : undefined;
    if (!action || !allowed) return fail(res, 'NOT_FOUND', 'no such local endpoint');
    if (method !== allowed) return fail(res, 'METHOD_NOT_ALLOWED', `${method} is not allowed here`, { allow: allowed });
    const emulator = options.emulatorUrl();
    if (!emulator) return fail(res, 'NOT_FOUND', 'the ANAF emulator is not running (both ANAF base URLs are set)');
    // Same origin for the page; the emulator's admin API itself sends no CORS headers.
    const answer = await fetch(`${emulator}/__emulator/${action}`, {
      method,
      headers: method === 'POST' ? { 'content-type': 'application/json' } : {},
      body: method === 'POST' ? body : undefined,
    });
    send(res, answer.status, { 'cache-control': 'no-store', 'content-type': 'application/json; charset=utf-8' }, await answer.text());
  }

  function authorized(header: string | undefined): boolean {
    const match = /^bearer\s+(\S+)\s*$/i.exec(header ?? '');
    const given = Buffer.from(match?.[1] ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  async function servePage(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const home = consoleHome(`http://${req.headers.host!.toLowerCase()}`, options.settings());
    if ('redirectTo' in home) {
      send(res, 302, { ...PAGE_HEADERS, location: `${home.redirectTo}/${url.search}` }, '');
      return;
    }
    const config: ConsoleConfig = {
      apiKey: options.apiKey,
      returnUrl: home.returnUrl,
      emulator: options.emulatorUrl() !== null,
      emulatorClient: options.emulatorClient(),
    };
    const template = await readFile(`${HERE}index.html`, 'utf8');
    // JSON in a non-executed script element; `<` escaped so that no value can close the element.
    const page = template.replace('__CONSOLE_CONFIG__', () => JSON.stringify(config).replace(/</g, '\\u003c'));
    send(res, 200, { ...PAGE_HEADERS, 'content-type': 'text/html; charset=utf-8' }, req.method === 'HEAD' ? '' : page);
  }
}

/** Bundles the browser code (and the CUI check it shares with the server) with esbuild, once per process. */
async function buildBundle(): Promise<string> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [`${HERE}browser/app.ts`],
    bundle: true,
    write: false,
    format: 'esm',
    target: 'es2020',
    platform: 'browser',
    legalComments: 'none',
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

async function readBody(req: IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  // Read to the end even when too large, so that the connection stays usable for the next request.
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_LOCAL_BODY_BYTES) tooLarge = true;
    else chunks.push(chunk);
  }
  return tooLarge ? null : Buffer.concat(chunks).toString('utf8');
}

async function drain(req: IncomingMessage): Promise<void> {
  for await (const _ of req) {
    // discard
  }
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  res.writeHead(status, headers);
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, { 'cache-control': 'no-store', 'content-type': 'application/json; charset=utf-8' }, JSON.stringify(body));
}

function sendText(res: ServerResponse, status: number, text: string): void {
  send(res, status, { 'cache-control': 'no-store', 'content-type': 'text/plain; charset=utf-8' }, `${text}\n`);
}

/** The same error body and status as the API (one code → status table). */
function fail(res: ServerResponse, code: ErrorCode, message: string, headers: Record<string, string> = {}): void {
  const result = errorResult(code, message);
  send(res, result.statusCode, { ...(result.headers as Record<string, string>), ...headers }, result.body ?? '');
}
