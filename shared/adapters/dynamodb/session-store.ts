import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ConnectSession, OAuthStateRecord } from '../../domain/model.js';
import type { SessionStore } from '../../ports.js';
import { K, key, sessionPk, statePk, stripKeys, ttlOf } from './keys.js';

const SESSION_SK = 'SESSION';
const STATE_SK = 'STATE';
/** Keep expired items a day for support look-ups; expiry itself is always checked by timestamp. */
const TTL_GRACE_SECONDS = 86_400;

export function createDynamoSessionStore(deps: { doc: DynamoDBDocumentClient; table: string }): SessionStore {
  const { doc, table } = deps;
  return {
    async create(session) {
      await doc.send(
        new PutCommand({
          TableName: table,
          Item: { ...key(sessionPk(session.sessionId), SESSION_SK), ...session, [K.ttl]: ttlOf(session.expiresAt, TTL_GRACE_SECONDS) },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': K.partitionKey },
        }),
      );
    },
    async get(sessionId) {
      const out = await doc.send(new GetCommand({ TableName: table, Key: key(sessionPk(sessionId), SESSION_SK), ConsistentRead: true }));
      return out.Item ? stripKeys<ConnectSession>(out.Item) : null;
    },
    async putState(state) {
      await doc.send(
        new PutCommand({
          TableName: table,
          Item: { ...key(statePk(state.stateHash), STATE_SK), ...state, [K.ttl]: ttlOf(state.expiresAt, TTL_GRACE_SECONDS) },
        }),
      );
    },
    async consumeState(stateHash) {
      // Delete-and-return is atomic: of two callbacks racing with one state, only one gets the record.
      const out = await doc.send(
        new DeleteCommand({ TableName: table, Key: key(statePk(stateHash), STATE_SK), ReturnValues: 'ALL_OLD' }),
      );
      return out.Attributes ? stripKeys<OAuthStateRecord>(out.Attributes) : null;
    },
  };
}
