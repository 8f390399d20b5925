import {
  BatchGetCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { DUE_INDEX_NAME } from '../../config/env-names.js';
import { BrokerError } from '../../domain/errors.js';
import type { TokenRecord } from '../../domain/model.js';
import type { TokenStore } from '../../ports.js';
import { isConditionFailure, queryPrefix, sendConditional } from './client.js';
import {
  DUE_PARTITION,
  REAUTH_PARTITION,
  K,
  companySk,
  decodeCursor,
  encodeCursor,
  key,
  sessionPk,
  serialSk,
  stripKeys,
  tenantPk,
  tokenSk,
} from './keys.js';

const SESSION_SK = 'SESSION';

/**
 * Token metadata plus the sparse index attributes: an active token with a due time sits in the DUE
 * partition (sorted by due time), a reauth-required one in the REAUTH partition (sorted by when it got
 * there); a disconnected token is not indexed.
 */
function toItem(record: TokenRecord): Record<string, unknown> {
  const { dueAt, ...rest } = record;
  const item: Record<string, unknown> = { ...key(tenantPk(record.tenantId), tokenSk(record.tokenId)), ...rest };
  if (record.status === 'active' && dueAt) {
    item[K.duePartitionKey] = DUE_PARTITION;
    item[K.dueSortKey] = dueAt;
  } else if (record.status === 'reauth-required') {
    item[K.duePartitionKey] = REAUTH_PARTITION;
    item[K.dueSortKey] = record.updatedAt;
  }
  return item;
}

function fromItem(item: Record<string, unknown>): TokenRecord {
  const inDue = item[K.duePartitionKey] === DUE_PARTITION;
  const record = stripKeys<TokenRecord>(item);
  // Records written before a field existed read with its neutral value.
  return {
    ...record,
    dueAt: inDue ? (record.dueAt ?? null) : null,
    warningsSent: record.warningsSent ?? [],
    accessExpiryEstimated: record.accessExpiryEstimated ?? false,
    refreshExpiryEstimated: record.refreshExpiryEstimated ?? false,
    accessIssuedAt: record.accessIssuedAt ?? null,
    secretVersionId: record.secretVersionId ?? null,
    rotations: record.rotations ?? [],
    recoveryAttemptedAt: record.recoveryAttemptedAt ?? null,
  };
}

const names = { '#pk': K.partitionKey };

/** BatchGetItem's most keys per request. */
const BATCH_GET_KEYS = 100;
/** Rounds of UnprocessedKeys (throttling, the 16 MB answer limit) before the read gives up. */
const BATCH_GET_ATTEMPTS = 8;
const BATCH_GET_BACKOFF_MS = 50;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A whole-record put that only lands if the stored version is still `expected` (optimistic locking)
 * and, with `leaseOwner`, the lease is still held by that owner.
 */
function versionedPut(table: string, record: TokenRecord, expected: number, leaseOwner?: string) {
  const put = {
    TableName: table,
    Item: toItem(record),
    ConditionExpression: '#version = :expected',
    ExpressionAttributeNames: { '#version': 'version' } as Record<string, string>,
    ExpressionAttributeValues: { ':expected': expected } as Record<string, unknown>,
  };
  if (leaseOwner) {
    put.ConditionExpression += ' AND leaseOwner = :owner';
    put.ExpressionAttributeValues[':owner'] = leaseOwner;
  }
  return put;
}

export function createDynamoTokenStore(deps: { doc: DynamoDBDocumentClient; table: string }): TokenStore {
  const { doc, table } = deps;

  async function get(tenantId: string, tokenId: string): Promise<TokenRecord | null> {
    const out = await doc.send(new GetCommand({ TableName: table, Key: key(tenantPk(tenantId), tokenSk(tokenId)), ConsistentRead: true }));
    return out.Item ? fromItem(out.Item) : null;
  }

  /** One BatchGetItem of at most 100 keys, its UnprocessedKeys asked again (with backoff) until none is left. */
  async function batchGet(keys: Array<Record<string, unknown>>): Promise<Array<Record<string, unknown>>> {
    const items: Array<Record<string, unknown>> = [];
    let pending: Array<Record<string, unknown>> = keys;
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > BATCH_GET_ATTEMPTS) throw new BrokerError('STORE_UNAVAILABLE', 'the token records could not all be read');
      if (attempt > 1) await sleep(BATCH_GET_BACKOFF_MS * 2 ** (attempt - 2) * (0.5 + Math.random()));
      const out = await doc.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: pending, ConsistentRead: true } } }));
      items.push(...(out.Responses?.[table] ?? []));
      pending = (out.UnprocessedKeys?.[table]?.Keys ?? []) as Array<Record<string, unknown>>;
    }
    return items;
  }

  return {
    get,

    async getMany(ids) {
      const found = new Map<string, TokenRecord>();
      const idOf = (tenantId: string, tokenId: string) => `${tenantId}\u0000${tokenId}`;
      // BatchGetItem refuses a request that names one key twice.
      const unique = [...new Map(ids.map((id) => [idOf(id.tenantId, id.tokenId), id])).values()];
      for (let i = 0; i < unique.length; i += BATCH_GET_KEYS) {
        const chunk = unique.slice(i, i + BATCH_GET_KEYS).map((id) => key(tenantPk(id.tenantId), tokenSk(id.tokenId)));
        for (const item of await batchGet(chunk)) {
          const record = fromItem(item);
          found.set(idOf(record.tenantId, record.tokenId), record);
        }
      }
      return ids.map((id) => found.get(idOf(id.tenantId, id.tokenId)) ?? null);
    },

    async list(tenantId) {
      return (await queryPrefix(doc, table, tenantPk(tenantId), 'TOKEN#')).map(fromItem);
    },

    async findBySerial(tenantId, serial) {
      const out = await doc.send(new GetCommand({ TableName: table, Key: key(tenantPk(tenantId), serialSk(serial)), ConsistentRead: true }));
      const tokenId = out.Item?.tokenId as string | undefined;
      if (!tokenId) return null;
      const record = await get(tenantId, tokenId);
      return record && record.status !== 'disconnected' ? record : null;
    },

    async connect(write) {
      const { token } = write;
      const pk = tenantPk(token.tenantId);
      const items: NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']> = [];
      if (write.isNew) {
        items.push({ Put: { TableName: table, Item: toItem(token), ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: names } });
        if (token.serial) {
          // The serial pointer makes "one token per certificate per tenant" hold under racing callbacks.
          items.push({
            Put: {
              TableName: table,
              Item: { ...key(pk, serialSk(token.serial)), tenantId: token.tenantId, tokenId: token.tokenId, serial: token.serial },
              ConditionExpression: 'attribute_not_exists(#pk)',
              ExpressionAttributeNames: names,
            },
          });
        }
      } else {
        // A re-authorization writes under the refresh lease, so it never runs beside a refresh of the
        // same token; the record it writes has no lease, which releases it in the same write. It never
        // revives a disconnected token (the disconnect also moved the version; both conditions say so).
        const put = versionedPut(table, token, write.expectedVersion, write.leaseOwner);
        put.ConditionExpression += ' AND #status <> :disconnected';
        put.ExpressionAttributeNames['#status'] = 'status';
        put.ExpressionAttributeValues[':disconnected'] = 'disconnected';
        items.push({ Put: put });
      }
      for (const cui of write.cuis) {
        items.push({
          Update: {
            TableName: table,
            Key: key(pk, companySk(cui)),
            UpdateExpression: 'SET tokenId = :t, updatedAt = :at',
            ConditionExpression: 'attribute_exists(#pk)',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: { ':t': token.tokenId, ':at': write.completedAt },
          },
        });
      }
      if (write.sessionId) {
        items.push({
          Update: {
            TableName: table,
            Key: key(sessionPk(write.sessionId), SESSION_SK),
            UpdateExpression: 'SET completedAt = :at, tokenId = :t',
            ConditionExpression: 'attribute_exists(#pk) AND (attribute_not_exists(completedAt) OR attribute_type(completedAt, :null))',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: { ':at': write.completedAt, ':t': token.tokenId, ':null': 'NULL' },
          },
        });
      }
      try {
        await doc.send(new TransactWriteCommand({ TransactItems: items }));
      } catch (error) {
        if (isConditionFailure(error)) {
          throw new BrokerError('CONFLICT', 'the connection changed while it was being stored', { cause: error });
        }
        throw error;
      }
    },

    async replace(record, condition) {
      return sendConditional(doc, new PutCommand(versionedPut(table, record, condition.expectedVersion, condition.leaseOwner)));
    },

    async acquireLease(tenantId, tokenId, owner, now, leaseSeconds) {
      const until = new Date(now.getTime() + leaseSeconds * 1000).toISOString();
      try {
        const out = await doc.send(
          new UpdateCommand({
            TableName: table,
            Key: key(tenantPk(tenantId), tokenSk(tokenId)),
            UpdateExpression: 'SET leaseOwner = :owner, leaseExpiresAt = :until',
            // A lease whose holder died expires by itself: any lease older than `now` can be taken over.
            ConditionExpression:
              'attribute_exists(#pk) AND (attribute_not_exists(leaseExpiresAt) OR attribute_type(leaseExpiresAt, :null) OR leaseExpiresAt < :now)',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: { ':owner': owner, ':until': until, ':now': now.toISOString(), ':null': 'NULL' },
            ReturnValues: 'ALL_NEW',
          }),
        );
        return out.Attributes ? fromItem(out.Attributes) : null;
      } catch (error) {
        if (isConditionFailure(error)) return null;
        throw error;
      }
    },

    async releaseLease(tenantId, tokenId, owner) {
      // Refused when another run holds the lease now: nothing of ours to release.
      await sendConditional(
        doc,
        new UpdateCommand({
          TableName: table,
          Key: key(tenantPk(tenantId), tokenSk(tokenId)),
          UpdateExpression: 'SET leaseOwner = :null, leaseExpiresAt = :null',
          ConditionExpression: 'leaseOwner = :owner',
          ExpressionAttributeValues: { ':owner': owner, ':null': null },
        }),
      );
    },

    async extendLease(tenantId, tokenId, owner, now, leaseSeconds) {
      return sendConditional(
        doc,
        new UpdateCommand({
          TableName: table,
          Key: key(tenantPk(tenantId), tokenSk(tokenId)),
          UpdateExpression: 'SET leaseExpiresAt = :until',
          // Held by us and not yet expired: an expired lease may already have been taken over.
          ConditionExpression: 'leaseOwner = :owner AND leaseExpiresAt > :now',
          ExpressionAttributeValues: {
            ':owner': owner,
            ':now': now.toISOString(),
            ':until': new Date(now.getTime() + leaseSeconds * 1000).toISOString(),
          },
        }),
      );
    },

    async disconnect(current, disconnected) {
      const items: NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']> = [
        { Put: versionedPut(table, disconnected, current.version) },
      ];
      if (current.serial) {
        items.push({
          Delete: {
            TableName: table,
            Key: key(tenantPk(current.tenantId), serialSk(current.serial)),
            ConditionExpression: 'attribute_not_exists(#pk) OR tokenId = :t',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: { ':t': current.tokenId },
          },
        });
      }
      try {
        await doc.send(new TransactWriteCommand({ TransactItems: items }));
      } catch (error) {
        if (isConditionFailure(error)) throw new BrokerError('CONFLICT', 'the token changed while it was being disconnected', { cause: error });
        throw error;
      }
    },

    async healthStats() {
      let active = 0;
      let reauthRequired = 0;
      let nearest: string | null = null;
      for (const partition of [DUE_PARTITION, REAUTH_PARTITION]) {
        let start: Record<string, unknown> | undefined;
        do {
          const out = await doc.send(
            new QueryCommand({
              TableName: table,
              IndexName: DUE_INDEX_NAME,
              KeyConditionExpression: '#dpk = :p',
              ExpressionAttributeNames: { '#dpk': K.duePartitionKey, ...(partition === DUE_PARTITION ? { '#r': 'refreshExpiresAt' } : {}) },
              ExpressionAttributeValues: { ':p': partition },
              ...(partition === DUE_PARTITION ? { ProjectionExpression: '#r' } : { Select: 'COUNT' as const }),
              ExclusiveStartKey: start,
            }),
          );
          if (partition === DUE_PARTITION) {
            for (const item of out.Items ?? []) {
              active++;
              const end = item.refreshExpiresAt as string | undefined;
              if (end && (nearest === null || end < nearest)) nearest = end;
            }
          } else {
            reauthRequired += out.Count ?? 0;
          }
          start = out.LastEvaluatedKey;
        } while (start);
      }
      return { active, reauthRequired, nearestRefreshExpiry: nearest };
    },

    async queryDue(now, limit, cursor) {
      const start = decodeCursor(cursor);
      if (start === null) throw new BrokerError('VALIDATION_ERROR', 'invalid cursor');
      const out = await doc.send(
        new QueryCommand({
          TableName: table,
          IndexName: DUE_INDEX_NAME,
          KeyConditionExpression: '#dpk = :due AND #dsk <= :now',
          ExpressionAttributeNames: { '#dpk': K.duePartitionKey, '#dsk': K.dueSortKey },
          ExpressionAttributeValues: { ':due': DUE_PARTITION, ':now': now.toISOString() },
          Limit: limit,
          ExclusiveStartKey: start,
        }),
      );
      const items = (out.Items ?? []).map((item) => ({
        tenantId: String(item[K.partitionKey]).slice('TENANT#'.length),
        tokenId: String(item[K.sortKey]).slice('TOKEN#'.length),
      }));
      return { items, cursor: encodeCursor(out.LastEvaluatedKey) };
    },
  };
}

