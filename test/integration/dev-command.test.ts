import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAnafEmulator, type AnafEmulator } from '../../local/anaf-emulator/server.js';

const ROOT = new URL('../..', import.meta.url).pathname;

/** Waits until `predicate` holds for the text collected so far, or fails after `ms`. */
async function waitFor(read: () => string, predicate: (text: string) => boolean, ms: number, what: string): Promise<string> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (predicate(read())) return read();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}; output so far:\n${read()}`);
}

const answers = async (url: string) => {
  try {
    await fetch(url, { signal: AbortSignal.timeout(1000) });
    return true;
  } catch {
    return false;
  }
};

/** Polls until none of `urls` answers, for at most `ms`; answers whether one still does. */
async function stillUp(urls: string[], ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  let up = true;
  while (Date.now() < deadline && up) {
    up = (await Promise.all(urls.map(answers))).some(Boolean);
    if (up) await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return up;
}

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function run(command: string, args: string[], env: Record<string, string>, options: { detached?: boolean } = {}): Run {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: options.detached });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

const banner = (out: string) => ({
  api: /API: (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!,
  key: /API key: (\S+)/.exec(out)![1]!,
  moto: /AWS_ENDPOINT_URL=(http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!,
});

describe('npm run dev', () => {
  let external: AnafEmulator;
  beforeAll(async () => {
    external = await startAnafEmulator();
  });
  afterAll(async () => {
    await external?.close();
  });

  it('with an external ANAF: the banner names it and the CLI line carries ANAF_OAUTH_BASE_URL; the log is quiet by default; SIGTERM stops every child', async () => {
    const dev = run('npm', ['run', 'dev'], {
      PORT: '0',
      LOCAL_API_KEY: '',
      ANAF_OAUTH_BASE_URL: external.oauthBaseUrl,
      ANAF_API_BASE_URL: external.apiBaseUrl,
      SWEEP_INTERVAL_SECONDS: '1',
    });
    try {
      const out = await waitFor(dev.output, (t) => t.includes('Ctrl+C stops everything.'), 60_000, 'the banner');
      const { api, key, moto } = banner(out);
      expect(key.length).toBeGreaterThanOrEqual(16);
      expect(out).toContain(`ANAF: ${external.oauthBaseUrl} (OAuth), ${external.apiBaseUrl} (e-Factura)`);
      expect(out).not.toContain('ANAF emulator:');
      expect(out).toMatch(new RegExp(`export AWS_ENDPOINT_URL=${moto} ANAF_OAUTH_BASE_URL=${external.oauthBaseUrl} `));
      expect(out).toContain(`Return URLs allowed: ${api} (RETURN_URL_ALLOWLIST)`);

      const put = await fetch(`${api}/v1/tenants/devcheck/anaf-client`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ clientId: 'emulator-client-id', clientSecret: 'emulator-client-secret' }),
      });
      expect(put.status).toBe(200);
      // One host form: the callback (and so authorizeUrl and the allowlist) use the address printed.
      expect(((await put.json()) as { redirectUri: string }).redirectUri).toBe(`${api}/v1/oauth/callback`);
      expect((await fetch(`${api}/v1/tenants/devcheck/anaf-client`)).status).toBe(401);
      expect(await answers(`${moto}/moto-api/`)).toBe(true);

      dev.child.kill('SIGTERM');
      await dev.exited;
      expect(await stillUp([`${moto}/moto-api/`, `${api}/v1/oauth/authorize`], 10_000), 'moto or the gateway still answers after SIGTERM').toBe(false);
      // Everything written before the stop line has been read: no per-request line, no idle sweep line.
      // npm passes SIGTERM to the script's shell, which may go first: either way the stack says it stops.
      expect(dev.output()).toMatch(/(SIGTERM|npm exited): stopping the local stack/);
      expect(dev.output()).not.toMatch(/"message":"request"/);
      expect(dev.output()).not.toContain('[local] sweep:');
    } finally {
      if (dev.child.exitCode === null) dev.child.kill('SIGKILL');
    }
  }, 90_000);

  it('npm killed with SIGKILL (an IDE stop button): moto, the emulator and the gateway stop; LOCAL_LOG=requests logs each request and sweep; the banner prints the real mode', async () => {
    // Its own process group, so that the test can clean up whatever is left; only npm gets the SIGKILL.
    const dev = run('npm', ['run', 'dev'], { PORT: '0', LOCAL_API_KEY: '', SWEEP_INTERVAL_SECONDS: '1', ANAF_EMULATOR_AUTHORIZE_MODE: 'approve', LOCAL_LOG: 'requests' }, { detached: true });
    try {
      const out = await waitFor(dev.output, (t) => t.includes('Ctrl+C stops everything.'), 60_000, 'the banner');
      const { api, key, moto } = banner(out);
      const emulator = /ANAF emulator: (http:\/\/127\.0\.0\.1:\d+) \(authorize mode: approve;/.exec(out)![1]!;
      expect(out).toContain(`ANAF_OAUTH_BASE_URL=${emulator}/anaf-oauth2/v1`);
      expect(out).toContain('Log: warnings and a line per request');

      const put = await fetch(`${api}/v1/tenants/devcheck/anaf-client`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ clientId: 'emulator-client-id', clientSecret: 'emulator-client-secret' }),
      });
      expect(put.status).toBe(200);
      await waitFor(dev.output, (t) => /"message":"request".*"route":"PUT \/v1\/tenants\/\{tenantId\}\/anaf-client","status":200/.test(t), 10_000, 'the request line');
      await waitFor(dev.output, (t) => t.includes('[local] sweep: {'), 10_000, 'a scheduled sweep line');
      expect(await answers(`${emulator}/__emulator/state`)).toBe(true);

      process.kill(dev.child.pid!, 'SIGKILL');
      await dev.exited;
      const up = await stillUp([`${moto}/moto-api/`, `${emulator}/__emulator/state`, `${api}/v1/oauth/authorize`], 15_000);
      expect(up, 'moto, the emulator or the gateway still answers after npm was killed').toBe(false);
      expect(dev.output()).toContain('npm exited: stopping the local stack');
    } finally {
      try {
        process.kill(-dev.child.pid!, 'SIGKILL');
      } catch {
        // the group is gone already
      }
    }
  }, 90_000);

  it('npm run dev --bundles: each answer comes from the function\'s esbuild bundle (the one cdk synth builds), not the source; stopping removes them', async () => {
    const dev = run('npm', ['run', 'dev', '--bundles'], { PORT: '0', LOCAL_API_KEY: '' });
    try {
      const out = await waitFor(dev.output, (t) => t.includes('Ctrl+C stops everything.'), 90_000, 'the banner');
      const { api, key } = banner(out);
      const dir = /Handlers: the esbuild bundles cdk synth deploys, in (\S+) /.exec(out)![1]!;
      const answer = await fetch(`${api}/v1/tenants/devcheck/anaf-client`, { headers: { authorization: `Bearer ${key}` } });
      expect(answer.status).toBe(404);
      const file = answer.headers.get('x-local-handler')!;
      expect(file).toBe(`${dir}/anaf-client-get/index.mjs`);
      // A bundle, not a module tsx compiled: the construct's banner opens it.
      expect(readFileSync(file, 'utf8').startsWith("import{createRequire}from'module';")).toBe(true);
      dev.child.kill('SIGTERM');
      await dev.exited;
      // npm may exit before the stack has stopped (see above): give the stop its few seconds.
      for (let i = 0; i < 50 && existsSync(dir); i++) await new Promise((resolve) => setTimeout(resolve, 200));
      expect(existsSync(dir)).toBe(false);
    } finally {
      if (dev.child.exitCode === null) dev.child.kill('SIGKILL');
    }
  }, 120_000);

  describe('start-up errors are one line each, not stack traces', () => {
    const dev = (env: Record<string, string>) => run(process.execPath, ['--import', 'tsx', 'local/dev.ts'], { PORT: '0', LOCAL_API_KEY: '', ...env });
    const lines = (text: string) => text.split('\n').filter((line) => line.trim() !== '');

    it.each([
      [{ PORT: 'abc' }, ['PORT: must be a port number from 0 to 65535 (0 = any free port) (got "abc")']],
      [{ LOCAL_API_KEY: 'too-short' }, ['LOCAL_API_KEY: must be at least 16 characters long (got 9 characters)']],
      [{ PORT: '99999', LOCAL_API_KEY: 'short', ANAF_EMULATOR_AUTHORIZE_MODE: 'aprove' }, ['PORT: must be a port number', 'LOCAL_API_KEY: must be at least 16', 'ANAF_EMULATOR_AUTHORIZE_MODE: must be one of interactive, approve, deny (got "aprove")']],
    ])('%j', async (env, problems) => {
      const started = dev(env);
      expect(await started.exited).toBe(1);
      const out = lines(started.output());
      expect(out).toHaveLength(1);
      expect(out[0]).toMatch(/^npm run dev: Invalid configuration: /);
      for (const problem of problems) expect(out[0]).toContain(problem);
      expect(out[0]).not.toContain('too-short');
    }, 30_000);

    it('a port in use: "another npm run dev? set PORT=0"', async () => {
      const holder: Server = createServer();
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
      const port = (holder.address() as { port: number }).port;
      try {
        const started = dev({ PORT: String(port) });
        expect(await started.exited).toBe(1);
        expect(lines(started.output())).toEqual([
          `npm run dev: Invalid configuration: PORT: ${port} is in use on 127.0.0.1 (another npm run dev? set PORT=0 for any free port)`,
        ]);
      } finally {
        holder.close();
      }
    }, 30_000);
  });
});
