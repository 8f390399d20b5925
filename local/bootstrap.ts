import { CreateTableCommand, DynamoDBClient, ResourceInUseException } from '@aws-sdk/client-dynamodb';
import { CreateEventBusCommand, EventBridgeClient, ResourceAlreadyExistsException } from '@aws-sdk/client-eventbridge';
import { DUE_INDEX_ATTRIBUTES, DUE_INDEX_NAME, TABLE_KEYS } from '../shared/config/env-names.js';

/**
 * Creates what the CDK stack creates in AWS, for the local stack: the table (keys and due index as in
 * infra) and the event bus. Secrets need nothing: they are created under the prefix on first write.
 */
export async function bootstrapLocalResources(input: { tableName: string; eventBusName: string }): Promise<void> {
  const dynamo = new DynamoDBClient({});
  try {
    await dynamo.send(
      new CreateTableCommand({
        TableName: input.tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: TABLE_KEYS.partitionKey, AttributeType: 'S' },
          { AttributeName: TABLE_KEYS.sortKey, AttributeType: 'S' },
          { AttributeName: TABLE_KEYS.duePartitionKey, AttributeType: 'S' },
          { AttributeName: TABLE_KEYS.dueSortKey, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
          { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: DUE_INDEX_NAME,
            KeySchema: [
              { AttributeName: TABLE_KEYS.duePartitionKey, KeyType: 'HASH' },
              { AttributeName: TABLE_KEYS.dueSortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...DUE_INDEX_ATTRIBUTES] },
          },
        ],
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  } finally {
    dynamo.destroy();
  }
  const bus = new EventBridgeClient({});
  try {
    if (input.eventBusName !== 'default') await bus.send(new CreateEventBusCommand({ Name: input.eventBusName }));
  } catch (error) {
    if (!(error instanceof ResourceAlreadyExistsException)) throw error;
  } finally {
    bus.destroy();
  }
}
