/**
 * The two halves the grants test relies on, checked on their own: how a sent call becomes IAM requests,
 * and how a resolved policy decides them.
 */
import { describe, expect, it } from 'vitest';
import { iamRequestsFor, type AwsLocation, type IamRequest } from '../support/aws-actions.js';
import { isAllowed, keyPolicyAllows, wildcardMatch, type ResolvedStatement } from './policy.js';

const where: AwsLocation = { region: 'eu-central-1', account: '111122223333', secretsKeyArn: 'arn:aws:kms:eu-central-1:111122223333:key/k1' };
const TABLE = 'arn:aws:dynamodb:eu-central-1:111122223333:table/t';
const SECRET = 'arn:aws:secretsmanager:eu-central-1:111122223333:secret:p/a/tokens/x-AbC123';
const brief = (requests: IamRequest[]) => requests.map((r) => [r.action, r.resource]);
/** A low-level (wire) key: partition key `pk`, sort key `sk`. */
const pk = (value: string) => ({ pk: { S: value }, sk: { S: 'X' } });

describe('iamRequestsFor', () => {
  it.each([
    {
      call: {
        service: 'dynamodb',
        operation: 'TransactWriteItems',
        params: { TransactItems: [{ Put: { TableName: 't', Item: pk('a') } }, { Update: { TableName: 't', Key: pk('a') } }, { Delete: { TableName: 't', Key: pk('a') } }, { ConditionCheck: { TableName: 't', Key: pk('a') } }] },
      },
      expected: [['dynamodb:PutItem', TABLE], ['dynamodb:UpdateItem', TABLE], ['dynamodb:DeleteItem', TABLE], ['dynamodb:ConditionCheckItem', TABLE]],
    },
    {
      call: { service: 'dynamodb', operation: 'Query', params: { TableName: 't', IndexName: 'due', KeyConditionExpression: 'duePk = :p', ExpressionAttributeValues: { ':p': { S: 'DUE' } } } },
      expected: [['dynamodb:Query', `${TABLE}/index/due`]],
    },
    { call: { service: 'dynamodb', operation: 'GetItem', params: { TableName: 't', Key: pk('a') } }, expected: [['dynamodb:GetItem', TABLE]] },
    {
      call: { service: 'secretsmanager', operation: 'PutSecretValue', params: { SecretId: 'p/a/tokens/x' } },
      expected: [['secretsmanager:PutSecretValue', SECRET], ['kms:Decrypt', where.secretsKeyArn], ['kms:GenerateDataKey', where.secretsKeyArn]],
    },
    { call: { service: 'secretsmanager', operation: 'DeleteSecret', params: { SecretId: 'p/a/tokens/x' } }, expected: [['secretsmanager:DeleteSecret', SECRET]] },
    { call: { service: 'secretsmanager', operation: 'ListSecrets', params: {} }, expected: [['secretsmanager:ListSecrets', '*']] },
    {
      call: { service: 'events', operation: 'PutEvents', params: { Entries: [{ EventBusName: 'bus' }, { EventBusName: 'bus' }] } },
      expected: [['events:PutEvents', 'arn:aws:events:eu-central-1:111122223333:event-bus/bus']],
    },
    { call: { service: 'kms', operation: 'Encrypt', params: { KeyId: 'k1' } }, expected: [['kms:Encrypt', where.secretsKeyArn]] },
  ])('$call.service:$call.operation', ({ call, expected }) => {
    expect(brief(iamRequestsFor(call, where))).toEqual(expected);
  });

  it('gives the KMS use of Secrets Manager the context AWS sets: through Secrets Manager, for that secret', () => {
    const [, decrypt] = iamRequestsFor({ service: 'secretsmanager', operation: 'GetSecretValue', params: { SecretId: 'p/a/tokens/x' } }, where);
    expect(decrypt).toMatchObject({
      action: 'kms:Decrypt',
      via: 'secretsmanager',
      context: { 'kms:ViaService': 'secretsmanager.eu-central-1.amazonaws.com', 'kms:EncryptionContext:SecretARN': SECRET },
    });
  });

  it.each([
    { why: 'a Key', body: { Key: pk('SESSION#s1') }, keys: ['SESSION#s1'] },
    { why: 'an Item', body: { Item: { ...pk('TENANT#t1'), name: { S: 'x' } } }, keys: ['TENANT#t1'] },
    {
      why: 'the partition key equality of a key condition (named), not the sort key',
      body: { KeyConditionExpression: '#sk = :s AND #pk = :p', ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' }, ExpressionAttributeValues: { ':p': { S: 'EVENTS#t1' }, ':s': { S: 'E' } } },
      keys: ['EVENTS#t1'],
    },
    {
      why: 'an index query: the index partition key',
      body: { IndexName: 'due', KeyConditionExpression: 'duePk = :p AND dueAt <= :now', ExpressionAttributeValues: { ':p': { S: 'REAUTH' }, ':now': { S: '2026' } } },
      keys: ['REAUTH'],
    },
  ])('carries dynamodb:LeadingKeys from $why', ({ body, keys }) => {
    const [request] = iamRequestsFor({ service: 'dynamodb', operation: 'Query', params: { TableName: 't', ...body } }, where);
    expect(request!.context).toEqual({ 'dynamodb:LeadingKeys': keys });
  });

  it('gives each transaction item its own leading key', () => {
    const requests = iamRequestsFor(
      { service: 'dynamodb', operation: 'TransactWriteItems', params: { TransactItems: [{ Put: { TableName: 't', Item: pk('TENANT#a') } }, { Update: { TableName: 't', Key: pk('SESSION#b') } }] } },
      where,
    );
    expect(requests.map((r) => r.context['dynamodb:LeadingKeys'])).toEqual([['TENANT#a'], ['SESSION#b']]);
  });

  it('refuses an item request whose partition key it cannot read (ForAllValues would pass it)', () => {
    expect(() => iamRequestsFor({ service: 'dynamodb', operation: 'Scan', params: { TableName: 't' } }, where)).toThrow(/no partition key pk/);
  });

  it('refuses a service it cannot map', () => {
    expect(() => iamRequestsFor({ service: 'sqs', operation: 'SendMessage', params: {} }, where)).toThrow(/no IAM mapping for sqs:SendMessage/);
  });

  it('maps an S3 object call to the object ARN', () => {
    expect(iamRequestsFor({ service: 's3', operation: 'GetObject', params: { Bucket: 'b', Key: 't/1/x.xml' } }, where)).toEqual([
      { action: 's3:GetObject', resource: 'arn:aws:s3:::b/t/1/x.xml', context: {}, call: 's3:GetObject' },
    ]);
  });
});

describe('isAllowed', () => {
  const allow = (actions: string[], resources: string[], conditions: ResolvedStatement['conditions'] = {}): ResolvedStatement => ({
    effect: 'Allow',
    actions,
    resources,
    conditions,
  });
  const request = (action: string, resource: string, context: Record<string, string> = {}): IamRequest => ({ action, resource, context, call: action });
  const viaSecrets = {
    StringEquals: { 'kms:ViaService': ['secretsmanager.eu-central-1.amazonaws.com'] },
    StringLike: { 'kms:EncryptionContext:SecretARN': ['arn:aws:secretsmanager:eu-central-1:111122223333:secret:p/*'] },
  };
  const tenantKeys = { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['TENANT#*'] } };
  const keyed = (action: string, keys: string[]): IamRequest => ({ action, resource: TABLE, context: { 'dynamodb:LeadingKeys': keys }, call: action });
  const smContext = { 'kms:ViaService': 'secretsmanager.eu-central-1.amazonaws.com', 'kms:EncryptionContext:SecretARN': SECRET };

  it.each([
    { why: 'action and resource match', policy: [allow(['dynamodb:GetItem'], [TABLE])], req: request('dynamodb:GetItem', TABLE), allowed: true },
    { why: 'another action', policy: [allow(['dynamodb:GetItem'], [TABLE])], req: request('dynamodb:PutItem', TABLE), allowed: false },
    { why: 'actions match case-insensitively', policy: [allow(['DynamoDB:getitem'], [TABLE])], req: request('dynamodb:GetItem', TABLE), allowed: true },
    { why: 'the table grant does not cover its index', policy: [allow(['dynamodb:Query'], [TABLE])], req: request('dynamodb:Query', `${TABLE}/index/due`), allowed: false },
    { why: 'a prefix pattern covers a secret under it', policy: [allow(['secretsmanager:DeleteSecret'], ['arn:aws:secretsmanager:eu-central-1:111122223333:secret:p/*'])], req: request('secretsmanager:DeleteSecret', SECRET), allowed: true },
    { why: 'a prefix pattern does not cover another prefix', policy: [allow(['secretsmanager:DeleteSecret'], ['arn:aws:secretsmanager:eu-central-1:111122223333:secret:q/*'])], req: request('secretsmanager:DeleteSecret', SECRET), allowed: false },
    { why: 'KMS through Secrets Manager for a secret under the prefix', policy: [allow(['kms:Decrypt'], [where.secretsKeyArn], viaSecrets)], req: request('kms:Decrypt', where.secretsKeyArn, smContext), allowed: true },
    { why: 'the same KMS grant does not cover a direct call', policy: [allow(['kms:Decrypt'], [where.secretsKeyArn], viaSecrets)], req: request('kms:Decrypt', where.secretsKeyArn), allowed: false },
    { why: 'every leading key under an allowed prefix', policy: [allow(['dynamodb:GetItem'], [TABLE], tenantKeys)], req: keyed('dynamodb:GetItem', ['TENANT#t1']), allowed: true },
    { why: 'a leading key under another prefix', policy: [allow(['dynamodb:GetItem'], [TABLE], tenantKeys)], req: keyed('dynamodb:GetItem', ['STATE#h']), allowed: false },
    { why: 'one of several leading keys under another prefix', policy: [allow(['dynamodb:GetItem'], [TABLE], tenantKeys)], req: keyed('dynamodb:GetItem', ['TENANT#t1', 'EVENTS#t1']), allowed: false },
    { why: 'a prefix must match from the start', policy: [allow(['dynamodb:GetItem'], [TABLE], tenantKeys)], req: keyed('dynamodb:GetItem', ['X#TENANT#t1']), allowed: false },
    {
      why: 'an explicit Deny wins',
      policy: [allow(['dynamodb:*'], [TABLE]), { ...allow(['dynamodb:DeleteItem'], ['*']), effect: 'Deny' as const }],
      req: request('dynamodb:DeleteItem', TABLE),
      allowed: false,
    },
  ])('$why → $allowed', ({ policy, req, allowed }) => {
    expect(isAllowed(policy, req)).toBe(allowed);
  });

  it('does not guess at a condition operator it does not know', () => {
    expect(() => isAllowed([allow(['kms:Decrypt'], ['*'], { IpAddress: { 'aws:SourceIp': ['x'] } })], request('kms:Decrypt', 'k', { 'aws:SourceIp': 'x' }))).toThrow(/IpAddress/);
  });

  it('does not guess at ForAnyValue, nor at a multivalued key under a single-valued operator', () => {
    const key = { 'dynamodb:LeadingKeys': ['TENANT#*'] };
    expect(() => isAllowed([allow(['dynamodb:GetItem'], [TABLE], { 'ForAnyValue:StringLike': key })], keyed('dynamodb:GetItem', ['TENANT#a']))).toThrow(/ForAnyValue/);
    expect(() => isAllowed([allow(['dynamodb:GetItem'], [TABLE], { StringLike: key })], keyed('dynamodb:GetItem', ['TENANT#a']))).toThrow(/multivalued/);
  });

  it('applies a key policy statement to the principal it names, or (naming the account) to its principals under its conditions', () => {
    const ROLE = 'arn:aws:iam::111122223333:role/anaf-broker/dev/fn';
    const keyPolicy = [
      { ...allow(['kms:Decrypt'], ['*'], { ArnLike: { 'aws:PrincipalArn': ['arn:aws:iam::111122223333:role/anaf-broker/dev/*'] } }), principals: ['arn:aws:iam::111122223333:root'] },
      { ...allow(['kms:Encrypt'], ['*']), principals: ['arn:aws:iam::111122223333:role/other'] },
    ];
    expect(keyPolicyAllows(keyPolicy, ROLE, request('kms:Decrypt', where.secretsKeyArn))).toBe(true);
    expect(keyPolicyAllows(keyPolicy, 'arn:aws:iam::111122223333:role/admin', request('kms:Decrypt', where.secretsKeyArn))).toBe(false);
    expect(keyPolicyAllows(keyPolicy, ROLE, request('kms:Encrypt', where.secretsKeyArn))).toBe(false);
    expect(keyPolicyAllows(keyPolicy, 'arn:aws:iam::111122223333:role/other', request('kms:Encrypt', where.secretsKeyArn))).toBe(true);
  });

  it('matches IAM wildcards: * any run, ? one character, nothing else special', () => {
    expect(wildcardMatch('a*c', 'abbbc')).toBe(true);
    expect(wildcardMatch('a?c', 'abc')).toBe(true);
    expect(wildcardMatch('a?c', 'abbc')).toBe(false);
    expect(wildcardMatch('a.c', 'abc')).toBe(false);
  });
});
