import { Aws, CfnOutput, Duration, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { DUE_INDEX_ATTRIBUTES, DUE_INDEX_NAME, ESCROW_CONTEXT_PURPOSE, TABLE_KEYS } from '../shared/config/env-names.js';
import { functionRolePath, invoiceBucketName } from './names.js';
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
  /** Invoices over Lambda's inline limit, PUT by the ERP to a presigned URL (INVOICE_BUCKET_NAME). */
  readonly invoiceBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const { config } = props;
    const removalPolicy = config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.secretsKey = new kms.Key(this, 'SecretsKey', {
      description: `anaf-broker ${config.stage}: ANAF client secrets and token pairs under ${config.secretPrefix}`,
      enableKeyRotation: true,
      removalPolicy,
      pendingWindow: Duration.days(config.retainData ? 30 : 7),
      policy: secretsKeyPolicy(config),
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

    // Transit storage: an object lives from the ERP's PUT to ANAF's final answer, a day at most. S3-managed
    // keys: the invoices go to ANAF as they are and are no secret of ours; the secrets key's policy stays
    // narrow (Secrets Manager and the escrow only), and a presigned PUT needs no KMS grant or request.
    // No CORS rule: the presigned URL is for the ERP's backend, which calls the service routes with IAM.
    this.invoiceBucket = new s3.Bucket(this, 'InvoiceBucket', {
      bucketName: invoiceBucketName(config.stage, Aws.ACCOUNT_ID, Aws.REGION),
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'expire-leftovers', expiration: Duration.days(1), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      removalPolicy,
    });
    Validations.of(this.invoiceBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'Transit objects deleted after ANAF answers (a day at most); the upload route logs every use, and server access logs would need a bucket of their own for objects that no longer exist.',
    });

    new CfnOutput(this, 'TableName', { value: this.table.tableName, description: 'Metadata table (TABLE_NAME)' });
    new CfnOutput(this, 'InvoiceBucketName', { value: this.invoiceBucket.bucketName, description: 'Invoices over the inline limit (INVOICE_BUCKET_NAME)' });
    new CfnOutput(this, 'SecretsKeyArn', {
      value: this.secretsKey.keyArn,
      description: `KMS key of the secrets under ${config.secretPrefix} (SECRETS_KMS_KEY_ID)`,
    });
  }
}

/**
 * What may administer the key: its lifecycle and policy, never its use, and no CreateGrant (a grant is
 * use by another name).
 */
export const KEY_ADMIN_ACTIONS = [
  'kms:DescribeKey',
  'kms:GetKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:ListResourceTags',
  'kms:ListKeyPolicies',
  'kms:ListKeyRotations',
  'kms:ListGrants',
  'kms:PutKeyPolicy',
  'kms:UpdateKeyDescription',
  'kms:EnableKey',
  'kms:DisableKey',
  'kms:EnableKeyRotation',
  'kms:DisableKeyRotation',
  'kms:RotateKeyOnDemand',
  'kms:RevokeGrant',
  'kms:CreateAlias',
  'kms:UpdateAlias',
  'kms:DeleteAlias',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
];

/**
 * The secrets key's own policy, instead of CDK's default "the account root may do kms:*" (which lets
 * every administrator of the account decrypt every tenant's refresh tokens through IAM alone).
 *
 * The function roles live in the service stack, which depends on this one, so the policy cannot name
 * them: it delegates to IAM (principal: the account) only under conditions. A request must satisfy both
 * this policy and the role's IAM policy (infra/service-stack.ts, the same conditions), so:
 * - administration (KEY_ADMIN_ACTIONS, no use) only for the CDK deploy role (CloudFormation must be able to
 *   update this policy) and the optional `keyAdminRoleArn`;
 * - Decrypt / GenerateDataKey only for roles under the stage's function-role path (functionRolePath),
 *   only through Secrets Manager in this region, only for secrets under the stage prefix;
 * - Encrypt / Decrypt called directly only for those roles and only with the pair escrow's encryption
 *   context;
 * - the optional `breakGlassRoleArn`, named as the principal, may Decrypt / GenerateDataKey.
 * Who can create a role under the function-role path (or change this policy through a deploy) can still
 * reach the key: keep iam:CreateRole on that path and the deploy role to the pipeline (an SCP), as the
 * README says.
 */
export function secretsKeyPolicy(config: StageConfig): iam.PolicyDocument {
  const account = new iam.AccountRootPrincipal();
  const functionRoles = `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:role${functionRolePath(config.stage)}*`;
  const deployRole = `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:role/cdk-*-cfn-exec-role-${Aws.ACCOUNT_ID}-${Aws.REGION}`;
  const secretArns = `arn:${Aws.PARTITION}:secretsmanager:${Aws.REGION}:${Aws.ACCOUNT_ID}:secret:${config.secretPrefix}*`;
  const statements = [
    new iam.PolicyStatement({
      sid: 'KeyAdministration',
      principals: [account],
      actions: KEY_ADMIN_ACTIONS,
      resources: ['*'],
      conditions: { ArnLike: { 'aws:PrincipalArn': [deployRole, ...(config.keyAdminRoleArn ? [config.keyAdminRoleArn] : [])] } },
    }),
    new iam.PolicyStatement({
      sid: 'BrokerThroughSecretsManager',
      principals: [account],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
      resources: ['*'],
      conditions: {
        ArnLike: { 'aws:PrincipalArn': functionRoles },
        StringEquals: { 'kms:ViaService': `secretsmanager.${Aws.REGION}.${Aws.URL_SUFFIX}`, 'kms:CallerAccount': Aws.ACCOUNT_ID },
        StringLike: { 'kms:EncryptionContext:SecretARN': secretArns },
      },
    }),
    new iam.PolicyStatement({
      sid: 'BrokerPairEscrow',
      principals: [account],
      actions: ['kms:Encrypt', 'kms:Decrypt'],
      resources: ['*'],
      conditions: {
        ArnLike: { 'aws:PrincipalArn': functionRoles },
        StringEquals: { 'kms:EncryptionContext:purpose': ESCROW_CONTEXT_PURPOSE },
      },
    }),
  ];
  if (config.breakGlassRoleArn) {
    statements.push(
      new iam.PolicyStatement({
        sid: 'BreakGlass',
        principals: [new iam.ArnPrincipal(config.breakGlassRoleArn)],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
        resources: ['*'],
      }),
    );
  }
  return new iam.PolicyDocument({ statements });
}
