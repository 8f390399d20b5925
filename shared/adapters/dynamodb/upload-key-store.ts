import { DeleteCommand, GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { UploadKeyRecord } from '../../domain/model.js';
import type { UploadKeyStore } from '../../ports.js';
import { sendConditional } from './client.js';
import { K, key, stripKeys, tenantPk, ttlOf, uploadKeySk } from './keys.js';

/**
 * Upload Idempotency-Keys in their tenant's partition (`TENANT#<tenantId>`, `UPLOADKEY#<key>`). A claim
 * is one conditional put: of two requests racing with one key exactly one claims it. Expiry is checked by
 * timestamp (TTL deletes late), so an expired record is claimed over.
 */
export function createDynamoUploadKeyStore(deps: { doc: DynamoDBDocumentClient; table: string }): UploadKeyStore {
  const { doc, table } = deps;
  const itemKey = (tenantId: string, k: string) => key(tenantPk(tenantId), uploadKeySk(k));
  return {
    async claim(record, now) {
      const claimed = await sendConditional(
        doc,
        new PutCommand({
          TableName: table,
          Item: { ...itemKey(record.tenantId, record.key), ...record, [K.ttl]: ttlOf(record.expiresAt) },
          ConditionExpression: 'attribute_not_exists(#pk) OR expiresAt <= :now',
          ExpressionAttributeNames: { '#pk': K.partitionKey },
          ExpressionAttributeValues: { ':now': now.toISOString() },
        }),
      );
      if (claimed) return { claimed: true };
      const out = await doc.send(new GetCommand({ TableName: table, Key: itemKey(record.tenantId, record.key), ConsistentRead: true }));
      // Gone between the two calls (released): the caller may try again, which it does as a repeat.
      if (!out.Item) return { claimed: false, existing: { ...record, state: 'in-flight' } };
      return { claimed: false, existing: stripKeys<UploadKeyRecord>(out.Item) };
    },
    async settle(tenantId, k, outcome) {
      await doc.send(
        new UpdateCommand({
          TableName: table,
          Key: itemKey(tenantId, k),
          UpdateExpression: 'SET #state = :state, uploadId = :uploadId',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':state': outcome.state, ':uploadId': outcome.state === 'done' ? outcome.uploadId : null },
        }),
      );
    },
    async release(tenantId, k) {
      await doc.send(new DeleteCommand({ TableName: table, Key: itemKey(tenantId, k) }));
    },
  };
}
