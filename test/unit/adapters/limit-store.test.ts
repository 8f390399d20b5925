/**
 * What moto does not show: DynamoDB cancels a transaction that meets another one on the same item
 * (`TransactionConflict`, e.g. two calls of one tenant taking its minute counter at once), and the SDK
 * does not retry it. A hand-made client answers as DynamoDB would; the real behaviour of conditions and
 * transactions is tested on moto (test/integration/anaf-limits.test.ts).
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { LIMIT_CONFLICT_ATTEMPTS, createDynamoLimitStore } from '../../../shared/adapters/dynamodb/limit-store.js';
import { DEFAULT_LIMITS, limitsFor } from '../../../shared/domain/anaf-limits.js';
import { BrokerError } from '../../../shared/domain/errors.js';

const counters = limitsFor({ kind: 'list', cui: '14399840' }, Date.parse('2026-03-29T10:00:00Z'), DEFAULT_LIMITS);
const cancelled = (...codes: string[]) =>
  Object.assign(new Error('Transaction cancelled'), { name: 'TransactionCanceledException', CancellationReasons: codes.map((Code) => ({ Code })) });

/** A client whose sends answer `outcomes` in turn (an error is thrown, anything else resolves). */
function scripted(outcomes: unknown[]) {
  const sent: unknown[] = [];
  const doc = {
    send: async (command: { input: unknown }) => {
      sent.push(command.input);
      const next = outcomes.shift();
      if (next instanceof Error) throw next;
      return {};
    },
  } as unknown as DynamoDBDocumentClient;
  return { store: createDynamoLimitStore({ doc, table: 't', sleep: async () => undefined }), sent };
}

describe('DynamoDB limit store: cancellation reasons', () => {
  it.each([
    ['the minute counter full', ['ConditionalCheckFailed', 'None'], 0],
    ['the daily counter full', ['None', 'ConditionalCheckFailed'], 1],
    ['the daily counter full while the minute one conflicted', ['TransactionConflict', 'ConditionalCheckFailed'], 1],
  ])('names the counter that refused: %s', async (_, codes, index) => {
    const { store } = scripted([cancelled(...codes)]);
    expect(await store.take('t1', counters)).toEqual({ ok: false, counter: counters[index] });
  });

  it('tries a conflicting transaction again (nothing was written), and succeeds', async () => {
    const { store, sent } = scripted([cancelled('TransactionConflict', 'None'), cancelled('None', 'TransactionConflict'), {}]);
    expect(await store.take('t1', counters)).toEqual({ ok: true });
    expect(sent).toHaveLength(3);
  });

  it(`gives up after ${LIMIT_CONFLICT_ATTEMPTS} conflicts with 503 STORE_UNAVAILABLE and a Retry-After (never answers ok)`, async () => {
    const { store, sent } = scripted(Array.from({ length: 10 }, () => cancelled('TransactionConflict', 'None')));
    const error = await store.take('t1', counters).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BrokerError);
    expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE', retryAfterSeconds: 1 });
    expect(sent).toHaveLength(LIMIT_CONFLICT_ATTEMPTS);
  });

  it('a single counter is one conditional UpdateItem: its refusal, its conflict with a transaction', async () => {
    const [minute] = counters;
    const full = scripted([Object.assign(new Error('x'), { name: 'ConditionalCheckFailedException' })]);
    expect(await full.store.take('t1', [minute!])).toEqual({ ok: false, counter: minute });
    const busy = scripted([Object.assign(new Error('x'), { name: 'TransactionConflictException' }), {}]);
    expect(await busy.store.take('t1', [minute!])).toEqual({ ok: true });
  });

  it('throws any other failure as it came', async () => {
    const throttled = Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException' });
    const { store } = scripted([throttled]);
    await expect(store.take('t1', counters)).rejects.toBe(throttled);
  });
});
