import { randomUUID } from 'node:crypto';
import { CreateSecretCommand, GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetCommand, PutCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../../shared/adapters/dynamodb/client.js';
import { CLIENT_SK, companySk, K, key, tenantPk, tokenSk } from '../../shared/adapters/dynamodb/keys.js';
import { awsClientSettings } from '../../shared/config/aws-calls.js';
import { ENV } from '../../shared/config/env-names.js';
import { NON_HTTP_FUNCTIONS } from '../../shared/http/routes.js';
import { CUIS, EMULATOR_DEFAULT_CLIENT, pairObtainedByHand, setupTenant } from '../../test/support/stack.js';
import { startCountingProxy } from './count-proxy.js';
import { answerOf, startHost, type LambdaHost } from './host.js';
import { benchTenant, callbackQuery, connectedTenant, type BenchStack } from './invocations.js';
import { routeEvent } from '../bundles.js';
import { pairedRatios, spread } from './stats.js';
import type { Row } from './table.js';

export interface OverheadInput {
  stack: BenchStack;
  motoEndpoint: string;
  bundles: Map<string, string>;
  envFor: (fn: string) => Record<string, string>;
  repeats: number;
  log: (line: string) => void;
}

/** The round trips one request cannot do without, issued directly; answers their summed time in ms. */
type Baseline = () => Promise<number>;

/** Times one awaited call, ms. */
async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

const CALLBACK_FN = 'oauth-callback';
const ACCESS_TOKEN_FN = 'access-token-get';
const MANUAL_REFRESH_FN = NON_HTTP_FUNCTIONS.manualRefresh;

/** The local stack's resources, as the functions read them. */
function resources() {
  return { table: process.env[ENV.tableName]!, prefix: process.env[ENV.secretPrefix]!, kmsKeyId: process.env[ENV.secretsKmsKeyId] };
}

/** ANAF's token endpoint (the emulator), called the way the OAuth adapter calls it. */
async function tokenCall(oauthBaseUrl: string, form: Record<string, string>): Promise<{ access_token: string; refresh_token: string }> {
  const { clientId, clientSecret } = EMULATOR_DEFAULT_CLIENT;
  const res = await fetch(`${oauthBaseUrl}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...form, token_content_type: 'jwt' }),
  });
  if (res.status !== 200) throw new Error(`baseline token call: ${res.status} ${await res.text()}`);
  return (await res.json()) as { access_token: string; refresh_token: string };
}

/** A fresh authorization code of the emulator for `redirectUri` (setup, not timed). */
async function freshCode(oauthBaseUrl: string, redirectUri: string): Promise<string> {
  const query = new URLSearchParams({ response_type: 'code', client_id: EMULATOR_DEFAULT_CLIENT.clientId, redirect_uri: redirectUri, token_content_type: 'jwt', state: randomUUID() });
  const res = await fetch(`${oauthBaseUrl}/authorize?${query}`, { redirect: 'manual' });
  return new URL(res.headers.get('location')!).searchParams.get('code')!;
}

async function rawItem(doc: DynamoDBDocumentClient, table: string, pk: string, sk: string): Promise<Record<string, unknown>> {
  const out = await doc.send(new GetCommand({ TableName: table, Key: key(pk, sk), ConsistentRead: true }));
  if (!out.Item) throw new Error(`baseline setup: no item ${pk} ${sk}`);
  return out.Item;
}

/**
 * The baselines, on items of their own shaped like the real ones (copies of a connected tenant's client,
 * company and token items), through the same SDK clients the functions build.
 */
async function baselines(stack: BenchStack, tenant: { tenantId: string; tokenId: string }): Promise<Record<string, Baseline>> {
  const { table, prefix, kmsKeyId } = resources();
  const doc = createDocumentClient();
  const sm = new SecretsManagerClient(awsClientSettings());
  const oauth = stack.emulator.oauthBaseUrl;
  const pk = tenantPk(tenant.tenantId);
  const tokenItem = await rawItem(doc, table, pk, tokenSk(tenant.tokenId));
  const companyItem = await rawItem(doc, table, pk, companySk(CUIS[0]));
  const clientSecretName = `${prefix}${tenant.tenantId}/anaf-client`;
  const pairSecretName = `${prefix}${tenant.tenantId}/tokens/${tenant.tokenId}`;
  const readClient = async () => {
    await doc.send(new GetCommand({ TableName: table, Key: key(pk, CLIENT_SK), ConsistentRead: true }));
    await sm.send(new GetSecretValueCommand({ SecretId: clientSecretName, VersionStage: 'AWSCURRENT' }));
  };

  // The manual refresh's baseline rotates a grant chain of its own, so the function's token is not touched.
  let chain = await pairObtainedByHand(stack.emulator);
  const scratch = benchTenant('baseline');
  const scratchPk = tenantPk(scratch);
  const refreshSecret = `${prefix}${scratch}/tokens/refresh`;
  await sm.send(new CreateSecretCommand({ Name: refreshSecret, SecretString: JSON.stringify(chain), KmsKeyId: kmsKeyId }));
  const refreshRecord = { ...tokenItem, [K.partitionKey]: scratchPk, [K.sortKey]: tokenSk('refresh'), version: 1 };
  await doc.send(new PutCommand({ TableName: table, Item: refreshRecord }));
  let version = 1;

  return {
    [CALLBACK_FN]: async () => {
      const id = randomUUID();
      const redirectUri = `${stack.apiUrl}/v1/oauth/callback`;
      const statePk = `STATE#bench-${id}`;
      const sessionPk = `SESSION#bench-${id}`;
      await doc.send(new PutCommand({ TableName: table, Item: { ...key(statePk, 'STATE'), tenantId: scratch, sessionId: id, cuis: [CUIS[0]], expiresAt: new Date(Date.now() + 600_000).toISOString() } }));
      await doc.send(new PutCommand({ TableName: table, Item: { ...key(sessionPk, 'SESSION'), tenantId: scratch, cuis: [CUIS[0]] } }));
      await doc.send(new PutCommand({ TableName: table, Item: { ...companyItem, [K.partitionKey]: scratchPk, [K.sortKey]: companySk(id) } }));
      const code = await freshCode(oauth, redirectUri);
      const names = { '#pk': K.partitionKey };
      return (
        (await timed(() =>
          doc.send(
            new UpdateCommand({
              TableName: table,
              Key: key(statePk, 'STATE'),
              UpdateExpression: 'SET consumedAt = :at',
              ConditionExpression: 'attribute_exists(#pk) AND (attribute_not_exists(consumedAt) OR attribute_type(consumedAt, :null))',
              ExpressionAttributeNames: names,
              ExpressionAttributeValues: { ':at': new Date().toISOString(), ':null': 'NULL' },
              ReturnValues: 'ALL_NEW',
            }),
          ),
        )) +
        (await timed(readClient)) +
        (await timed(async () => {
          const pair = await tokenCall(oauth, { grant_type: 'authorization_code', code, redirect_uri: redirectUri });
          await sm.send(new CreateSecretCommand({ Name: `${prefix}${scratch}/tokens/${id}`, SecretString: JSON.stringify(pair), KmsKeyId: kmsKeyId }));
        })) +
        (await timed(() =>
          doc.send(
            new TransactWriteCommand({
              TransactItems: [
                { Put: { TableName: table, Item: { ...tokenItem, [K.partitionKey]: scratchPk, [K.sortKey]: tokenSk(id), tokenId: id }, ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: names } },
                { Put: { TableName: table, Item: { ...key(scratchPk, `SERIAL#${id}`), tenantId: scratch, tokenId: id }, ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: names } },
                {
                  Update: {
                    TableName: table,
                    Key: key(scratchPk, companySk(id)),
                    UpdateExpression: 'SET tokenId = :t, updatedAt = :at',
                    ConditionExpression: 'attribute_exists(#pk)',
                    ExpressionAttributeNames: names,
                    ExpressionAttributeValues: { ':t': id, ':at': new Date().toISOString() },
                  },
                },
                {
                  Update: {
                    TableName: table,
                    Key: key(sessionPk, 'SESSION'),
                    UpdateExpression: 'SET completedAt = :at, tokenId = :t',
                    ConditionExpression: 'attribute_exists(#pk)',
                    ExpressionAttributeNames: names,
                    ExpressionAttributeValues: { ':at': new Date().toISOString(), ':t': id },
                  },
                },
              ],
            }),
          ),
        ))
      );
    },
    [ACCESS_TOKEN_FN]: () =>
      timed(async () => {
        await doc.send(new GetCommand({ TableName: table, Key: key(pk, companySk(CUIS[0])), ConsistentRead: true }));
        await sm.send(new GetSecretValueCommand({ SecretId: pairSecretName, VersionStage: 'AWSCURRENT' }));
      }),
    [MANUAL_REFRESH_FN]: () =>
      timed(async () => {
        const owner = randomUUID();
        const now = new Date();
        await doc.send(
          new UpdateCommand({
            TableName: table,
            Key: key(scratchPk, tokenSk('refresh')),
            UpdateExpression: 'SET leaseOwner = :o, leaseExpiresAt = :e',
            ConditionExpression: 'attribute_exists(#pk) AND (attribute_not_exists(leaseOwner) OR attribute_type(leaseOwner, :null) OR leaseExpiresAt < :now)',
            ExpressionAttributeNames: { '#pk': K.partitionKey },
            ExpressionAttributeValues: { ':o': owner, ':e': new Date(now.getTime() + 30_000).toISOString(), ':now': now.toISOString(), ':null': 'NULL' },
            ReturnValues: 'ALL_NEW',
          }),
        );
        await readClient();
        await sm.send(new GetSecretValueCommand({ SecretId: refreshSecret, VersionStage: 'AWSCURRENT' }));
        const next = await tokenCall(oauth, { grant_type: 'refresh_token', refresh_token: chain.refreshToken });
        chain = { accessToken: next.access_token, refreshToken: next.refresh_token };
        await sm.send(new PutSecretValueCommand({ SecretId: refreshSecret, SecretString: JSON.stringify(chain) }));
        await doc.send(
          new PutCommand({
            TableName: table,
            Item: { ...refreshRecord, version: version + 1, leaseOwner: null, leaseExpiresAt: null },
            ConditionExpression: '#version = :v AND leaseOwner = :o',
            ExpressionAttributeNames: { '#version': 'version' },
            ExpressionAttributeValues: { ':v': version, ':o': owner },
          }),
        );
        version += 1;
      }),
  };
}

/** What the baseline of each function is made of (the table's notes say it). */
const UNAVOIDABLE: Record<string, string> = {
  [CALLBACK_FN]: 'state consume, client read (item + secret), code exchange, secret write, metadata transaction',
  [ACCESS_TOKEN_FN]: 'company read, pair secret read',
  [MANUAL_REFRESH_FN]: 'lease, client read (item + secret), pair read, ANAF refresh, secret write, record write',
};

/**
 * Section 2. Each function's bundle in a warm host (one untimed invocation first), against the round
 * trips it cannot avoid issued directly from this process; subject and baseline alternate.
 */
export async function overheadSection(input: OverheadInput): Promise<Row[]> {
  const { stack } = input;
  const { api } = stack;
  const read = await connectedTenant(api, 'overhead');
  const manual = await connectedTenant(api, 'overhead-manual');
  const baseline = await baselines(stack, read);
  const http = (method: string, path: string) => routeEvent(stack.apiUrl, method, path);
  const events: Record<string, () => Promise<unknown>> = {
    [CALLBACK_FN]: async () => {
      const tenantId = benchTenant('overhead-callback');
      await setupTenant(api, tenantId, [CUIS[4]]);
      return http('GET', `/v1/oauth/callback${await callbackQuery(stack, tenantId, CUIS[4])}`);
    },
    [ACCESS_TOKEN_FN]: async () => http('GET', `/v1/tenants/${read.tenantId}/companies/${CUIS[0]}/access-token`),
    [MANUAL_REFRESH_FN]: async () => ({ tenantId: manual.tenantId, tokenId: manual.tokenId }),
  };
  const check = (fn: string, answer: any) => {
    const failed = fn === MANUAL_REFRESH_FN ? answer?.tokenId !== manual.tokenId : !(answer?.statusCode < 400);
    if (failed) throw new Error(`${fn}: not a success: ${JSON.stringify(answer).slice(0, 500)}`);
  };
  const rows: Row[] = [];
  const proxy = await startCountingProxy(input.motoEndpoint);
  try {
    for (const fn of [CALLBACK_FN, ACCESS_TOKEN_FN, MANUAL_REFRESH_FN]) rows.push(await measure(fn));
  } finally {
    await proxy.close();
  }
  return rows;

  /** Which calls one warm invocation makes, from a host of its own behind the counting proxy (not timed). */
  async function callsOf(fn: string): Promise<string> {
    const host = startHost(input.bundles.get(fn)!, { ...input.envFor(fn), AWS_ENDPOINT_URL: proxy.endpoint });
    try {
      check(fn, answerOf(await host.invoke(await events[fn]!()), host, fn));
      const event = await events[fn]!();
      const before = stack.emulator.control.stats().tokenCalls;
      proxy.reset();
      check(fn, answerOf(await host.invoke(event), host, fn));
      const after = stack.emulator.control.stats().tokenCalls;
      const anaf = after.authorization_code + after.refresh_token - before.authorization_code - before.refresh_token;
      const byTarget = new Map<string, number>();
      for (const [shape, count] of Object.entries(proxy.counts().calls)) {
        const target = shape.split(' ')[0]!.replace(/^DynamoDB_\d+\./, 'DynamoDB.');
        byTarget.set(target, (byTarget.get(target) ?? 0) + count);
      }
      const total = [...byTarget.values()].reduce((a, b) => a + b, 0);
      return `${total} AWS calls (${[...byTarget].map(([target, count]) => `${target}×${count}`).join(', ')}) + ${anaf} ANAF`;
    } finally {
      await host.close();
    }
  }

  async function measure(fn: string): Promise<Row> {
    const host: LambdaHost = startHost(input.bundles.get(fn)!, input.envFor(fn));
    try {
      check(fn, answerOf(await host.invoke(await events[fn]!()), host, fn));
      await baseline[fn]!();
      const subject: number[] = [];
      const base: number[] = [];
      for (let r = 0; r < input.repeats; r++) {
        const reply = await host.invoke(await events[fn]!());
        check(fn, answerOf(reply, host, fn));
        subject.push(reply.ms);
        base.push(await baseline[fn]!());
      }
      const made = await callsOf(fn);
      input.log(`overhead: ${fn} done`);
      return {
        section: 'overhead',
        measure: `${fn}: server time ÷ unavoidable round trips`,
        figure: spread(pairedRatios(subject, base)),
        unit: '×',
        goal: { op: '<=', value: 1.15 },
        note: `${spread(subject).median.toFixed(1)} ms vs ${spread(base).median.toFixed(1)} ms; unavoidable: ${UNAVOIDABLE[fn]}; made: ${made}`,
      };
    } finally {
      await host.close();
    }
  }
}
