import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { DUE_INDEX_ATTRIBUTES, DUE_INDEX_NAME, TABLE_KEYS } from '../shared/config/env-names.js';
import type { StageConfig } from './stages.js';

export interface DataStackProps extends StackProps {
  config: StageConfig;
}

/**
 * The stateful half: the metadata table and the key that encrypts every secret. Kept apart from the
 * service stack so that functions, API and alarms can be replaced or destroyed without touching data.
 */
export class DataStack extends Stack {
  readonly table: dynamodb.Table;
  /** Customer-managed key for the secrets the functions create at run time under SECRET_PREFIX. */
  readonly secretsKey: kms.Key;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const { config } = props;
    const removalPolicy = config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.secretsKey = new kms.Key(this, 'SecretsKey', {
      description: `anaf-broker ${config.stage}: ANAF client secrets and token pairs under ${config.secretPrefix}`,
      enableKeyRotation: true,
      removalPolicy,
      pendingWindow: Duration.days(config.retainData ? 30 : 7),
    });

    // Metadata only (no secret ever lands here), so AWS-managed encryption: a CMK would add per-function
    // KMS grants and request costs without protecting anything the secrets key does not already protect.
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: TABLE_KEYS.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TABLE_KEYS.ttl,
      deletionProtection: config.retainData,
      removalPolicy,
    });
    // Sparse: active tokens (partition DUE, by due time) and reauth-required ones (partition REAUTH); the
    // sweep reads keys, then GetItem (consistent); the health gauges read refreshExpiresAt.
    this.table.addGlobalSecondaryIndex({
      indexName: DUE_INDEX_NAME,
      partitionKey: { name: TABLE_KEYS.duePartitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.dueSortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.INCLUDE,
      nonKeyAttributes: [...DUE_INDEX_ATTRIBUTES],
    });

    new CfnOutput(this, 'TableName', { value: this.table.tableName, description: 'Metadata table (TABLE_NAME)' });
    new CfnOutput(this, 'SecretsKeyArn', {
      value: this.secretsKey.keyArn,
      description: `KMS key of the secrets under ${config.secretPrefix} (SECRETS_KMS_KEY_ID)`,
    });
  }
}
