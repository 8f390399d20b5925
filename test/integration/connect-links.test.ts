import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CUIS, follow, setupTenant, startTestStack } from '../support/stack.js';

/*
 * Connect links are bearer capabilities (issue 10): the table never holds one in clear, and a link
 * minted for a token restores only that certificate holder's access.
 */

type Stack = Awaited<ReturnType<typeof startTestStack>>;
let stack: Stack;
let n = 0;
const tenant = () => `l${++n}-${Date.now().toString(36)}`;

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});
beforeEach(() => {
  stack.emulator!.control.reset();
});

async function scanTable(): Promise<string> {
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  const items: unknown[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await doc.send(new ScanCommand({ TableName: process.env.TABLE_NAME!, ConsistentRead: true, ExclusiveStartKey: start }));
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  doc.destroy();
  return JSON.stringify(items);
}

describe('session ids are stored only as hashes', () => {
  it('after minting, opening, failing and completing sessions, a scan of the table holds no session id; GET by id still answers', async () => {
    const t = tenant();
    await setupTenant(stack.api, t, [CUIS[0], CUIS[1]]);
    const minted = await Promise.all([0, 1, 2].map(() => stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[0]] })));
    const ids = minted.map((m) => m.body.sessionId as string);
    expect(ids.every((id) => /^cs_/.test(id))).toBe(true);
    // One opened only (a state is stored), one failed at ANAF (lastError, connect-failed), one completed.
    await fetch(minted[0]!.body.authorizeUrl, { redirect: 'manual' });
    stack.emulator!.control.setAuthorizeMode('deny');
    await follow(minted[1]!.body.authorizeUrl);
    stack.emulator!.control.setAuthorizeMode('approve');
    const done = await follow(minted[2]!.body.authorizeUrl);
    expect(done.at(-1)!.status).toBe(200);

    const table = await scanTable();
    for (const id of ids) expect(table).not.toContain(id.slice(3));
    expect((await stack.api.get(`/v1/tenants/${t}/connect-sessions/${ids[0]}`)).body).toMatchObject({ sessionId: ids[0], status: 'open' });
    expect((await stack.api.get(`/v1/tenants/${t}/connect-sessions/${ids[1]}`)).body).toMatchObject({ sessionId: ids[1], status: 'open', lastError: 'ACCESS_DENIED' });
    expect((await stack.api.get(`/v1/tenants/${t}/connect-sessions/${ids[2]}`)).body).toMatchObject({ sessionId: ids[2], status: 'completed' });
    const events = JSON.stringify((await stack.api.get(`/v1/tenants/${t}/events`)).body);
    for (const id of ids) expect(events).not.toContain(id.slice(3));
  });
});
