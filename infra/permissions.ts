/**
 * What each function may do, and nothing more: the actions the calls on its code paths need. The service
 * stack turns this map into one IAM policy per function role; a function in FUNCTION_NAMES without an
 * entry here (or the reverse) fails synth. test/integration/grants.test.ts holds the map to the code: every
 * action a handler sends (against moto, which enforces no IAM) must be allowed by its synthesized role,
 * and every grant must be used by one of that test's paths.
 */

export type TableAction = 'GetItem' | 'Query' | 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'ConditionCheckItem';
export type SecretAction = 'CreateSecret' | 'PutSecretValue' | 'DescribeSecret' | 'GetSecretValue' | 'DeleteSecret';

export interface FunctionPermissions {
  /**
   * Item actions on the table (never Scan, never the table's admin actions). DynamoDB authorizes
   * TransactWriteItems per item (Put → PutItem, Update → UpdateItem, Delete → DeleteItem, ConditionCheck →
   * ConditionCheckItem), so a transaction needs no action of its own.
   */
  table: readonly TableAction[];
  /** Query on the due-refresh GSI. */
  dueIndexQuery: boolean;
  /** Secrets Manager actions on secrets under SECRET_PREFIX only. */
  secrets: readonly SecretAction[];
  /** events:PutEvents on the lifecycle bus. */
  putEvents: boolean;
}

/** Secrets Manager calls KMS on the caller's behalf: writing a value needs GenerateDataKey (and Decrypt), reading needs Decrypt. */
export function kmsActionsFor(secrets: readonly SecretAction[]): string[] {
  const writes = secrets.includes('CreateSecret') || secrets.includes('PutSecretValue');
  const reads = secrets.includes('GetSecretValue');
  if (writes) return ['kms:Decrypt', 'kms:GenerateDataKey'];
  if (reads) return ['kms:Decrypt'];
  return [];
}

/** Reads one item (the tenant, a company, a token) or one partition's items (a tenant's companies, tokens, events). */
const read: FunctionPermissions = { table: ['GetItem', 'Query'], dueIndexQuery: false, secrets: [], putEvents: false };

/**
 * Refreshing: the lease (UpdateItem) and the versioned record writes (PutItem), the linked companies an
 * event names (Query), the connect link of a reauth-required or expiring event (a session, PutItem) and
 * the audit entry. It reads the pair and the client secret, writes the rotated pair (creating the secret
 * again if it vanished since the read: the new pair has no other copy), and deletes the pair it wrote when
 * a disconnect won the race.
 */
const REFRESH: FunctionPermissions = {
  table: ['GetItem', 'Query', 'PutItem', 'UpdateItem'],
  dueIndexQuery: false,
  secrets: ['GetSecretValue', 'PutSecretValue', 'CreateSecret', 'DeleteSecret'],
  putEvents: true,
};

/**
 * Storing a new pair (callback, import): the secret first, then the token, serial pointer, company links
 * (and the session) in one transaction (PutItem, UpdateItem); DeleteSecret removes a new token's secret
 * when that transaction fails.
 */
const STORE_PAIR_SECRETS: readonly SecretAction[] = ['PutSecretValue', 'CreateSecret', 'DeleteSecret'];

export const PERMISSIONS: Readonly<Record<string, FunctionPermissions>> = {
  // Listing the tenant's tokens only when the client id changes.
  'anaf-client-put': { ...read, table: ['GetItem', 'Query', 'PutItem'], secrets: ['PutSecretValue', 'CreateSecret'] },
  'anaf-client-get': { ...read, table: ['GetItem'] },
  'company-put': { ...read, table: ['GetItem', 'PutItem'] },
  'company-get': read,
  'company-delete': { ...read, table: ['GetItem', 'DeleteItem'] },
  'connect-session-create': { ...read, table: ['GetItem', 'PutItem'] },
  'oauth-authorize': { ...read, table: ['GetItem', 'PutItem'] },
  // Consuming the single-use state is a DeleteItem; the exchange needs the tenant's client secret.
  'oauth-callback': {
    table: ['GetItem', 'Query', 'PutItem', 'UpdateItem', 'DeleteItem'],
    dueIndexQuery: false,
    secrets: ['GetSecretValue', ...STORE_PAIR_SECRETS],
    putEvents: true,
  },
  'token-import': { table: ['GetItem', 'Query', 'PutItem', 'UpdateItem'], dueIndexQuery: false, secrets: STORE_PAIR_SECRETS, putEvents: true },
  'token-get': read,
  'token-refresh': REFRESH,
  'access-token-get': REFRESH,
  'manual-refresh': REFRESH,
  'refresh-sweep': { ...REFRESH, dueIndexQuery: true },
  // The disconnect transaction puts the record and deletes the serial pointer; companies are unlinked one by one.
  'token-delete': {
    table: ['GetItem', 'Query', 'PutItem', 'UpdateItem', 'DeleteItem'],
    dueIndexQuery: false,
    secrets: ['DeleteSecret'],
    putEvents: true,
  },
  'events-list': read,
};
