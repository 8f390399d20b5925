import { readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsole } from '../../local/console/server.js';
import { startTestStack } from '../support/stack.js';

/*
 * The console's server side over HTTP: where the page is served (loopback host names only, on the
 * origin the return-URL allowlist has), what it carries, and its local endpoints (`/__local/…`).
 * The clicking is in test/e2e/console.test.ts.
 */

type Stack = Awaited<ReturnType<typeof startTestStack>>;
let stack: Stack;
let port = 0;

beforeAll(async () => {
  stack = await startTestStack();
  port = Number(new URL(stack.apiUrl).port);
});
afterAll(async () => {
  await stack?.stop();
});

/** A request with a chosen Host header (fetch does not let one set it). */
function request(
  path: string,
  init: { method?: string; host?: string; headers?: Record<string, string>; body?: string; to?: number } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: init.to ?? port, path, method: init.method ?? 'GET', headers: { host: init.host ?? `127.0.0.1:${init.to ?? port}`, ...init.headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

const auth = () => ({ authorization: `Bearer ${stack.apiKey}` });
const configOf = (html: string) => JSON.parse(/<script id="console-config" type="application\/json">(.*?)<\/script>/s.exec(html)![1]!);

describe('the console page at /', () => {
  it('opened on localhost redirects to the allowlisted PUBLIC_BASE_URL origin (127.0.0.1, what npm run dev prints), keeping the query', async () => {
    const res = await request('/?tenant=acme', { host: `localhost:${port}` });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe(`http://127.0.0.1:${port}/?tenant=acme`);
  });

  it('on 127.0.0.1: the page with the key, its own origin as return URL, and headers that keep it local', async () => {
    const res = await request('/');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.headers['content-security-policy']).toContain("connect-src 'self'");
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(configOf(res.body)).toEqual({
      apiKey: stack.apiKey,
      returnUrl: `http://127.0.0.1:${port}/`,
      emulator: true,
      emulatorClient: { clientId: 'emulator-client-id', clientSecret: 'emulator-client-secret' },
    });
  });

  it.each(['evil.example', 'localhost.evil.example', '127.0.0.1.nip.io'])(
    'is refused to Host %s (a DNS-rebinding page must not read the key)',
    async (name) => {
      for (const path of ['/', '/console/app.js']) {
        const res = await request(path, { host: `${name}:${port}` });
        expect(res.status).toBe(403);
        expect(res.body).not.toContain(stack.apiKey);
      }
    },
  );

  it('answers 405 to anything but GET and HEAD', async () => {
    const res = await request('/', { method: 'POST', body: '{}' });
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET');
    expect(JSON.parse(res.body).error.code).toBe('METHOD_NOT_ALLOWED');
  });

  it("serves the bundled script (with the shared CUI check) and the stylesheet; neither carries the key or calls the access-token route", async () => {
    const js = await request('/console/app.js');
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toMatch(/^text\/javascript/);
    expect(js.body).toContain('7, 5, 3, 2, 1, 7, 5, 3, 2');
    expect(js.body).not.toMatch(/^import /m);
    expect(js.body).not.toContain('access-token');
    expect(js.body).not.toContain(stack.apiKey);
    const css = await request('/console/console.css');
    expect(css.status).toBe(200);
    expect(css.headers['content-type']).toMatch(/^text\/css/);
  });

  it('leaves every other path to the route table', async () => {
    expect((await request('/nope')).status).toBe(404);
    expect((await request('/v1/tenants/x/companies')).status).toBe(401);
  });
});

describe('the local endpoints under /__local/', () => {
  it('need the bearer key (any case of the scheme)', async () => {
    for (const path of ['/__local/sweep', '/__local/emulator/state']) {
      const res = await request(path, { method: path.endsWith('sweep') ? 'POST' : 'GET' });
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body).error.code).toBe('UNAUTHORIZED');
      const wrong = await request(path, { method: 'POST', headers: { authorization: 'Bearer wrong-key-0123456789' } });
      expect(wrong.status).toBe(401);
    }
    const lower = await request('/__local/emulator/state', { headers: { authorization: `bearer ${stack.apiKey}` } });
    expect(lower.status).toBe(200);
  });

  it('POST /__local/sweep runs the sweep and answers its summary', async () => {
    const res = await request('/__local/sweep', { method: 'POST', headers: auth() });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ due: 0, refreshed: 0, failed: 0, stoppedEarly: false });
    expect((await request('/__local/sweep', { headers: auth() })).status).toBe(405);
  });

  it("passes the emulator's switches through, with the emulator's own validation", async () => {
    stack.emulator!.control.reset();
    const bad = await request('/__local/emulator/fail-next', { method: 'POST', headers: auth(), body: JSON.stringify({ kind: 'bogus' }) });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error.code).toBe('VALIDATION_ERROR');
    const notJson = await request('/__local/emulator/token-lifetimes', { method: 'POST', headers: auth(), body: '{' });
    expect(notJson.status).toBe(400);
    expect(JSON.parse(notJson.body).error.code).toBe('INVALID_JSON');
    expect(JSON.parse((await request('/__local/emulator/state', { headers: auth() })).body).pendingFailures).toEqual([]);

    const ok = await request('/__local/emulator/fail-next', { method: 'POST', headers: auth(), body: JSON.stringify({ kind: 'invalid_grant', count: 2 }) });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).pendingFailures).toEqual(['invalid_grant', 'invalid_grant']);
    const lifetimes = await request('/__local/emulator/token-lifetimes', { method: 'POST', headers: auth(), body: JSON.stringify({ accessSeconds: 864_000 }) });
    expect(JSON.parse(lifetimes.body).tokenLifetimes.accessSeconds).toBe(864_000);
    const behaviour = await request('/__local/emulator/token-behaviour', { method: 'POST', headers: auth(), body: JSON.stringify({ format: 'nope' }) });
    expect(behaviour.status).toBe(400);
    stack.emulator!.control.reset();
  });

  it('offers only the switches the console uses: others 404, wrong method 405, a body over 64 KB 413', async () => {
    for (const action of ['reset', 'constructor', 'authorize-mode', 'clients', 'certificate', 'latency', '../state']) {
      const res = await request(`/__local/emulator/${action}`, { method: 'POST', headers: auth(), body: '{}' });
      expect(res.status, action).toBe(404);
    }
    const getFail = await request('/__local/emulator/fail-next', { headers: auth() });
    expect(getFail.status).toBe(405);
    expect(getFail.headers.allow).toBe('POST');
    const big = await request('/__local/emulator/fail-next', { method: 'POST', headers: auth(), body: 'x'.repeat(70 * 1024) });
    expect(big.status).toBe(413);
  });
});

describe('without the emulator (both ANAF base URLs set)', () => {
  it('the page says so and the emulator endpoints answer 404', async () => {
    const local = createConsole({
      apiKey: 'key-0123456789abcdef',
      settings: () => ({ publicBaseUrl: 'https://broker.example.com', returnUrlAllowlist: ['https://broker.example.com'] }),
      emulatorUrl: () => null,
      emulatorClient: () => null,
      runSweep: () => Promise.reject(new Error('not used')),
    });
    const server = http.createServer((req, res) => {
      void local(req, res, new URL(req.url ?? '/', 'http://x')).then((served) => {
        if (!served) res.writeHead(418).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const to = (server.address() as { port: number }).port;
    try {
      const page = await request('/', { to });
      expect(page.status).toBe(200);
      // The allowlist has only a public origin: the console is never sent there (the key stays local) and has no return URL.
      expect(configOf(page.body)).toEqual({ apiKey: 'key-0123456789abcdef', returnUrl: null, emulator: false, emulatorClient: null });
      const state = await request('/__local/emulator/state', { to, headers: { authorization: 'Bearer key-0123456789abcdef' } });
      expect(state.status).toBe(404);
      expect((await request('/v1/anything', { to })).status).toBe(418);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('the console stays local', () => {
  it('nothing under functions/, shared/ or infra/ imports from local/ (so no Lambda bundle and no stack holds the console)', () => {
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (path.endsWith('.ts') && /from\s+['"](\.\.\/)+local\//.test(readFileSync(path, 'utf8'))) offenders.push(path);
      }
    };
    for (const dir of ['functions', 'shared', 'infra']) walk(dir);
    expect(offenders).toEqual([]);
  });
});
