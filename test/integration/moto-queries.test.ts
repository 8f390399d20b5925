/**
 * local/moto_server.py answers index Queries by a cheaper path than moto's own (only the items of the
 * queried index partition are walked, string keys sorted as they are, KEYS_ONLY/INCLUDE projections
 * picked by name, no deep copy of the answer). The answers must be DynamoDB's: this pages through the
 * due index of the real table and compares every page with what DynamoDB's rules give for the same
 * items, computed here independently.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { getConfig } from '../../shared/config/config.js';
import { DUE_INDEX_ATTRIBUTES, DUE_INDEX_NAME, TABLE_KEYS } from '../../shared/config/env-names.js';
import { useTestStack } from '../support/use-stack.js';

useTestStack(() => undefined);

const K = TABLE_KEYS;

describe('index queries on the local store', () => {
  it('pages, sort order, key condition, projection and count are DynamoDB’s', async () => {
    const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
    const TableName = getConfig().tableName;
    // Due items over several table partitions, ties on the index sort key, reauth items, items outside the index.
    const items: Array<Record<string, unknown>> = [];
    for (let i = 0; i < 30; i++) {
      const item: Record<string, unknown> = {
        [K.partitionKey]: `QTEST#${i % 4}`,
        [K.sortKey]: `TOKEN#${String(i).padStart(3, '0')}`,
        refreshExpiresAt: `2028-01-${String((i % 28) + 1).padStart(2, '0')}T00:00:00.000Z`,
        other: { nested: [i, 'x'] },
        n: i,
      };
      if (i % 3 !== 2) {
        item[K.duePartitionKey] = i % 5 === 0 ? 'QREAUTH' : 'QDUE';
        item[K.dueSortKey] = `2027-0${(i % 7) + 1}-01T00:00:00.000Z`;
      }
      items.push(item);
      await doc.send(new PutCommand({ TableName, Item: item }));
    }
    // One item leaves the index partition by an update, one joins it.
    await doc.send(new UpdateCommand({ TableName, Key: { [K.partitionKey]: 'QTEST#0', [K.sortKey]: 'TOKEN#000' }, UpdateExpression: 'REMOVE #p, #s', ExpressionAttributeNames: { '#p': K.duePartitionKey, '#s': K.dueSortKey } }));
    delete items[0]![K.duePartitionKey];
    delete items[0]![K.dueSortKey];
    await doc.send(
      new UpdateCommand({
        TableName,
        Key: { [K.partitionKey]: 'QTEST#2', [K.sortKey]: 'TOKEN#002' },
        UpdateExpression: 'SET #p = :p, #s = :s',
        ExpressionAttributeNames: { '#p': K.duePartitionKey, '#s': K.dueSortKey },
        ExpressionAttributeValues: { ':p': 'QDUE', ':s': '2027-03-01T00:00:00.000Z' },
      }),
    );
    Object.assign(items[2]!, { [K.duePartitionKey]: 'QDUE', [K.dueSortKey]: '2027-03-01T00:00:00.000Z' });

    const until = '2027-05-01T00:00:00.000Z';
    const compare = (a: Record<string, unknown>, b: Record<string, unknown>) =>
      [K.dueSortKey, K.partitionKey, K.sortKey].map((k) => String(a[k]).localeCompare(String(b[k]))).find((c) => c !== 0) ?? 0;
    const projected = (item: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(item).filter(([k]) => [K.partitionKey, K.sortKey, K.duePartitionKey, K.dueSortKey, ...DUE_INDEX_ATTRIBUTES].includes(k as never)));
    const expected = items
      .filter((item) => item[K.duePartitionKey] === 'QDUE' && String(item[K.dueSortKey]) <= until)
      .sort(compare)
      .map(projected);
    expect(expected.length).toBeGreaterThan(8);

    const pages: Array<Array<Record<string, unknown>>> = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await doc.send(
        new QueryCommand({
          TableName,
          IndexName: DUE_INDEX_NAME,
          KeyConditionExpression: '#p = :p AND #s <= :s',
          ExpressionAttributeNames: { '#p': K.duePartitionKey, '#s': K.dueSortKey },
          ExpressionAttributeValues: { ':p': 'QDUE', ':s': until },
          Limit: 4,
          ExclusiveStartKey: start,
        }),
      );
      pages.push(out.Items ?? []);
      start = out.LastEvaluatedKey;
    } while (start);
    expect(pages.slice(0, -1).every((page) => page.length === 4)).toBe(true);
    expect(pages.flat()).toEqual(expected);

    // Newest first, a projection expression over the index's own attributes, and a count.
    const backwards = await doc.send(
      new QueryCommand({
        TableName,
        IndexName: DUE_INDEX_NAME,
        KeyConditionExpression: '#p = :p',
        ExpressionAttributeNames: { '#p': K.duePartitionKey, '#r': 'refreshExpiresAt' },
        ExpressionAttributeValues: { ':p': 'QDUE' },
        ProjectionExpression: '#r',
        ScanIndexForward: false,
      }),
    );
    const allDue = items.filter((item) => item[K.duePartitionKey] === 'QDUE').sort(compare).reverse();
    expect(backwards.Items).toEqual(allDue.map((item) => ({ refreshExpiresAt: item.refreshExpiresAt })));
    const count = await doc.send(
      new QueryCommand({
        TableName,
        IndexName: DUE_INDEX_NAME,
        KeyConditionExpression: '#p = :p',
        ExpressionAttributeNames: { '#p': K.duePartitionKey },
        ExpressionAttributeValues: { ':p': 'QREAUTH' },
        Select: 'COUNT',
      }),
    );
    expect(count.Count).toBe(items.filter((item) => item[K.duePartitionKey] === 'QREAUTH').length);
    // The answer is a copy: the stored items keep every attribute.
    const table = await doc.send(new QueryCommand({ TableName, KeyConditionExpression: '#p = :p', ExpressionAttributeNames: { '#p': K.partitionKey }, ExpressionAttributeValues: { ':p': 'QTEST#1' } }));
    expect(table.Items).toEqual(items.filter((item) => item[K.partitionKey] === 'QTEST#1'));
  });
});
