import { randomUUID } from 'node:crypto';
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../../shared/adapters/dynamodb/client.js';
import { CLIENT_SK, companySk, K, serialSk, tenantPk, tokenSk } from '../../shared/adapters/dynamodb/keys.js';
import { awsClientSettings } from '../../shared/config/aws-calls.js';
import { ENV } from '../../shared/config/env-names.js';
import { NON_HTTP_FUNCTIONS } from '../../shared/http/routes.js';
import { refreshWorstCaseMs } from '../../shared/services/refresh.js';
import { CUIS, pairObtainedByHand } from '../../test/support/stack.js';
import { bootstrapLocalResources } from '../bootstrap.js';
import { LOCAL_DEFAULTS } from '../defaults.js';
import { startCountingProxy, type AwsCallCounts } from './count-proxy.js';
import { answerOf, startHost, type HostReply } from './host.js';
import { connectedTenant, type BenchStack } from './invocations.js';
import { spread } from './stats.js';
import type { Row } from './table.js';

export interface SweepInput {
  stack: BenchStack;
  motoEndpoint: string;
  bundle: string;
  envFor: (fn: string) => Record<string, string>;
  /** Tokens per run; a fifth of them due. */
  sizes: number[];
  repeats: number;
  concurrency: number;
  anafLatencyMs: number;
  /** How long the sequential baseline run refreshes before its time budget stops it. */
  baselineMs: number;
  log: (line: string) => void;
}

const SWEEP_FN = NON_HTTP_FUNCTIONS.sweep;
/** Access tokens the emulator issues live 10 days: inside the 30-day margin, so a refreshed token is due again. */
const ACCESS_SECONDS = 10 * 86_400;
const DUE_SHARE = 5;
const PARALLEL_WRITES = 8;
/** A budget no sweep here reaches: the full run must never stop early. */
const UNBOUNDED_MS = 6 * 3_600_000;
const SCHEDULED_EVENT = { version: '0', id: 'bench', 'detail-type': 'Scheduled Event', source: 'aws.events', detail: {} };
const idOf = () => randomUUID().replace(/-/g, '');

/** Runs `work` over `items` with `limit` in flight. */
async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

/** BatchWrite in chunks of 25, several in flight, retrying what DynamoDB leaves unprocessed. */
async function batchPut(doc: DynamoDBDocumentClient, table: string, items: Record<string, unknown>[]): Promise<void> {
  const chunks: Record<string, unknown>[][] = [];
  for (let i = 0; i < items.length; i += 25) chunks.push(items.slice(i, i + 25));
  await pool(chunks, PARALLEL_WRITES, async (chunk) => {
    let requests: any[] = chunk.map((Item) => ({ PutRequest: { Item } }));
    while (requests.length) {
      const out = await doc.send(new BatchWriteCommand({ RequestItems: { [table]: requests } }));
      requests = out.UnprocessedItems?.[table] ?? [];
    }
  });
}

interface Template {
  items: Record<string, Record<string, unknown>>;
  clientSecret: string;
  pair: Record<string, unknown>;
}

/** A token connected through the real flow, read back raw: the shape every seeded token copies. */
async function template(stack: BenchStack, doc: DynamoDBDocumentClient, sm: SecretsManagerClient): Promise<Template> {
  const { tenantId, tokenId } = await connectedTenant(stack.api, 'sweep-template');
  const table = process.env[ENV.tableName]!;
  const prefix = process.env[ENV.secretPrefix]!;
  const out = await doc.send(new QueryCommand({ TableName: table, KeyConditionExpression: '#pk = :pk', ExpressionAttributeNames: { '#pk': K.partitionKey }, ExpressionAttributeValues: { ':pk': tenantPk(tenantId) }, ConsistentRead: true }));
  const items: Record<string, Record<string, unknown>> = {};
  for (const item of out.Items ?? []) items[String(item[K.sortKey]).split('#')[0]!] = item;
  for (const kind of [CLIENT_SK, 'COMPANY', 'TOKEN', 'SERIAL']) if (!items[kind]) throw new Error(`sweep template: no ${kind} item`);
  const secret = async (name: string) => (await sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSCURRENT' }))).SecretString!;
  return {
    items,
    clientSecret: await secret(`${prefix}${tenantId}/anaf-client`),
    pair: JSON.parse(await secret(`${prefix}${tenantId}/tokens/${tokenId}`)),
  };
}

interface Seeded {
  table: string;
  prefix: string;
  due: number;
  /** The due tokens' item keys, to make them due again before each counted run (`rearm`). */
  dueKeys: Array<Record<string, unknown>>;
  seedMs: number;
}

/**
 * Puts every due token back at the head of the due index (due a minute ago), as seeded. A refreshed token
 * is due again (its access token lives 10 days), at its new access expiry minus the sweep's lead: 31 days
 * ago. Without this, a run after another found the earlier run's tokens at a due time older than the one
 * its own refreshes gave, so each refreshed token was ahead of the query's cursor and the due query read
 * it a second time (2.00× items read per due token in every repeat but the first). With every token due
 * a minute ago, a token refreshed during the run lands behind the cursor, as a real 90-day token's next
 * due time (weeks ahead) lands outside the query.
 */
async function rearm(doc: DynamoDBDocumentClient, table: string, keys: Array<Record<string, unknown>>): Promise<void> {
  const at = new Date(Date.now() - 60_000).toISOString();
  await pool(keys, PARALLEL_WRITES, async (Key) => {
    await doc.send(new UpdateCommand({ TableName: table, Key, UpdateExpression: 'SET #d = :d', ExpressionAttributeNames: { '#d': K.dueSortKey }, ExpressionAttributeValues: { ':d': at } }));
  });
}

/**
 * Seeds `size` tokens into a table of their own, one tenant each, copies of the template: every fifth
 * is due now, with its tenant's client, company and serial pointer, a live pair at the emulator and its
 * secrets; the rest are due in 20 days and are their token item alone (the due pass never reads more of
 * them, and moto's Query walks and sorts every item of a table: see the README's "Performance").
 */
async function seed(stack: BenchStack, tpl: Template, size: number, doc: DynamoDBDocumentClient, sm: SecretsManagerClient, kmsKeyId: string | undefined): Promise<Seeded> {
  const started = performance.now();
  const table = `bench-sweep-${size}-${Date.now().toString(36)}`;
  const prefix = `anaf-broker/bench-${size}-${Date.now().toString(36)}/`;
  await bootstrapLocalResources({ tableName: table, eventBusName: process.env[ENV.eventBusName]!, kmsAlias: LOCAL_DEFAULTS.kmsAlias, invoiceBucketName: process.env[ENV.invoiceBucketName]! });
  const due = Math.max(1, Math.floor(size / DUE_SHARE));
  const now = Date.now();
  const pairs: Array<{ accessToken: string; refreshToken: string }> = [];
  await pool(Array.from({ length: due }, (_, i) => i), 16, async (i) => {
    pairs[i] = await pairObtainedByHand(stack.emulator);
  });
  const items: Record<string, unknown>[] = [];
  const dueKeys: Array<Record<string, unknown>> = [];
  const secrets: Array<{ name: string; value: string; versionId: string }> = [];
  const [client, company, token, serial] = [CLIENT_SK, 'COMPANY', 'TOKEN', 'SERIAL'].map((kind) => tpl.items[kind]!) as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>, Record<string, unknown>];
  for (let i = 0; i < size; i++) {
    const tenantId = `sw${size}-${i}`;
    const tokenId = idOf();
    const pk = tenantPk(tenantId);
    const isDue = i < due;
    const versionId = randomUUID();
    items.push({
      ...token,
      [K.partitionKey]: pk,
      [K.sortKey]: tokenSk(tokenId),
      tenantId,
      tokenId,
      [K.dueSortKey]: new Date(isDue ? now - 60_000 : now + 20 * 86_400_000).toISOString(),
      secretVersionId: isDue ? versionId : null,
      rotations: [],
    });
    if (isDue) {
      dueKeys.push({ [K.partitionKey]: pk, [K.sortKey]: tokenSk(tokenId) });
      items.push(
        { ...client, [K.partitionKey]: pk, [K.sortKey]: CLIENT_SK, tenantId },
        { ...company, [K.partitionKey]: pk, [K.sortKey]: companySk(CUIS[0]), tenantId, tokenId },
        { ...serial, [K.partitionKey]: pk, [K.sortKey]: serialSk(String(token.serial)), tenantId, tokenId },
      );
    }
    if (isDue) {
      secrets.push({ name: `${prefix}${tenantId}/anaf-client`, value: tpl.clientSecret, versionId: randomUUID() });
      secrets.push({ name: `${prefix}${tenantId}/tokens/${tokenId}`, value: JSON.stringify({ ...tpl.pair, ...pairs[i] }), versionId });
    }
  }
  await batchPut(doc, table, items);
  await pool(secrets, PARALLEL_WRITES, async (s) => {
    await sm.send(new CreateSecretCommand({ Name: s.name, SecretString: s.value, KmsKeyId: kmsKeyId, ClientRequestToken: s.versionId }));
  });
  return { table, prefix, due, dueKeys, seedMs: performance.now() - started };
}

/** The three call shapes with the most round-trip time, per due token (what moto spends the run on). */
function whereTheTimeGoes(counts: AwsCallCounts, due: number): string {
  return Object.entries(counts.msByShape)
    .sort(([, a], [, b]) => b - a)
    .slice(0, 3)
    .map(([shape, ms]) => `${shape.replace(/^DynamoDB_\d+\./, 'DynamoDB.')} ×${(counts.calls[shape]! / due).toFixed(1)} ${(ms / due).toFixed(0)} ms`)
    .join(', ');
}

/** Shapes of the calls that come after the due pass: the Secrets Manager reconciliation and the health gauges. */
const afterDuePass = (shape: string) => shape === 'secretsmanager.ListSecrets' || (shape.includes('Query') && shape.includes(' = :p'));
const isDueLookup = (shape: string) => shape.includes('Query') && shape.includes('<=');

interface SweepRun {
  reply: HostReply;
  summary: any;
  counts: AwsCallCounts;
  /** From the handler's start to the first call after the due pass (or its end). */
  duePassMs: number;
}

/**
 * Section 3. Per size: seed, then per repeat a sequential run stopped by its time budget (the
 * per-token store + ANAF time) and a full run at `concurrency`, each in a fresh process of the sweep
 * bundle, its AWS calls counted by a proxy in front of moto.
 */
export async function sweepSection(input: SweepInput): Promise<Row[]> {
  const { stack } = input;
  const doc = createDocumentClient();
  const sm = new SecretsManagerClient(awsClientSettings());
  const proxy = await startCountingProxy(input.motoEndpoint);
  const control = stack.emulator.control;
  const rows: Row[] = [];
  const perSize: Array<{ size: number; due: number; msPerDue: number; peakRssMb: number }> = [];
  try {
    control.setTokenLifetimes({ accessSeconds: ACCESS_SECONDS });
    const tpl = await template(stack, doc, sm);
    for (const size of input.sizes) {
      control.setLatency(0);
      const seeded = await seed(stack, tpl, size, doc, sm, process.env[ENV.secretsKmsKeyId]);
      input.log(`sweep: seeded ${size} tokens (${seeded.due} due) in ${(seeded.seedMs / 1000).toFixed(1)} s`);
      rows.push({ section: 'sweep', measure: `${size} tokens: seeding (BatchWrite, ${PARALLEL_WRITES} in flight, + secrets of due tokens)`, figure: spread([seeded.seedMs]), unit: 'ms' });
      control.setLatency(input.anafLatencyMs);
      const env = (concurrency: number) => ({
        ...input.envFor(SWEEP_FN),
        [ENV.tableName]: seeded.table,
        [ENV.secretPrefix]: seeded.prefix,
        [ENV.sweepConcurrency]: String(concurrency),
        AWS_ENDPOINT_URL: proxy.endpoint,
      });
      const reserveMs = refreshWorstCaseMs({ anafTimeoutMs: Number(input.envFor(SWEEP_FN)[ENV.anafTimeoutMs]) });
      /** One sweep in a fresh process; `warmUp` first runs a short sweep there, untimed and uncounted. */
      const run = async (concurrency: number, budgetMs?: number, warmUp = false): Promise<SweepRun> => {
        const host = startHost(input.bundle, env(concurrency));
        try {
          if (warmUp) answerOf(await host.invoke(SCHEDULED_EVENT, reserveMs + 1), host, SWEEP_FN);
          await rearm(doc, seeded.table, seeded.dueKeys);
          proxy.reset();
          const reply = await host.invoke(SCHEDULED_EVENT, budgetMs);
          const summary = answerOf(reply, host, SWEEP_FN);
          const counts = proxy.counts();
          const after = Object.entries(counts.firstAt).filter(([shape]) => afterDuePass(shape)).map(([, at]) => at);
          const duePassMs = after.length ? Math.min(...after) - reply.startedAt : reply.ms;
          return { reply, summary, counts, duePassMs };
        } finally {
          await host.close();
        }
      };
      const perToken: number[] = [];
      const throughput: number[] = [];
      const ratio: number[] = [];
      const dueLookup: number[] = [];
      const allItems: number[] = [];
      const totalMs: number[] = [];
      const rss: number[] = [];
      const heap: number[] = [];
      const slowest: string[] = [];
      for (let r = 0; r < input.repeats; r++) {
        // Both warm: per-token times of a running container, not of its first SDK calls.
        const base = await run(1, reserveMs + input.baselineMs, true);
        if (base.summary.refreshed < 1) throw new Error(`sweep baseline refreshed nothing: ${JSON.stringify(base.summary)}`);
        const subject = await run(input.concurrency, UNBOUNDED_MS, true);
        const s = subject.summary;
        if (s.due !== seeded.due || s.refreshed !== seeded.due) throw new Error(`sweep of ${size}: expected ${seeded.due} due and refreshed, got ${JSON.stringify(s)}`);
        const tokenMs = base.duePassMs / base.summary.refreshed;
        const rate = (s.refreshed / subject.duePassMs) * 1000;
        perToken.push(tokenMs);
        throughput.push(rate);
        ratio.push(rate / ((input.concurrency / tokenMs) * 1000));
        const lookup = Object.entries(subject.counts.indexReadsByShape).filter(([shape]) => isDueLookup(shape)).reduce((sum, [, v]) => sum + v, 0);
        dueLookup.push(lookup / s.due);
        allItems.push(subject.counts.itemsRead / s.due);
        totalMs.push(subject.reply.ms);
        rss.push(subject.reply.maxRssKb / 1024);
        heap.push(subject.reply.heapUsedBytes / 1024 / 1024);
        slowest.push(whereTheTimeGoes(subject.counts, s.due));
        if (subject.counts.scans) throw new Error(`sweep of ${size} scanned the table ${subject.counts.scans} times`);
        input.log(`sweep ${size}: repeat ${r + 1}/${input.repeats}: ${rate.toFixed(1)} tokens/s, ${tokenMs.toFixed(0)} ms per token alone`);
      }
      const tag = `${size} tokens, ${seeded.due} due`;
      const ms = spread(totalMs);
      const peak = spread(rss);
      rows.push(
        { section: 'sweep', measure: `${tag}: store + ANAF time per token, sequential`, figure: spread(perToken), unit: 'ms', note: `ANAF latency ${input.anafLatencyMs} ms` },
        { section: 'sweep', measure: `${tag}: tokens refreshed per second, concurrency ${input.concurrency}`, figure: spread(throughput), unit: '/s', note: 'due pass only (up to the reconciliation)' },
        { section: 'sweep', measure: `${tag}: throughput ÷ ideal (concurrency ÷ per-token time)`, figure: spread(ratio), unit: '×', goal: { op: '>=', value: 0.85 } },
        { section: 'sweep', measure: `${tag}: due-index items read ÷ due tokens`, figure: spread(dueLookup), unit: '×', goal: { op: '==', value: 1 }, note: 'ScannedCount of the due queries; no Scan (a scan fails the run)' },
        { section: 'sweep', measure: `${tag}: all DynamoDB items read ÷ due tokens`, figure: spread(allItems), unit: '×', note: 'per-token reads, the reconciliation, the health gauges' },
        { section: 'sweep', measure: `${tag}: whole handler (due pass, reconciliation, health)`, figure: ms, unit: 'ms', note: `AWS time per due token, slowest calls: ${slowest.at(-1)}` },
        { section: 'sweep', measure: `${tag}: peak RSS of the sweep process`, figure: peak, unit: 'MB', note: `heap after ${spread(heap).median.toFixed(1)} MB` },
      );
      perSize.push({ size, due: seeded.due, msPerDue: ms.median / seeded.due, peakRssMb: peak.median });
      // moto keeps every table in one process: a big table left behind would slow what runs next.
      await doc.send(new DeleteTableCommand({ TableName: seeded.table }));
    }
    if (perSize.length > 1) {
      const first = perSize[0]!;
      for (const later of perSize.slice(1)) {
        rows.push(
          { section: 'sweep', measure: `ms per due token, ${later.size} ÷ ${first.size} tokens`, figure: spread([later.msPerDue / first.msPerDue]), unit: '×', note: 'flat (≈1) when time grows with due tokens only' },
          { section: 'sweep', measure: `peak RSS, ${later.size} ÷ ${first.size} tokens`, figure: spread([later.peakRssMb / first.peakRssMb]), unit: '×', note: 'flat (≈1) when memory does not grow with the table' },
        );
      }
    }
  } finally {
    control.setLatency(0);
    control.setTokenLifetimes({ accessSeconds: 90 * 86_400 });
    await proxy.close();
    doc.destroy();
    sm.destroy();
  }
  return rows;
}
