/**
 * The ANAF limiter through its real DynamoDB adapter on the local stack's moto: a limit is honoured and
 * never overshot, the counters of a take move together or not at all, windows roll over (the clock is
 * passed in), and of many Lambdas racing for a counter's last unit exactly one gets it. moto enforces no
 * IAM, so the calls the adapter sends are also checked against the grant the service stack would give
 * (LIMITER_TABLE_GRANTS with dynamodb:LeadingKeys).
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { LIMITER_TABLE_GRANTS, tableStatements } from '../../infra/permissions.js';
import { createDocumentClient } from '../../shared/adapters/dynamodb/client.js';
import { LIMIT_TTL_MARGIN_SECONDS, createDynamoLimitStore } from '../../shared/adapters/dynamodb/limit-store.js';
import { DEFAULT_LIMITS, PUBLIC_SCOPE, limitsFor, type AnafCall, type LimitConfig } from '../../shared/domain/anaf-limits.js';
import { takeAnafLimits } from '../../shared/services/anaf-limits.js';
import type { LimitStore } from '../../shared/ports.js';
import { isAllowed, type ResolvedStatement } from '../infra/policy.js';
import { createActionRecorder, iamRequestsFor } from '../support/aws-actions.js';
import { useTestStack } from '../support/use-stack.js';

// Both ANAF base URLs set: the stack starts moto and the table, no emulator (the limiter never calls ANAF).
useTestStack(() => undefined, { ANAF_OAUTH_BASE_URL: 'http://127.0.0.1:9/oauth', ANAF_API_BASE_URL: 'http://127.0.0.1:9/api' });

const table = () => process.env.TABLE_NAME!;
/** One adapter on its own SDK client, as one Lambda container has. */
const newStore = () => {
  const doc = createDocumentClient();
  return { doc, store: createDynamoLimitStore({ doc, table: table() }) };
};
let n = 0;
const tenant = () => `lim${++n}-${Date.now().toString(36)}`;
const config: LimitConfig = { ...DEFAULT_LIMITS, callsPerMinute: 3, statusPerMessagePerDay: 2 };
const take = (store: LimitStore, scope: string, call: AnafCall, now: string) =>
  takeAnafLimits({ limits: store, limitConfig: config, now: new Date(now) }, scope, call);

async function storedItem(scope: string, key: string): Promise<Record<string, unknown> | undefined> {
  const { doc } = newStore();
  return (await doc.send(new GetCommand({ TableName: table(), Key: { pk: `LIMIT#${scope}`, sk: key }, ConsistentRead: true }))).Item;
}

describe('ANAF limit counters on DynamoDB (moto)', () => {
  it('honours a limit: refuses the call over it, names the counter, never counts past the limit', async () => {
    const { store } = newStore();
    const t = tenant();
    const now = '2026-05-04T09:30:10.000Z';
    for (let i = 0; i < 3; i++) expect(await take(store, t, { kind: 'validate' }, now)).toEqual({ ok: true });
    for (let i = 0; i < 2; i++) {
      expect(await take(store, t, { kind: 'validate' }, now)).toMatchObject({
        ok: false,
        counter: { name: 'calls-per-minute', limit: 3 },
        retryAfterSeconds: 50,
        message: 'ANAF limit calls-per-minute (3) reached; retry after 50 s',
      });
    }
    const [minute] = limitsFor({ kind: 'validate' }, Date.parse(now), config);
    const item = await storedItem(t, minute!.key);
    // The table's TTL attribute: the window's end plus the margin (epoch seconds). Ids and numbers only.
    expect(item).toEqual({
      pk: `LIMIT#${t}`,
      sk: 'calls-per-minute#2026-05-04T09:30',
      n: 3,
      ttl: Date.parse('2026-05-04T09:31:00.000Z') / 1000 + LIMIT_TTL_MARGIN_SECONDS,
      name: 'calls-per-minute',
      limit: 3,
      scope: t,
      windowEndsAt: '2026-05-04T09:31:00.000Z',
    });
  });

  it('all or none: a full daily counter refuses the call (named from the cancellation reasons) and the minute keeps its unit', async () => {
    const { store } = newStore();
    const t = tenant();
    const call: AnafCall = { kind: 'status', cui: '14399840', uploadId: '5001' };
    expect((await take(store, t, call, '2026-05-04T09:30:00.000Z')).ok).toBe(true);
    expect((await take(store, t, call, '2026-05-04T09:31:00.000Z')).ok).toBe(true);
    const refused = await take(store, t, call, '2026-05-04T09:32:00.000Z');
    // Midnight in Romania (UTC+3 in May) is 21:00 UTC.
    expect(refused).toMatchObject({ ok: false, counter: { name: 'status-per-message-per-day' }, retryAfterSeconds: 11 * 3600 + 28 * 60 });
    const [minute, day] = limitsFor(call, Date.parse('2026-05-04T09:32:00.000Z'), config);
    expect(await storedItem(t, minute!.key)).toBeUndefined();
    expect((await storedItem(t, day!.key))?.n).toBe(2);
    // Another message of the same company has its own counter.
    expect((await take(store, t, { ...call, uploadId: '5002' }, '2026-05-04T09:32:00.000Z')).ok).toBe(true);
  });

  it('windows roll over: the next minute and the next Romanian day (DST day: 23 h) start from zero; tenants and the public calls are apart', async () => {
    const { store } = newStore();
    const t = tenant();
    const call: AnafCall = { kind: 'download', cui: '14399840', downloadId: '3001' };
    const strict = { ...config, downloadsPerMessagePerDay: 1 };
    const takeAt = (scope: string, c: AnafCall, now: string) => takeAnafLimits({ limits: store, limitConfig: strict, now: new Date(now) }, scope, c);
    // 29 March 2026 in Romania runs from 22:00 UTC on the 28th to 21:00 UTC on the 29th.
    expect((await takeAt(t, call, '2026-03-28T22:00:00.000Z')).ok).toBe(true);
    expect(await takeAt(t, call, '2026-03-29T20:59:59.000Z')).toMatchObject({ ok: false, counter: { name: 'downloads-per-message-per-day' }, retryAfterSeconds: 1 });
    expect((await takeAt(t, call, '2026-03-29T21:00:00.000Z')).ok).toBe(true);
    // The minute: full at :59, free again at the next minute.
    for (let i = 0; i < 3; i++) expect((await takeAt(t, { kind: 'pdf' }, '2026-03-30T08:00:59.000Z')).ok).toBe(true);
    expect((await takeAt(t, { kind: 'pdf' }, '2026-03-30T08:00:59.900Z')).ok).toBe(false);
    expect((await takeAt(t, { kind: 'pdf' }, '2026-03-30T08:01:00.000Z')).ok).toBe(true);
    // The same minute, another budget.
    expect((await takeAt(tenant(), { kind: 'pdf' }, '2026-03-30T08:00:59.900Z')).ok).toBe(true);
    expect((await takeAt(PUBLIC_SCOPE, { kind: 'pdf' }, '2026-03-30T08:00:59.900Z')).ok).toBe(true);
  });

  it('the race for the last unit: 12 Lambdas at once, exactly one gets it (single counter and two-counter transaction, 4 rounds each)', async () => {
    const lambdas = Array.from({ length: 12 }, () => newStore().store);
    const winners: number[] = [];
    for (let round = 0; round < 4; round++) {
      for (const call of [{ kind: 'validate' }, { kind: 'status', cui: '14399840', uploadId: `9${round}` }] satisfies AnafCall[]) {
        const t = tenant();
        const now = `2026-05-04T10:0${round}:00.000Z`;
        const limit = call.kind === 'validate' ? config.callsPerMinute : config.statusPerMessagePerDay;
        // All but the last unit of the counter that is the race's (the status call's minute has room left).
        for (let i = 0; i < limit - 1; i++) expect((await take(lambdas[0]!, t, call, now)).ok).toBe(true);
        const results = await Promise.all(lambdas.map((store) => take(store, t, call, now)));
        winners.push(results.filter((r) => r.ok).length);
        const counters = limitsFor(call, Date.parse(now), config);
        const full = counters[counters.length - 1]!;
        expect((await storedItem(t, full.key))?.n).toBe(full.limit);
      }
    }
    expect(winners).toEqual(Array(8).fill(1));
  }, 60_000);

  it('the grant: every call the adapter sends is an UpdateItem on a LIMIT# key, which LIMITER_TABLE_GRANTS allows and nothing else needs', async () => {
    const { doc, store } = newStore();
    const recorder = createActionRecorder();
    recorder.attach([doc]);
    const t = tenant();
    await recorder.as('limiter', async () => {
      await take(store, t, { kind: 'validate' }, '2026-05-04T11:00:00.000Z');
      await take(store, t, { kind: 'list', cui: '14399840' }, '2026-05-04T11:00:00.000Z');
      // Refused, and refused in a transaction: the same actions.
      for (let i = 0; i < 2; i++) await take(store, t, { kind: 'list', cui: '14399840' }, '2026-05-04T11:00:01.000Z');
    });
    const calls = recorder.take().get('limiter') ?? [];
    expect(calls.map((c) => c.operation)).toEqual(['UpdateItem', 'TransactWriteItems', 'TransactWriteItems', 'TransactWriteItems']);
    const where = { region: process.env.AWS_REGION!, account: '123456789012', secretsKeyArn: 'arn:aws:kms:x:123456789012:key/unused' };
    const tableArn = `arn:aws:dynamodb:${where.region}:${where.account}:table/${table()}`;
    // The statement the service stack builds from a function's table grants (infra/service-stack.ts).
    const policy: ResolvedStatement[] = tableStatements(LIMITER_TABLE_GRANTS).map((grant) => ({
      effect: 'Allow',
      actions: grant.actions.map((a) => `dynamodb:${a}`),
      resources: [tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': grant.prefixes.map((p) => `${p}*`) } },
    }));
    const requests = calls.flatMap((call) => iamRequestsFor(call, where));
    expect(requests).toHaveLength(7);
    for (const request of requests) {
      expect(request).toMatchObject({ action: 'dynamodb:UpdateItem', context: { 'dynamodb:LeadingKeys': [`LIMIT#${t}`] } });
      expect(isAllowed(policy, request), JSON.stringify(request)).toBe(true);
    }
    // The grant reaches the counters only: the same action on a tenant's own items (its token records) is denied.
    expect(isAllowed(policy, { ...requests[0]!, context: { 'dynamodb:LeadingKeys': [`TENANT#${t}`] } })).toBe(false);
  });
});
