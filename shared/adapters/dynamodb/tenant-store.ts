import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { TenantClient } from '../../domain/model.js';
import type { TenantStore } from '../../ports.js';
import { CLIENT_SK, key, stripKeys, tenantPk } from './keys.js';

/** Tenants' ANAF client metadata (the secret itself is in Secrets Manager). */
export function createDynamoTenantStore(deps: { doc: DynamoDBDocumentClient; table: string }): TenantStore {
  const { doc, table } = deps;
  return {
    async get(tenantId) {
      const out = await doc.send(new GetCommand({ TableName: table, Key: key(tenantPk(tenantId), CLIENT_SK), ConsistentRead: true }));
      return out.Item ? stripKeys<TenantClient>(out.Item) : null;
    },
    async put(client) {
      await doc.send(new PutCommand({ TableName: table, Item: { ...key(tenantPk(client.tenantId), CLIENT_SK), ...client } }));
    },
  };
}
