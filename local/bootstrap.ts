import { CreateTableCommand, DynamoDBClient, ResourceInUseException } from '@aws-sdk/client-dynamodb';
import { CreateEventBusCommand, EventBridgeClient, ResourceAlreadyExistsException } from '@aws-sdk/client-eventbridge';
import { CreateAliasCommand, CreateKeyCommand, DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { BucketAlreadyOwnedByYou, CreateBucketCommand, S3Client, type BucketLocationConstraint } from '@aws-sdk/client-s3';
import { DUE_INDEX_ATTRIBUTES, DUE_INDEX_NAME, TABLE_KEYS } from '../shared/config/env-names.js';

/**
 * Creates what the CDK stack creates in AWS, for the local stack: the table (keys and due index as in
 * infra), the event bus and the customer-managed KMS key (secrets and the pair escrow are encrypted with
 * it) and the invoice bucket (path-style, as the presigned URLs address it). Secrets need nothing: they
 * are created under the prefix on first write. Answers the key's id.
 */
export async function bootstrapLocalResources(input: {
  tableName: string;
  eventBusName: string;
  kmsAlias: string;
  invoiceBucketName: string;
}): Promise<{ kmsKeyId: string }> {
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
  const s3 = new S3Client({ forcePathStyle: true });
  try {
    const region = await s3.config.region();
    // S3 refuses a LocationConstraint of us-east-1, its default region.
    const location = region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } };
    await s3.send(new CreateBucketCommand({ Bucket: input.invoiceBucketName, ...location }));
  } catch (error) {
    if (!(error instanceof BucketAlreadyOwnedByYou)) throw error;
  } finally {
    s3.destroy();
  }
  return { kmsKeyId: await ensureKmsKey(input.kmsAlias) };
}

async function ensureKmsKey(alias: string): Promise<string> {
  const kms = new KMSClient({});
  try {
    try {
      const existing = await kms.send(new DescribeKeyCommand({ KeyId: alias }));
      return existing.KeyMetadata!.KeyId!;
    } catch (error) {
      if ((error as { name?: string }).name !== 'NotFoundException') throw error;
    }
    const created = await kms.send(new CreateKeyCommand({ Description: 'anaf-broker local: token secrets and pair escrow' }));
    const keyId = created.KeyMetadata!.KeyId!;
    await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId }));
    return keyId;
  } finally {
    kms.destroy();
  }
}
