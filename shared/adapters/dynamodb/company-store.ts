import { DeleteCommand, GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CompanyRecord } from '../../domain/model.js';
import type { CompanyStore } from '../../ports.js';
import { queryPrefix, sendConditional } from './client.js';
import { companySk, key, stripKeys, tenantPk } from './keys.js';

/** Companies live in their tenant's partition, so a tenant's list is one query. */
export function createDynamoCompanyStore(deps: { doc: DynamoDBDocumentClient; table: string }): CompanyStore {
  const { doc, table } = deps;

  async function list(tenantId: string): Promise<CompanyRecord[]> {
    return (await queryPrefix(doc, table, tenantPk(tenantId), 'COMPANY#')).map((item) => stripKeys<CompanyRecord>(item));
  }

  return {
    async get(tenantId, cui) {
      const out = await doc.send(new GetCommand({ TableName: table, Key: key(tenantPk(tenantId), companySk(cui)), ConsistentRead: true }));
      return out.Item ? stripKeys<CompanyRecord>(out.Item) : null;
    },
    list,
    async put(company) {
      await doc.send(new PutCommand({ TableName: table, Item: { ...key(tenantPk(company.tenantId), companySk(company.cui)), ...company } }));
      return company;
    },
    async delete(tenantId, cui) {
      await doc.send(new DeleteCommand({ TableName: table, Key: key(tenantPk(tenantId), companySk(cui)) }));
    },
    async listByToken(tenantId, tokenId) {
      return (await list(tenantId)).filter((c) => c.tokenId === tokenId);
    },
    async setSpvRights(tenantId, cui, rights, at) {
      await sendConditional(
        doc,
        new UpdateCommand({
          TableName: table,
          Key: key(tenantPk(tenantId), companySk(cui)),
          UpdateExpression: 'SET spvRights = :r, spvRightsAt = :at',
          // A company deleted meanwhile stays deleted.
          ConditionExpression: 'attribute_exists(cui)',
          ExpressionAttributeValues: { ':r': rights, ':at': at },
        }),
      );
    },
    async unlinkToken(tenantId, cui, tokenId, at) {
      await sendConditional(
        doc,
        new UpdateCommand({
          TableName: table,
          Key: key(tenantPk(tenantId), companySk(cui)),
          UpdateExpression: 'SET tokenId = :null, updatedAt = :at',
          // Only a link to this token: a company re-linked to another token meanwhile keeps that link.
          ConditionExpression: 'tokenId = :t',
          ExpressionAttributeValues: { ':t': tokenId, ':null': null, ':at': at },
        }),
      );
    },
  };
}
