/**
 * What each function may do, and nothing more. The service stack turns this map into one IAM policy per
 * function role; a function in FUNCTION_NAMES without an entry here (or the reverse) fails synth.
 */

export type TableAccess = 'none' | 'read' | 'readWrite';
export type SecretAction = 'CreateSecret' | 'PutSecretValue' | 'DescribeSecret' | 'GetSecretValue' | 'DeleteSecret';

export interface FunctionPermissions {
  /** Item access on the table (never Scan, never the table's admin actions). */
  table: TableAccess;
  /** Query on the due-refresh GSI. */
  dueIndexQuery: boolean;
  /** Secrets Manager actions on secrets under SECRET_PREFIX only. */
  secrets: readonly SecretAction[];
  /**
   * secretsmanager:ListSecrets, which IAM cannot scope to a prefix (it takes Resource "*" only); the
   * code asks only for names under SECRET_PREFIX, and a listing carries no secret value.
   */
  listSecrets: boolean;
  /** events:PutEvents on the lifecycle bus. */
  putEvents: boolean;
  /**
   * kms:Encrypt / kms:Decrypt on the secrets key, called directly (not through Secrets Manager) for the
   * pair escrow only: the grant requires the escrow's encryption context.
   */
  pairEscrow: boolean;
}

export const ESCROW_KMS_ACTIONS = ['kms:Encrypt', 'kms:Decrypt'] as const;

/**
 * DynamoDB authorizes TransactWriteItems per underlying item action (Put/Update/Delete/ConditionCheck),
 * so the transactional connect and disconnect writes need no separate action.
 */
export const TABLE_ACTIONS: Record<Exclude<TableAccess, 'none'>, readonly string[]> = {
  read: ['dynamodb:GetItem', 'dynamodb:Query'],
  readWrite: [
    'dynamodb:GetItem',
    'dynamodb:Query',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:DeleteItem',
    'dynamodb:ConditionCheckItem',
  ],
};

/** Secrets Manager calls KMS on the caller's behalf: writing a value needs GenerateDataKey (and Decrypt), reading needs Decrypt. */
export function kmsActionsFor(secrets: readonly SecretAction[]): string[] {
  const writes = secrets.includes('CreateSecret') || secrets.includes('PutSecretValue');
  const reads = secrets.includes('GetSecretValue');
  if (writes) return ['kms:Decrypt', 'kms:GenerateDataKey'];
  if (reads) return ['kms:Decrypt'];
  return [];
}

const none: FunctionPermissions = { table: 'none', dueIndexQuery: false, secrets: [], listSecrets: false, putEvents: false, pairEscrow: false };
const read: FunctionPermissions = { ...none, table: 'read' };
const readWrite: FunctionPermissions = { ...none, table: 'readWrite' };

/**
 * Refreshing reads the pair, writes the rotated pair (creating it if a previous write was lost, escrowing
 * it when every write fails) and announces the outcome.
 */
const REFRESH: FunctionPermissions = {
  ...readWrite,
  secrets: ['GetSecretValue', 'PutSecretValue', 'DescribeSecret', 'CreateSecret'],
  putEvents: true,
  pairEscrow: true,
};

/** Storing a new pair; DeleteSecret cleans up when the metadata write that follows fails. */
const STORE_PAIR: FunctionPermissions = {
  ...readWrite,
  secrets: ['CreateSecret', 'PutSecretValue', 'DescribeSecret', 'GetSecretValue', 'DeleteSecret'],
  putEvents: true,
};

export const PERMISSIONS: Readonly<Record<string, FunctionPermissions>> = {
  'anaf-client-put': { ...readWrite, secrets: ['CreateSecret', 'PutSecretValue', 'DescribeSecret'] },
  'anaf-client-get': read,
  'company-put': readWrite,
  'company-get': read,
  'company-delete': readWrite,
  'connect-session-create': readWrite,
  'oauth-authorize': readWrite,
  'oauth-callback': STORE_PAIR,
  'token-import': STORE_PAIR,
  'token-get': read,
  'token-refresh': REFRESH,
  'access-token-get': REFRESH,
  'manual-refresh': REFRESH,
  // The sweep also retires unused tokens and deletes orphan secrets, found by listing the prefix.
  'refresh-sweep': { ...REFRESH, dueIndexQuery: true, secrets: [...REFRESH.secrets, 'DeleteSecret'], listSecrets: true },
  'token-delete': { ...readWrite, secrets: ['DeleteSecret', 'DescribeSecret', 'GetSecretValue'], putEvents: true },
  'events-list': read,
};
