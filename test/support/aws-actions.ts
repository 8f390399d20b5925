/**
 * Records the AWS API actions the code sends, per Lambda function, and turns each into the IAM
 * requests AWS authorizes for it. A middleware on the runtime's SDK clients reads every signed HTTP
 * request just before it goes out (service from the SigV4 credential scope, operation from
 * `X-Amz-Target`, parameters from the JSON body), so what is recorded is what moto received. Calls are
 * attributed to the function whose handler is running (AsyncLocalStorage), so two handlers racing in one
 * test are told apart; calls made outside `as()` (test setup through the gateway) are not recorded.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { MiddlewareStack } from '@smithy/types';
import { kmsActionsFor, type SecretAction } from '../../infra/permissions.js';
import { TABLE_KEYS } from '../../shared/config/env-names.js';

/** One API call as sent: `service` is the IAM prefix (the SigV4 signing name). */
export interface SentCall {
  service: string;
  operation: string;
  params: Record<string, any>;
  /**
   * How many recorded calls had been answered when this one went out: calls sent together (in flight at
   * once) share it, a call sent after another's answer has a higher one. The round-trips test counts
   * the sequential steps of a path with it.
   */
  answeredBefore: number;
}

/** What IAM evaluates for a call: one action on one resource, with the condition keys AWS sets (a list for a multivalued key). */
export interface IamRequest {
  action: string;
  resource: string;
  context: Record<string, string | string[]>;
  /** Set for the KMS calls another service makes with the caller's credentials (not visible on the wire). */
  via?: string;
  /** The call that led to this request, for messages. */
  call: string;
}

export interface ActionRecorder {
  /** Adds the recording middleware to each client (idempotent). */
  attach(clients: Iterable<{ middlewareStack: MiddlewareStack<any, any> }>): void;
  /** Runs `work` as function `fn`: every call it sends, directly or through promises it starts, is recorded for `fn`. */
  as<T>(fn: string, work: () => Promise<T>): Promise<T>;
  /** The calls recorded since the last `take()`, by function; clears them. */
  take(): Map<string, SentCall[]>;
}

const MIDDLEWARE_NAME = 'grantsTestActionRecorder';

export function createActionRecorder(): ActionRecorder {
  const current = new AsyncLocalStorage<string>();
  let calls = new Map<string, SentCall[]>();
  let answered = 0;

  const record = (next: (args: any) => Promise<any>) => async (args: any) => {
    const fn = current.getStore();
    if (fn === undefined) return next(args);
    const call = { ...readCall(args.request), answeredBefore: answered };
    calls.set(fn, [...(calls.get(fn) ?? []), call]);
    try {
      return await next(args);
    } finally {
      answered++;
    }
  };

  // S3 speaks REST (no X-Amz-Target, no JSON body), and a presigned PUT is never sent by the code: S3
  // authorizes it as PutObject of the signing role when the ERP sends it. So S3 calls are recorded at the
  // build step (which a presign runs too) from the command's name and input.
  const recordS3 = (next: (args: any) => Promise<any>, context: { commandName?: string }) => async (args: any) => {
    const fn = current.getStore();
    if (fn === undefined) return next(args);
    const operation = (context.commandName ?? '').replace(/Command$/, '');
    calls.set(fn, [...(calls.get(fn) ?? []), { service: 's3', operation, params: { Bucket: args.input.Bucket, Key: args.input.Key }, answeredBefore: answered }]);
    try {
      return await next(args);
    } finally {
      answered++;
    }
  };

  return {
    attach(clients) {
      for (const client of clients) {
        if ((client as { config?: { serviceId?: string } }).config?.serviceId === 'S3') {
          client.middlewareStack.add(recordS3 as never, { step: 'build', name: MIDDLEWARE_NAME, override: true });
          continue;
        }
        // The deserialize step sees the request after serialization and signing, once per attempt.
        client.middlewareStack.add(record, { step: 'deserialize', name: MIDDLEWARE_NAME, override: true });
      }
    },
    as: (fn, work) => current.run(fn, work),
    take() {
      const taken = calls;
      calls = new Map();
      return taken;
    },
  };
}

function readCall(request: { headers: Record<string, string>; body?: unknown }): Omit<SentCall, 'answeredBefore'> {
  const header = (name: string) => Object.entries(request.headers).find(([k]) => k.toLowerCase() === name)?.[1];
  const service = /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\/aws4_request/.exec(header('authorization') ?? '')?.[1];
  const target = header('x-amz-target');
  // The SDK hands the JSON body over as a string or as bytes.
  const body = typeof request.body === 'string' ? request.body : request.body instanceof Uint8Array ? new TextDecoder().decode(request.body) : undefined;
  if (!service || !target || body === undefined) {
    // The clients read here speak AWS JSON (DynamoDB, Secrets Manager, EventBridge, KMS; S3 is recorded at the build step); another protocol needs reading here.
    throw new Error(`the action recorder cannot read this request (service ${service ?? '?'}, target ${target ?? '?'})`);
  }
  return { service, operation: target.slice(target.lastIndexOf('.') + 1), params: body ? JSON.parse(body) : {} };
}

/** Where the recorded resources live: the local stack's names, in ARNs shaped like AWS's. */
export interface AwsLocation {
  region: string;
  account: string;
  /** The customer-managed key Secrets Manager encrypts the secrets with (SECRETS_KMS_KEY_ID in AWS). */
  secretsKeyArn: string;
}

/** Item actions IAM checks for each member of a transaction (it never checks `TransactWriteItems` itself). */
const TRANSACT_ITEM_ACTIONS: Record<string, string> = {
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  ConditionCheck: 'ConditionCheckItem',
};

/** Actions without resource-level permissions: IAM matches them only against `"Resource": "*"`. */
const NO_RESOURCE_LEVEL = new Set(['secretsmanager:ListSecrets', 'secretsmanager:GetRandomPassword', 'kms:ListKeys', 'kms:ListAliases']);

/** The IAM requests AWS evaluates for one call (a transaction is one per item; a secret read or write adds its KMS use). */
export function iamRequestsFor(call: Omit<SentCall, 'answeredBefore'>, where: AwsLocation): IamRequest[] {
  const { service, operation, params } = call;
  const name = `${service}:${operation}`;
  const arn = (type: string, resource: string) => `arn:aws:${type}:${where.region}:${where.account}:${resource}`;
  const request = (action: string, resource: string, context: Record<string, string | string[]> = {}): IamRequest => ({
    action,
    resource: NO_RESOURCE_LEVEL.has(action) ? '*' : resource,
    context,
    call: name,
  });

  switch (service) {
    case 'dynamodb': {
      const table = (tableName: string) => (tableName.startsWith('arn:') ? tableName : arn('dynamodb', `table/${tableName}`));
      // dynamodb:LeadingKeys: the partition key each item request names (an index query: the index's own).
      const item = (action: string, body: Record<string, any>) => {
        const base = table(body.TableName as string);
        const resource = body.IndexName ? `${base}/index/${body.IndexName}` : base;
        return request(action, resource, { 'dynamodb:LeadingKeys': leadingKeys(action, body) });
      };
      if (operation === 'TransactWriteItems') {
        return (params.TransactItems as Array<Record<string, Record<string, any>>>).map((member) => {
          const [kind, body] = Object.entries(member)[0]!;
          const action = TRANSACT_ITEM_ACTIONS[kind];
          if (!action) throw new Error(`unknown transaction item ${kind}`);
          return item(`dynamodb:${action}`, body);
        });
      }
      if (operation === 'TransactGetItems') {
        return (params.TransactItems as Array<{ Get: Record<string, any> }>).map((member) => item('dynamodb:GetItem', member.Get));
      }
      if (operation === 'BatchGetItem') {
        // One request per table, its dynamodb:LeadingKeys every key's partition (ForAllValues: all must match).
        return Object.entries(params.RequestItems as Record<string, { Keys: Array<Record<string, any>> }>).map(([tableName, { Keys }]) =>
          request(name, table(tableName), { 'dynamodb:LeadingKeys': [...new Set(Keys.flatMap((k) => leadingKeys(name, { Key: k })))] }),
        );
      }
      if (operation === 'BatchWriteItem') {
        // Not used by the code: reading its per-table key lists would belong here.
        throw new Error(`${name}: teach iamRequestsFor (test/support/aws-actions.ts) the leading keys of a batch`);
      }
      return [item(name, params)];
    }
    case 'secretsmanager': {
      const id = (params.SecretId ?? params.Name) as string | undefined;
      // AWS appends six random characters to a secret's name in its ARN.
      const secretArn = id === undefined ? '*' : id.startsWith('arn:') ? id : arn('secretsmanager', `secret:${id}-AbC123`);
      // With a customer-managed key, Secrets Manager calls KMS with the caller's credentials: the role needs
      // those KMS actions too, though the SDK never sends them (kmsActionsFor is the stack's own rule).
      const viaKms = kmsActionsFor([operation as SecretAction]).map((action) => ({
        ...request(action, where.secretsKeyArn, {
          'kms:ViaService': `secretsmanager.${where.region}.amazonaws.com`,
          'kms:EncryptionContext:SecretARN': secretArn,
        }),
        via: 'secretsmanager',
      }));
      return [request(name, secretArn), ...viaKms];
    }
    case 'events': {
      if (operation !== 'PutEvents') return [request(name, arn('events', `event-bus/${params.EventBusName ?? params.Name ?? 'default'}`))];
      const buses = new Set((params.Entries as Array<{ EventBusName?: string }>).map((e) => e.EventBusName ?? 'default'));
      return [...buses].map((bus) => request(name, bus.startsWith('arn:') ? bus : arn('events', `event-bus/${bus}`)));
    }
    case 'kms': {
      // Decrypt may leave KeyId out (the ciphertext names its key); the code's only key is the secrets key.
      const keyId = params.KeyId as string | undefined;
      const resource = keyId === undefined ? where.secretsKeyArn : keyId.startsWith('arn:') ? keyId : arn('kms', keyId.startsWith('alias/') ? keyId : `key/${keyId}`);
      const context = Object.fromEntries(
        Object.entries((params.EncryptionContext ?? {}) as Record<string, string>).map(([k, v]) => [`kms:EncryptionContext:${k}`, v]),
      );
      return [request(name, resource, context)];
    }
    case 's3':
      // Object actions on the object's ARN (S3 ARNs carry no region or account).
      return [request(name, `arn:aws:s3:::${params.Bucket as string}/${params.Key as string}`)];
    default:
      throw new Error(`no IAM mapping for ${name}: teach iamRequestsFor (test/support/aws-actions.ts) how AWS authorizes it`);
  }
}

/**
 * The partition-key values of one DynamoDB item request, as IAM sets `dynamodb:LeadingKeys`: from Key
 * (Get/Update/Delete/ConditionCheck), Item (Put), or the equality on the partition key of a Query's
 * KeyConditionExpression (on an index, the index's partition key). A request whose key this cannot read
 * throws: ForAllValues passes on an absent key, so a misread must not look like a match.
 */
export function leadingKeys(action: string, body: Record<string, any>): string[] {
  const partitionKey = body.IndexName ? TABLE_KEYS.duePartitionKey : TABLE_KEYS.partitionKey;
  const text = (value: unknown): string | undefined => (value && typeof value === 'object' && typeof (value as any).S === 'string' ? (value as any).S : undefined);
  let value: string | undefined;
  if (body.Key) value = text(body.Key[partitionKey]);
  else if (body.Item) value = text(body.Item[partitionKey]);
  else if (typeof body.KeyConditionExpression === 'string') {
    const names = (body.ExpressionAttributeNames ?? {}) as Record<string, string>;
    for (const [, left, right] of body.KeyConditionExpression.matchAll(/([#\w]+)\s*=\s*(:\w+)/g)) {
      if ((names[left!] ?? left) === partitionKey) value = text(body.ExpressionAttributeValues?.[right!]);
    }
  }
  if (value === undefined) throw new Error(`${action}: no partition key ${partitionKey} readable in ${JSON.stringify(Object.keys(body))}`);
  return [value];
}
