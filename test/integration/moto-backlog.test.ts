/**
 * The single-threaded moto (local/moto_server.py) serves one request at a time; the connections that
 * arrive meanwhile must wait in the kernel's accept queue, not be dropped: a local gateway hosting a
 * few hundred invocations in one process opens that many at once, and a dropped SYN shows up as the
 * SDK's connection timeout (a 500 of the route).
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMoto, type MotoServer } from '../../local/moto.js';

let moto: MotoServer;
beforeAll(async () => {
  moto = await startMoto();
});
afterAll(() => moto?.stop());

const WAITING = 400;

describe('moto listen backlog', () => {
  it(`${WAITING} connections opened while moto is busy with one request are all accepted, then served`, async () => {
    const { hostname, port } = new URL(moto.endpoint);
    const sockets: Socket[] = [];
    const opened = (socket: Socket) => new Promise<boolean>((resolve) => {
      socket.once('connect', () => resolve(true));
      socket.once('error', () => resolve(false));
    });
    try {
      // A request that never ends keeps moto's one thread reading it: nothing else is accepted meanwhile.
      const busy = connect(Number(port), hostname);
      sockets.push(busy);
      await opened(busy);
      busy.write('GET /moto-api/ HTTP/1.1\r\nHost: x\r\n');
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
});
