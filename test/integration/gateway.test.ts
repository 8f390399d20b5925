import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway } from '../../local/gateway.js';

/**
 * The local gateway over real sockets, with a stand-in handler (the gateway's own answers — 401, 413 —
 * come before any handler runs): a body it does not read closes the connection, so the next request on
 * a keep-alive client gets a new one instead of a reset; the bearer scheme is case-insensitive.
 */
const KEY = 'gateway-test-key-0123456789';
const gateway = createGateway({
  apiKey: KEY,
  loadHandler: async () => async (event) => ({ statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ route: event.routeKey }) }),
});
let base: string;
beforeAll(async () => {
  await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
});
afterAll(async () => {
  gateway.closeAllConnections();
  await new Promise((resolve) => gateway.close(resolve));
});

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The local port of the client's socket: two requests on one connection share it. */
  localPort: number;
}

function send(agent: Agent, method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method, agent, headers }, (res) => {
      const localPort = res.socket.localPort!;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), localPort }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const path = '/v1/tenants/acme/tokens';
const tooLarge = Buffer.alloc(10 * 1024 * 1024 + 1, 0x61);

describe('local gateway', () => {
  it('after a body it did not read (413) it closes the connection: the next request on a keep-alive client succeeds', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const auth = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
      const first = await send(agent, 'POST', path, auth, tooLarge);
      expect(first.status).toBe(413);
      expect(JSON.parse(first.body)).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
      expect(first.headers.connection).toBe('close');
      const second = await send(agent, 'GET', path, auth);
      expect(second.status).toBe(200);
      expect(JSON.parse(second.body)).toEqual({ route: "GET /v1/tenants/{tenantId}/tokens" });
    } finally {
      agent.destroy();
    }
  });

  it('a 401 with a body it will not read closes the connection too; a small one keeps it alive', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await send(agent, 'POST', path, { authorization: 'Bearer wrong', 'content-type': 'application/json' }, tooLarge);
      expect(first.status).toBe(401);
      expect(first.headers.connection).toBe('close');
      const second = await send(agent, 'GET', path, { authorization: `Bearer ${KEY}` });
      expect(second.status).toBe(200);

      const small = await send(agent, 'POST', path, { authorization: 'Bearer wrong', 'content-type': 'application/json' }, Buffer.from('{}'));
      expect(small.status).toBe(401);
      const after = await send(agent, 'GET', path, { authorization: `Bearer ${KEY}` });
      expect(after.status).toBe(200);
      expect(after.localPort, 'a read body keeps the connection alive').toBe(small.localPort);
    } finally {
      agent.destroy();
    }
  });

  it.each([`Bearer ${KEY}`, `bearer ${KEY}`, `BEARER ${KEY}`, `Bearer  ${KEY}`])('accepts the bearer scheme in any case: %j', async (authorization) => {
    const agent = new Agent();
    const answer = await send(agent, 'GET', path, { authorization });
    expect(answer.status).toBe(200);
  });

  it.each(['', `Basic ${KEY}`, `Bearer ${KEY}x`, `Bearer${KEY}`, KEY, `Bearer ${KEY.toUpperCase()}`])('refuses other credentials: %j', async (authorization) => {
    const agent = new Agent();
    const answer = await send(agent, 'GET', path, authorization ? { authorization } : {});
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
  });
});
