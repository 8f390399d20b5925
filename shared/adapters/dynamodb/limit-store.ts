import { TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { LimitCounter } from '../../domain/anaf-limits.js';
import { BrokerError } from '../../domain/errors.js';
import type { LimitStore } from '../../ports.js';
import { K, key, limitPk } from './keys.js';

/**
 * A counter outlives its window by this long before DynamoDB's TTL may delete it (TTL deletes late anyway,
 * and the window is part of the key, so a stale counter is never counted against a new window): an hour
 * to look at yesterday's counters when a tenant asks why it was refused.
 */
export const LIMIT_TTL_MARGIN_SECONDS = 3600;

/**
 * Attempts when DynamoDB cancels the write because another transaction held one of the same items
 * (`TransactionConflict`: every call of a tenant takes its minute counter, so its calls contend for that
 * item). The SDK does not retry a cancelled transaction; nothing was written, so trying again is safe.
 */
export const LIMIT_CONFLICT_ATTEMPTS = 4;
const CONFLICT_BACKOFF_MS = 20;

type Reason = { Code?: string };

/** Why a write did not land: a full counter (its index), contention (retry), or something else (throw). */
function refusal(error: unknown): { full: number } | 'conflict' | null {
  const name = (error as { name?: string })?.name;
  if (name === 'ConditionalCheckFailedException') return { full: 0 };
  if (name === 'TransactionConflictException') return 'conflict';
  if (name !== 'TransactionCanceledException') return null;
  const reasons = ((error as { CancellationReasons?: Reason[] }).CancellationReasons ?? []).map((r) => r.Code);
  const full = reasons.indexOf('ConditionalCheckFailed');
  if (full >= 0) return { full };
  return reasons.includes('TransactionConflict') ? 'conflict' : null;
}

/**
 * The ANAF limit counters as items of the table, one partition per scope (`LIMIT#<tenantId>`, the
 * deployment's public calls under `LIMIT#~public`), one item per counter and window (sort key = the
 * counter's key). A take is one conditional `ADD n :1` per counter, in one transaction when there are
 * several, so the counters move together or not at all; IAM sees each as an UpdateItem on a `LIMIT#` key.
 */
export function createDynamoLimitStore(deps: { doc: DynamoDBDocumentClient; table: string; sleep?: (ms: number) => Promise<void> }): LimitStore {
  const { doc, table } = deps;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));

  const update = (scope: string, counter: LimitCounter) => ({
    TableName: table,
    Key: key(limitPk(scope), counter.key),
    // The item repeats what it counts, so that a look at the table explains it.
    UpdateExpression: 'ADD #n :one SET #ttl = :ttl, #name = :name, #limit = :limit, #scope = :scope, windowEndsAt = :end',
    // A counter at its limit refuses: it never goes over, however many callers race for its last unit.
    ConditionExpression: 'attribute_not_exists(#n) OR #n < :limit',
    ExpressionAttributeNames: { '#n': 'n', '#ttl': K.ttl, '#name': 'name', '#limit': 'limit', '#scope': 'scope' },
    ExpressionAttributeValues: {
      ':one': 1,
      ':limit': counter.limit,
      ':ttl': Math.ceil(counter.windowEndsAt / 1000) + LIMIT_TTL_MARGIN_SECONDS,
      ':name': counter.name,
      ':scope': scope,
      ':end': new Date(counter.windowEndsAt).toISOString(),
    },
  });

  return {
    async take(scope, counters) {
      if (counters.length === 0) return { ok: true };
      const send = () =>
        counters.length === 1
          ? doc.send(new UpdateCommand(update(scope, counters[0]!)))
          : doc.send(new TransactWriteCommand({ TransactItems: counters.map((counter) => ({ Update: update(scope, counter) })) }));
      for (let attempt = 1; ; attempt++) {
        try {
          await send();
          return { ok: true };
        } catch (error) {
          const why = refusal(error);
          if (why === null) throw error;
          if (why !== 'conflict') return { ok: false, counter: counters[why.full]! };
          if (attempt >= LIMIT_CONFLICT_ATTEMPTS) {
            throw new BrokerError('STORE_UNAVAILABLE', 'the ANAF limit counters are busy; try again in a second', { cause: error, retryAfterSeconds: 1 });
          }
          // Jittered, so that the callers that collided do not collide again.
          await sleep(CONFLICT_BACKOFF_MS * attempt * (0.5 + Math.random()));
        }
      }
    },
  };
}
