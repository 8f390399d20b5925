/**
 * What each function may do, and nothing more: the actions the calls on its code paths need. The service
 * stack turns this map into one IAM policy per function role; a function in FUNCTION_NAMES without an
 * entry here (or the reverse) fails synth. test/integration/grants.test.ts holds the map to the code: every
 * action a handler sends (against moto, which enforces no IAM) must be allowed by its synthesized role,
 * and every grant (each action on each key prefix) must be used by one of that test's paths.
 */

export type TableAction = 'GetItem' | 'BatchGetItem' | 'Query' | 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'ConditionCheckItem';
/**
 * Partition-key prefixes of the table (shared/adapters/dynamodb/keys.ts): a tenant's own items (client,
 * companies, tokens, serial pointers), connect sessions, OAuth states, a tenant's audit trail, the ANAF
 * limit counters.
 */
export type KeyPrefix = 'TENANT#' | 'SESSION#' | 'STATE#' | 'EVENTS#' | 'LIMIT#';
/** Partition keys of the due index (DUE_PARTITION, REAUTH_PARTITION); IAM checks an index query's own partition key. */
export type DueIndexPartition = 'DUE' | 'REAUTH';
export type TableGrants = Readonly<Partial<Record<KeyPrefix, readonly TableAction[]>>>;

/** The table grant as IAM statements: prefixes with the same actions share one (order-independent). */
export function tableStatements(table: TableGrants): Array<{ actions: TableAction[]; prefixes: KeyPrefix[] }> {
  const byActions = new Map<string, { actions: TableAction[]; prefixes: KeyPrefix[] }>();
  for (const [prefix, actions] of Object.entries(table) as Array<[KeyPrefix, readonly TableAction[]]>) {
    if (actions.length === 0) continue;
    const sorted = [...new Set(actions)].sort();
    const group = byActions.get(sorted.join()) ?? { actions: sorted, prefixes: [] };
    group.prefixes.push(prefix);
    byActions.set(sorted.join(), group);
  }
  return [...byActions.values()].map((g) => ({ ...g, prefixes: g.prefixes.sort() }));
}
export type SecretAction = 'CreateSecret' | 'PutSecretValue' | 'DescribeSecret' | 'GetSecretValue' | 'DeleteSecret';

export interface FunctionPermissions {
  /**
   * Item actions on the table per partition-key prefix: the grant for a prefix carries
   * `ForAllValues:StringLike dynamodb:LeadingKeys` on it, so a function cannot touch another kind of item,
   * nor do to one kind what it only does to another (the public OAuth functions read a tenant's items but
   * write only sessions, states and the trail, say). Never Scan, never the table's admin actions.
   * DynamoDB authorizes TransactWriteItems per item (Put → PutItem, Update → UpdateItem, Delete →
   * DeleteItem, ConditionCheck → ConditionCheckItem), each with its own key, so a transaction needs no
   * action of its own.
   */
  table: TableGrants;
  /** Query on the due-refresh GSI, on these index partitions only (none: no index grant). */
  dueIndex: readonly DueIndexPartition[];
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
   * kms:Encrypt (escrow a rotated pair whose secret writes all failed) / kms:Decrypt (read or restore an
   * escrowed pair) on the secrets key, called directly (not through Secrets Manager) for the pair escrow
   * only: the grant requires the escrow's encryption context.
   */
  pairEscrow: readonly EscrowAction[];
  /**
   * S3 actions on the invoice objects bucket's keys (`<tenantId>/<cui>/<uuid>.xml`). The functions serve
   * every tenant, so IAM cannot tell one tenant's keys from another's: the code refuses a key outside the
   * request's tenant and company before any call. PutObject is the signing role's: a presigned PUT
   * acts with its credentials.
   */
  invoiceObjects: readonly ObjectAction[];
}

export type EscrowAction = 'Encrypt' | 'Decrypt';
export type ObjectAction = 'PutObject' | 'GetObject' | 'DeleteObject';

/** Secrets Manager calls KMS on the caller's behalf: writing a value needs GenerateDataKey (and Decrypt), reading needs Decrypt. */
export function kmsActionsFor(secrets: readonly SecretAction[]): string[] {
  const writes = secrets.includes('CreateSecret') || secrets.includes('PutSecretValue');
  const reads = secrets.includes('GetSecretValue');
  if (writes) return ['kms:Decrypt', 'kms:GenerateDataKey'];
  if (reads) return ['kms:Decrypt'];
  return [];
}

/**
 * What a function that calls ANAF's e-Factura API needs for the limiter
 * (shared/adapters/dynamodb/limit-store.ts): UpdateItem on the counters only (a transaction of several
 * counters is authorized as one UpdateItem per counter). Spread into that function's `table`.
 */
export const LIMITER_TABLE_GRANTS: TableGrants = { 'LIMIT#': ['UpdateItem'] };

/** Reads one item (the tenant, a company, a token) or one partition's items (a tenant's companies, tokens, events). */
const read: FunctionPermissions = {
  table: { 'TENANT#': ['GetItem', 'Query'] },
  dueIndex: [],
  secrets: [],
  listSecrets: false,
  putEvents: false,
  invoiceObjects: [],
  pairEscrow: [],
};

/**
 * Refreshing: the lease (UpdateItem) and the versioned record writes (PutItem), the linked companies an
 * event names (Query), the connect link of a reauth-required or expiring event (a session, PutItem) and
 * the audit entry. It reads the pair and the client secret, writes the rotated pair (creating the secret
 * again if it vanished since the read: the new pair has no other copy), and deletes the pair it wrote when
 * a disconnect won the race; when every pair write fails it escrows the pair (KMS Encrypt), and reads or
 * restores an escrowed pair (KMS Decrypt, DeleteItem).
 */
const REFRESH: FunctionPermissions = {
  table: {
    'TENANT#': ['GetItem', 'Query', 'PutItem', 'UpdateItem', 'DeleteItem'],
    'SESSION#': ['PutItem'],
    'EVENTS#': ['PutItem'],
  },
  dueIndex: [],
  // DescribeSecret: deleting an already-scheduled secret is told apart from a failure (disconnect cleanup).
  secrets: ['GetSecretValue', 'PutSecretValue', 'CreateSecret', 'DeleteSecret', 'DescribeSecret'],
  listSecrets: false,
  putEvents: true,
  invoiceObjects: [],
  pairEscrow: ['Encrypt', 'Decrypt'],
};

/**
 * Storing a new pair (callback, import): the client secret (the exchange or the import's rotation), the
 * pair first (escrowed with KMS Encrypt when every write fails), then the token, serial pointer, company
 * links (and the session) in one transaction (PutItem, UpdateItem); DeleteSecret removes a new token's
 * secret when that transaction fails.
 */
const STORE_PAIR: FunctionPermissions = {
  table: { 'TENANT#': ['GetItem', 'Query', 'PutItem', 'UpdateItem'], 'EVENTS#': ['PutItem'] },
  dueIndex: [],
  secrets: ['GetSecretValue', 'PutSecretValue', 'CreateSecret', 'DeleteSecret'],
  listSecrets: false,
  putEvents: true,
  invoiceObjects: [],
  pairEscrow: ['Encrypt'],
};

export const PERMISSIONS: Readonly<Record<string, FunctionPermissions>> = {
  // Listing the tenant's tokens only when the client id changes.
  'anaf-client-put': { ...read, table: { 'TENANT#': ['GetItem', 'Query', 'PutItem'] }, secrets: ['PutSecretValue', 'CreateSecret'] },
  'anaf-client-get': { ...read, table: { 'TENANT#': ['GetItem'] } },
  'company-put': { ...read, table: { 'TENANT#': ['GetItem', 'PutItem'] } },
  'company-get': read,
  'company-delete': { ...read, table: { 'TENANT#': ['GetItem', 'DeleteItem'] } },
  'connect-session-create': { ...read, table: { 'TENANT#': ['GetItem'], 'SESSION#': ['PutItem'] } },
  // The session's page names the tenant's client (its tenant item).
  'connect-session-get': { ...read, table: { 'TENANT#': ['GetItem'], 'SESSION#': ['GetItem'] } },
  // Opening an expired session records SESSION_EXPIRED on it (UpdateItem) and announces connect-failed once.
  'oauth-authorize': {
    ...read,
    table: { 'TENANT#': ['GetItem'], 'SESSION#': ['GetItem', 'UpdateItem'], 'STATE#': ['PutItem'], 'EVENTS#': ['PutItem'] },
    putEvents: true,
  },
  // Consuming the single-use state marks it used (UpdateItem, kept for a reload's page), like recording a
  // failed attempt on the session.
  'oauth-callback': {
    ...STORE_PAIR,
    table: { ...STORE_PAIR.table, 'SESSION#': ['GetItem', 'UpdateItem'], 'STATE#': ['UpdateItem'] },
  },
  // The import also re-reads an existing token's pair (GetSecretValue) under its lease.
  // The same import sent again reads the pair its first attempt left: how old it is (DescribeSecret), or
  // the escrow's copy when every secret write of that attempt failed (KMS Decrypt).
  'token-import': { ...STORE_PAIR, secrets: [...STORE_PAIR.secrets, 'DescribeSecret'], pairEscrow: ['Encrypt', 'Decrypt'] },
  'token-get': read,
  'token-refresh': REFRESH,
  'access-token-get': REFRESH,
  'manual-refresh': REFRESH,
  // The sweep also retires unused tokens and deletes orphan secrets, found by listing the prefix; it reads
  // the records of a page of listed secrets in one BatchGetItem (IAM checks every key's partition).
  'refresh-sweep': {
    ...REFRESH,
    table: { ...REFRESH.table, 'TENANT#': [...REFRESH.table['TENANT#']!, 'BatchGetItem'] },
    dueIndex: ['DUE', 'REAUTH'],
    listSecrets: true,
  },
  // The disconnect transaction puts the record and deletes the serial pointer; companies are unlinked one by one.
  'token-delete': {
    table: { 'TENANT#': ['GetItem', 'Query', 'PutItem', 'UpdateItem', 'DeleteItem'], 'EVENTS#': ['PutItem'] },
    dueIndex: [],
    secrets: ['DeleteSecret', 'DescribeSecret'],
    listSecrets: false,
    putEvents: true,
    invoiceObjects: [],
    pairEscrow: [],
  },
  'events-list': { ...read, table: { 'TENANT#': ['GetItem'], 'EVENTS#': ['Query'] } },
  // Every refresh path (on demand, and once after ANAF refuses the token), the limiter's counters, and in
  // the tenant's partition the upload Idempotency-Keys (claimed with PutItem, read back, settled with
  // UpdateItem, freed with DeleteItem) and the companies' spvRights (UpdateItem): all within REFRESH's.
  // An invoice PUT to the bucket is read (GetObject), then deleted after ANAF's final answer.
  efactura: { ...REFRESH, table: { ...REFRESH.table, ...LIMITER_TABLE_GRANTS }, invoiceObjects: ['GetObject', 'DeleteObject'] },
  // Checks the tenant and company, then signs a PUT (no call to S3: the URL carries the role's signature).
  'invoice-uploads': { ...read, table: { 'TENANT#': ['GetItem'] }, invoiceObjects: ['PutObject'] },
  // No tenant, no token: only the public scope's limit counters.
  'efactura-public': { ...read, table: { ...LIMITER_TABLE_GRANTS } },
};
