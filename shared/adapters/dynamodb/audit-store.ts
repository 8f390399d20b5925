import { randomBytes } from 'node:crypto';
import { PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { BrokerError } from '../../domain/errors.js';
import type { AuditEvent } from '../../domain/model.js';
import type { AuditStore } from '../../ports.js';
import { isConditionFailure } from './client.js';
import { K, decodeCursor, encodeCursor, eventsPk, key, stripKeys, ttlOf } from './keys.js';

/** Audit entries are kept about 13 months, then TTL removes them. */
const AUDIT_RETENTION_SECONDS = 400 * 86_400;

export function createDynamoAuditStore(deps: { doc: DynamoDBDocumentClient; table: string }): AuditStore {
  const { doc, table } = deps;
  return {
    async append(event, options = {}) {
      // An entry with an id has a sort key made of it, so a repeated append finds it and writes nothing.
      const sk = `${event.at}#${options.id ?? randomBytes(6).toString('hex')}`;
      try {
        await doc.send(
          new PutCommand({
            TableName: table,
            Item: { ...key(eventsPk(event.tenantId), sk), ...event, [K.ttl]: ttlOf(event.at, AUDIT_RETENTION_SECONDS) },
            ...(options.id ? { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': K.partitionKey } } : {}),
          }),
        );
      } catch (error) {
        if (!(options.id && isConditionFailure(error))) throw error;
      }
    },
    async list(tenantId, limit, cursor) {
      const start = decodeCursor(cursor);
      // Only a key this query could have produced: exactly this tenant's partition and a string sort key.
      const valid =
        start === undefined ||
        (start !== null &&
          Object.keys(start).length === 2 &&
          start[K.partitionKey] === eventsPk(tenantId) &&
          typeof start[K.sortKey] === 'string');
      if (!valid) throw new BrokerError('VALIDATION_ERROR', 'cursor is not valid for this tenant');
      const out = await doc.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': K.partitionKey },
          ExpressionAttributeValues: { ':pk': eventsPk(tenantId) },
          ScanIndexForward: false,
          Limit: limit,
          ExclusiveStartKey: start,
        }),
      );
      return {
        events: (out.Items ?? []).map((item) => stripKeys<AuditEvent>(item)),
        nextCursor: encodeCursor(out.LastEvaluatedKey) ?? null,
      };
    },
  };
}
