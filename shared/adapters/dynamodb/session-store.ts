import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ConnectSession, OAuthStateRecord } from '../../domain/model.js';
import type { SessionStore } from '../../ports.js';
import { isConditionFailure, queryPrefix, sendConditional } from './client.js';
import { K, key, sessionPk, statePk, stripKeys, tenantPk, tokenSessionPrefix, tokenSessionSk, ttlOf } from './keys.js';

const SESSION_SK = 'SESSION';
const STATE_SK = 'STATE';
/** Keep expired items a day for support look-ups; expiry itself is always checked by timestamp. */
const TTL_GRACE_SECONDS = 86_400;

export function createDynamoSessionStore(deps: { doc: DynamoDBDocumentClient; table: string }): SessionStore {
  const { doc, table } = deps;
  return {
    async create(session) {
      const { sessionId, ...stored } = session;
      if (session.forTokenId) {
        // The pointer first: a session that exists is always found by closeOpenFor (a stray pointer is skipped).
        await doc.send(
          new PutCommand({
            TableName: table,
            Item: {
              ...key(tenantPk(session.tenantId), tokenSessionSk(session.forTokenId, sessionId)),
              sessionKey: sessionPk(sessionId),
              expiresAt: session.expiresAt,
              [K.ttl]: ttlOf(session.expiresAt, TTL_GRACE_SECONDS),
            },
          }),
        );
      }
      await doc.send(
        new PutCommand({
          TableName: table,
          Item: { ...key(sessionPk(sessionId), SESSION_SK), ...stored, [K.ttl]: ttlOf(session.expiresAt, TTL_GRACE_SECONDS) },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': K.partitionKey },
        }),
      );
    },
    async get(sessionId) {
      const out = await doc.send(new GetCommand({ TableName: table, Key: key(sessionPk(sessionId), SESSION_SK), ConsistentRead: true }));
      return out.Item ? { ...stripKeys<Omit<ConnectSession, 'sessionId'>>(out.Item), sessionId } : null;
    },
    async putState(state) {
      await doc.send(
        new PutCommand({
          TableName: table,
          Item: { ...key(statePk(state.stateHash), STATE_SK), ...state, [K.ttl]: ttlOf(state.expiresAt, TTL_GRACE_SECONDS) },
        }),
      );
    },
    async consumeState(stateHash, at) {
      // A conditional update is atomic: of two callbacks racing with one state, only one sets consumedAt.
      // The record stays (until its TTL) so that a reload is recognised as one.
      try {
        const out = await doc.send(
          new UpdateCommand({
            TableName: table,
            Key: key(statePk(stateHash), STATE_SK),
            UpdateExpression: 'SET consumedAt = :at',
            ConditionExpression: 'attribute_exists(#pk) AND (attribute_not_exists(consumedAt) OR attribute_type(consumedAt, :null))',
            ExpressionAttributeNames: { '#pk': K.partitionKey },
            ExpressionAttributeValues: { ':at': at, ':null': 'NULL' },
            ReturnValues: 'ALL_NEW',
          }),
        );
        return { record: stripKeys<OAuthStateRecord>(out.Attributes!), firstUse: true };
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
      const out = await doc.send(new GetCommand({ TableName: table, Key: key(statePk(stateHash), STATE_SK), ConsistentRead: true }));
      return out.Item ? { record: stripKeys<OAuthStateRecord>(out.Item), firstUse: false } : null;
    },
    async recordFailure(sessionId, failure, options = {}) {
      const names: Record<string, string> = { '#pk': K.partitionKey };
      const values: Record<string, unknown> = { ':r': failure.reason, ':at': failure.at, ':null': 'NULL' };
      let condition = 'attribute_exists(#pk) AND (attribute_not_exists(completedAt) OR attribute_type(completedAt, :null))';
      if (options.once) condition += ' AND (attribute_not_exists(lastError) OR lastError <> :r)';
      return sendConditional(
        doc,
        new UpdateCommand({
          TableName: table,
          Key: key(sessionPk(sessionId), SESSION_SK),
          UpdateExpression: 'SET lastError = :r, lastErrorAt = :at',
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    },
    async closeOpenFor(tenantId, tokenId, exceptSessionId, at, completedBy = tokenId) {
      const except = exceptSessionId ? sessionPk(exceptSessionId) : null;
      const pointers = await queryPrefix(doc, table, tenantPk(tenantId), tokenSessionPrefix(tokenId));
      const open = pointers.filter((p) => p.sessionKey !== except && Date.parse(String(p.expiresAt)) > Date.parse(at));
      const closed = await Promise.all(
        open.map((p) =>
          sendConditional(
            doc,
            new UpdateCommand({
              TableName: table,
              Key: key(String(p.sessionKey), SESSION_SK),
              UpdateExpression: 'SET completedAt = :at, tokenId = :t',
              ConditionExpression: 'attribute_exists(#pk) AND (attribute_not_exists(completedAt) OR attribute_type(completedAt, :null))',
              ExpressionAttributeNames: { '#pk': K.partitionKey },
              ExpressionAttributeValues: { ':at': at, ':t': completedBy, ':null': 'NULL' },
            }),
          ),
        ),
      );
      return closed.filter(Boolean).length;
    },
  };
}
