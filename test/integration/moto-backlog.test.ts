/**
 * Many invocations in one process against the single-threaded moto. The moto (local/moto_server.py) serves one request at a time; the connections that
 * arrive meanwhile must wait in the kernel's accept queue, not be dropped: a local gateway hosting a
 * few hundred invocations in one process opens that many at once, and a dropped SYN shows up as the
 * SDK's connection timeout (a 500 of the route). And the SDK clients (shared/config/aws-calls.ts) must
 * not make a call wait for one of a few pooled sockets: smithy's connection timeout runs from the
 * call's start, so a call queued behind busy sockets times out without ever trying to connect. And a
 * call moto does not answer must end at the request timeout.
 */
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMoto, type MotoServer } from '../../local/moto.js';
import { AWS_CALLS, awsClientSettings } from '../../shared/config/aws-calls.js';

let moto: MotoServer;
beforeAll(async () => {
  moto = await startMoto();
});
afterAll(() => moto?.stop());

const WAITING = 400;

const opened = (socket: Socket) =>
  new Promise<boolean>((resolve) => {
    socket.once('connect', () => resolve(true));
    socket.once('error', () => resolve(false));
  });

/** Keeps moto's one thread reading a request that does not end, until the answer is closed. */
async function busyMoto(): Promise<Socket> {
  const { hostname, port } = new URL(moto.endpoint);
  const busy = connect(Number(port), hostname);
  await opened(busy);
  busy.write('GET /moto-api/ HTTP/1.1\r\nHost: x\r\n');
  return busy;
}

describe('many invocations in one process against the single-threaded moto', () => {
  it(`${WAITING} connections opened while moto is busy with one request are all accepted, then served`, async () => {
    const { hostname, port } = new URL(moto.endpoint);
    const sockets: Socket[] = [];
    try {
      sockets.push(await busyMoto());
      const waiting = Array.from({ length: WAITING }, () => connect(Number(port), hostname));
      sockets.push(...waiting);
      // A dropped SYN is sent again after 1 s and dropped again while moto is still busy: 2.5 s settles it.
      const connected = await Promise.race([
        Promise.all(waiting.map(opened)).then((all) => all.filter(Boolean).length),
        new Promise<number>((resolve) => setTimeout(() => resolve(waiting.filter((s) => !s.connecting && !s.destroyed).length), 2_500)),
      ]);
      expect(connected).toBe(WAITING);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
    expect((await fetch(`${moto.endpoint}/moto-api/`)).status).toBeLessThan(500);
  }, 30_000);

  it('60 calls of one SDK client at once while moto is busy for 1.5 s: every one answered, none timed out waiting for a socket', async () => {
    // One attempt per call: a retry could land after moto is free again and hide the timeout.
    const settings = awsClientSettings();
    const client = new DynamoDBClient({
      ...settings,
      // Room for moto to serve the 60 on a busy machine: this is about the wait for a socket.
      requestHandler: { ...settings.requestHandler, requestTimeout: 30_000 },
      maxAttempts: 1,
      endpoint: moto.endpoint,
      region: 'eu-central-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const busy = await busyMoto();
    const calls = Array.from({ length: 60 }, () => client.send(new ListTablesCommand({})).then(() => 'answered', (error: Error) => error.name));
    setTimeout(() => busy.destroy(), 1_500);
    const outcomes = await Promise.all(calls);
    client.destroy();
    expect(outcomes.filter((o) => o !== 'answered')).toEqual([]);
  }, 30_000);

  it('a call moto does not answer ends with a timeout (the bound the refresh lease counts on), it does not wait on', async () => {
    const client = new DynamoDBClient({ ...awsClientSettings(), maxAttempts: 1, endpoint: moto.endpoint, region: 'eu-central-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const busy = await busyMoto();
    try {
      const outcome = await Promise.race([
        client.send(new ListTablesCommand({})).then(() => 'answered', (error: Error) => error.name),
        new Promise<string>((resolve) => setTimeout(() => resolve('still waiting'), 3 * AWS_CALLS.requestTimeoutMs)),
      ]);
      expect(outcome).toBe('TimeoutError');
    } finally {
      busy.destroy();
      client.destroy();
    }
  }, 30_000);
});
