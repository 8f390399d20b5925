/**
 * The local store must be as atomic as DynamoDB: moto's own `moto_server` is threaded and let two
 * conditional UpdateItems on one item both win. The stack serves moto single-threaded
 * (local/moto_server.py); this proves, through the real token-store adapter, that the refresh lease
 * has exactly one winner however many runs race for it.
 */
import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { getConfig } from '../../shared/config/config.js';
import { TABLE_KEYS } from '../../shared/config/env-names.js';
import { CUIS, type TestStack } from '../support/stack.js';
import { useTestStack } from '../support/use-stack.js';
import { connectDueToken, freshDeps } from '../support/refresh-helpers.js';

let stack: TestStack;

useTestStack((started) => (stack = started));

describe('conditional writes on the local store', () => {
  it('50 rounds of 20 parallel lease acquisitions on one token: exactly one winner each', async () => {
    const { t, tokenId } = await connectDueToken(stack, 'atomic', [CUIS[0]]);
    // Twenty separate runtimes: twenty SDK clients with their own connections, as twenty Lambdas.
    const runs = Array.from({ length: 20 }, () => freshDeps());
    const winnersPerRound: number[] = [];
    for (let round = 0; round < 50; round++) {
      const now = new Date();
      const results = await Promise.all(runs.map((deps, i) => deps.tokens.acquireLease(t, tokenId, `r${round}-o${i}`, now, 60)));
      const winners = results.filter((r) => r !== null);
      winnersPerRound.push(winners.length);
      const holder = await runs[0]!.tokens.get(t, tokenId);
      expect(holder!.leaseOwner).toBe(winners[0]?.leaseOwner);
      await runs[0]!.tokens.releaseLease(t, tokenId, holder!.leaseOwner!);
    }
    expect(winnersPerRound).toEqual(Array(50).fill(1));
  }, 120_000);

  // local/moto_server.py keeps a cheaper rollback point than moto's copy of the whole table: it must be as exact.
  it('a cancelled transaction leaves nothing of its writes: no new item, an updated item as it was', async () => {
    const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
    const TableName = getConfig().tableName;
    const key = (sk: string) => ({ [TABLE_KEYS.partitionKey]: 'ATOMIC#txn', [TABLE_KEYS.sortKey]: sk });
    await doc.send(new PutCommand({ TableName, Item: { ...key('kept'), n: 1, nested: { list: [1] } } }));
    const cancelled = doc.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName, Item: { ...key('new'), n: 1 } } },
          { Update: { TableName, Key: key('kept'), UpdateExpression: 'SET #n = :n, #m.#l[0] = :n', ExpressionAttributeNames: { '#n': 'n', '#m': 'nested', '#l': 'list' }, ExpressionAttributeValues: { ':n': 2 } } },
          { ConditionCheck: { TableName, Key: key('absent'), ConditionExpression: 'attribute_exists(n)' } },
        ],
      }),
    );
    await expect(cancelled).rejects.toBeInstanceOf(TransactionCanceledException);
    expect((await doc.send(new GetCommand({ TableName, Key: key('new') }))).Item).toBeUndefined();
    expect((await doc.send(new GetCommand({ TableName, Key: key('kept') }))).Item).toEqual({ ...key('kept'), n: 1, nested: { list: [1] } });
    await doc.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName, Item: { ...key('new'), n: 1 } } },
          { Update: { TableName, Key: key('kept'), UpdateExpression: 'SET #n = :n', ExpressionAttributeNames: { '#n': 'n' }, ExpressionAttributeValues: { ':n': 2 } } },
        ],
      }),
    );
    expect((await doc.send(new GetCommand({ TableName, Key: key('new') }))).Item?.n).toBe(1);
    expect((await doc.send(new GetCommand({ TableName, Key: key('kept') }))).Item?.n).toBe(2);
  });

  it('a cancelled transaction over several partitions: a new partition, a deleted item and an untouched neighbour stay as they were', async () => {
    const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
    const TableName = getConfig().tableName;
    const key = (pk: string, sk: string) => ({ [TABLE_KEYS.partitionKey]: `ATOMIC#${pk}`, [TABLE_KEYS.sortKey]: sk });
    await doc.send(new PutCommand({ TableName, Item: { ...key('deleted', 'a'), n: 1 } }));
    await doc.send(new PutCommand({ TableName, Item: { ...key('deleted', 'b'), n: 2 } }));
    await doc.send(new PutCommand({ TableName, Item: { ...key('neighbour', 'a'), n: 3 } }));
    const cancelled = doc.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName, Item: { ...key('fresh', 'a'), n: 4 } } },
          { Delete: { TableName, Key: key('deleted', 'a') } },
          { Update: { TableName, Key: key('deleted', 'b'), UpdateExpression: 'SET #n = :n', ExpressionAttributeNames: { '#n': 'n' }, ExpressionAttributeValues: { ':n': 5 } } },
          { ConditionCheck: { TableName, Key: key('neighbour', 'a'), ConditionExpression: '#n = :n', ExpressionAttributeNames: { '#n': 'n' }, ExpressionAttributeValues: { ':n': 0 } } },
        ],
      }),
    );
    await expect(cancelled).rejects.toBeInstanceOf(TransactionCanceledException);
    const item = async (pk: string, sk: string) => (await doc.send(new GetCommand({ TableName, Key: key(pk, sk) }))).Item;
    expect(await item('fresh', 'a')).toBeUndefined();
    expect((await item('deleted', 'a'))?.n).toBe(1);
    expect((await item('deleted', 'b'))?.n).toBe(2);
    expect((await item('neighbour', 'a'))?.n).toBe(3);
    // And the next transaction starts from that state, not from a rollback point kept from this one.
    await doc.send(new TransactWriteCommand({ TransactItems: [{ Delete: { TableName, Key: key('deleted', 'a') } }, { Put: { TableName, Item: { ...key('fresh', 'a'), n: 6 } } }] }));
    expect(await item('deleted', 'a')).toBeUndefined();
    expect((await item('fresh', 'a'))?.n).toBe(6);
    expect((await item('deleted', 'b'))?.n).toBe(2);
  });
});
