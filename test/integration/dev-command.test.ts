import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

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

describe('npm run dev', () => {
  it('prints the API address and key once every part answers, runs the sweep, and SIGTERM stops every child', async () => {
    const child = spawn('npm', ['run', 'dev'], {
      env: { ...process.env, PORT: '0', SWEEP_INTERVAL_SECONDS: '1', ANAF_EMULATOR_AUTHORIZE_MODE: 'approve', LOCAL_API_KEY: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor(() => out, (t) => /API key: \S+/.test(t), 60_000, 'the API key line');
      const api = /API: (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;
      const key = /API key: (\S+)/.exec(out)![1]!;
      const moto = /AWS_ENDPOINT_URL=(http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;
      const emulator = /ANAF emulator: (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;
      expect(key.length).toBeGreaterThanOrEqual(16);

      // Every part answers as soon as the lines are printed.
      const put = await fetch(`${api}/v1/tenants/devcheck/anaf-client`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ clientId: 'emulator-client-id', clientSecret: 'emulator-client-secret' }),
      });
      expect(put.status).toBe(200);
      expect((await fetch(`${api}/v1/tenants/devcheck/anaf-client`)).status).toBe(401);
      expect(await answers(`${moto}/moto-api/`)).toBe(true);
      expect(await answers(`${emulator}/__emulator/state`)).toBe(true);
      await waitFor(() => out, (t) => t.includes('[local] sweep: {'), 10_000, 'a scheduled sweep');

      child.kill('SIGTERM');
      await exited;
      // npm does not always pass the signal on; the stack notices its parent is gone and stops.
      const deadline = Date.now() + 10_000;
      let up = true;
      while (Date.now() < deadline && up) {
        up = (await answers(`${moto}/moto-api/`)) || (await answers(`${emulator}/__emulator/state`)) || (await answers(`${api}/v1/oauth/authorize`));
        if (up) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(up, 'moto, the emulator or the gateway still answers after SIGTERM').toBe(false);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 90_000);
});
