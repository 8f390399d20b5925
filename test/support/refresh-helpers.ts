/**
 * Helpers for the refresh, sweep and disconnect integration tests (moto + the ANAF emulator over HTTP):
 * a second runtime on the same configuration whose adapters a test can wrap or whose clock it can move,
 * a tap on the EventBridge bus (a rule → an SQS queue in moto), capture of everything the process writes, and a child
 * process that runs one refresh and is SIGKILLed at a chosen step.
 */
import { spawn } from 'node:child_process';
import { CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { randomBytes } from 'node:crypto';
import { DeleteRuleCommand, EventBridgeClient, PutRuleCommand, PutTargetsCommand, RemoveTargetsCommand } from '@aws-sdk/client-eventbridge';
import { getConfig } from '../../shared/config/config.js';
import type { TokenPair, TokenRecord } from '../../shared/domain/model.js';
import { ALL_ADAPTERS } from '../../shared/runtime/adapters/index.js';
import { createRuntime } from '../../shared/runtime/runtime.js';
import type { ServiceDeps } from '../../shared/services/deps.js';
import type { AnafEmulator } from '../../local/anaf-emulator/server.js';
import { connect, setupTenant, type Api } from './stack.js';

/**
 * The service deps of a fresh runtime on the running stack's configuration (same table, secrets, bus
 * and ANAF), for in-process runs whose adapters a test wraps. Call after the stack has started.
 */
export function freshDeps(): ServiceDeps {
  return createRuntime(getConfig(), ALL_ADAPTERS).deps;
}

/** The same deps seen from a clock `ms` ahead (a later sweep, a lease that has expired). */
export function later(deps: ServiceDeps, ms: number): ServiceDeps {
  return { ...deps, clock: { now: () => new Date(Date.now() + ms) } };
}

/** Reads a token's stored record and pair straight from DynamoDB and Secrets Manager. */
export async function stored(tenantId: string, tokenId: string): Promise<{ record: TokenRecord; pair: TokenPair | null }> {
  const deps = freshDeps();
  const record = await deps.tokens.get(tenantId, tokenId);
  if (!record) throw new Error(`no token ${tenantId}/${tokenId}`);
  return { record, pair: await deps.secrets.getTokenPair(tenantId, tokenId) };
}

/**
 * Wraps one method of an adapter so that it throws on calls number `from`..`from+times-1` (1-based),
 * optionally after running the real call ("the write landed, then the process died").
 */
export function failing<T extends object, K extends keyof T>(
  target: T,
  method: K,
  options: { times?: number; from?: number; afterRealCall?: boolean } = {},
): T {
  const original = (target[method] as unknown as (...args: unknown[]) => Promise<unknown>).bind(target);
  const first = options.from ?? 1;
  const last = first + (options.times ?? Number.POSITIVE_INFINITY) - 1;
  let calls = 0;
  return {
    ...target,
    [method]: async (...args: unknown[]) => {
      calls += 1;
      if (calls < first || calls > last) return original(...args);
      if (options.afterRealCall) await original(...args);
      throw Object.assign(new Error(`injected failure in ${String(method)} (call ${calls})`), { name: 'InjectedFailure' });
    },
  } as T;
}

let certificates = 0;
/** Connects companies with a certificate of their own (a distinct `serial` makes a distinct token). */
export async function connectNew(api: Api, emulator: { control: { setCertificate(c: { serial: string; holder: string }): void } }, tenantId: string, cuis: string[]): Promise<string> {
  const n = ++certificates;
  emulator.control.setCertificate({ serial: `7e:${randomBytes(3).toString('hex').match(/../g)!.join(':')}:${(n % 256).toString(16).padStart(2, '0')}`, holder: `HOLDER ${n}` });
  const { tokenId } = await connect(api, tenantId, cuis);
  if (!tokenId) throw new Error(`connect failed for ${tenantId}`);
  return tokenId;
}

/**
 * A tenant with its companies registered and one token whose access token has 10 days left (inside the
 * 30-day margin): due for the sweep, a manual refresh and an on-demand one.
 */
export async function connectDueToken(
  stack: { api: Api; emulator: AnafEmulator | null },
  tenantId: string,
  cuis: string[],
): Promise<{ t: string; tokenId: string }> {
  const control = stack.emulator!.control;
  await setupTenant(stack.api, tenantId, cuis);
  control.setTokenLifetimes({ accessSeconds: 10 * 86_400 });
  const tokenId = await connectNew(stack.api, stack.emulator!, tenantId, cuis);
  control.setTokenLifetimes({ accessSeconds: 90 * 86_400 });
  return { t: tenantId, tokenId };
}

// ---------------------------------------------------------------- EventBridge → SQS (moto)
export interface BusEvent {
  source: string;
  'detail-type': string;
  detail: { tenantId: string; tokenId: string | null; cuis: string[]; at: string; connectUrl?: string; details?: Record<string, unknown> };
}

/**
 * Subscribes a fresh queue to every `anaf-broker` event on the bus; `events()` drains what arrived so
 * far (accumulated). Shows that the events really reach the bus, not only that PutEvents was called.
 */
export async function tapBus(busName = process.env.EVENT_BUS_NAME!): Promise<{ events(): Promise<BusEvent[]>; close(): Promise<void> }> {
  const name = `tap-${randomBytes(4).toString('hex')}`;
  const sqs = new SQSClient({});
  const { QueueUrl: queueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  const bridge = new EventBridgeClient({});
  await bridge.send(new PutRuleCommand({ Name: name, EventBusName: busName, EventPattern: JSON.stringify({ source: ['anaf-broker'] }) }));
  await bridge.send(new PutTargetsCommand({ Rule: name, EventBusName: busName, Targets: [{ Id: 'queue', Arn: Attributes!.QueueArn }] }));
  const seen: BusEvent[] = [];
  return {
    async events() {
      for (;;) {
        const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
        const messages = out.Messages ?? [];
        if (messages.length === 0) return [...seen];
        for (const m of messages) {
          seen.push(JSON.parse(m.Body!) as BusEvent);
          await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
        }
      }
    },
    async close() {
      await bridge.send(new RemoveTargetsCommand({ Rule: name, EventBusName: busName, Ids: ['queue'] }));
      await bridge.send(new DeleteRuleCommand({ Name: name, EventBusName: busName }));
      bridge.destroy();
      sqs.destroy();
    },
  };
}

// ---------------------------------------------------------------- output capture
/**
 * Collects everything this process writes to stdout and stderr (Powertools logs go there) until
 * `stop()`; passes it on only with `echo`.
 */
export function captureOutput(options: { echo?: boolean } = {}): { text(): string; stop(): void } {
  const chunks: string[] = [];
  const originals = { out: process.stdout.write, err: process.stderr.write };
  const tap = (original: typeof process.stdout.write) =>
    function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
      chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      if (options.echo) return (original as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
      const done = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      done?.();
      return true;
    } as typeof process.stdout.write;
  process.stdout.write = tap(originals.out);
  process.stderr.write = tap(originals.err);
  return {
    text: () => chunks.join(''),
    stop: () => {
      process.stdout.write = originals.out;
      process.stderr.write = originals.err;
    },
  };
}

/** Every value in `haystack` that contains one of `secrets` (none expected). */
export function leaks(haystack: string, secrets: string[]): string[] {
  return secrets.filter((s) => s.length > 0 && haystack.includes(s));
}

// ---------------------------------------------------------------- a refresh in a process that gets killed
export type KillPoint = 'before-anaf' | 'after-anaf-before-secret' | 'after-secret-before-metadata' | 'after-metadata-before-event';

/**
 * Runs one manual refresh of the token in a child process on the stack's environment and SIGKILLs it
 * at `point`: a real crash (no `finally`, the lease stays held). Resolves with the child's exit signal
 * and output once it is dead.
 */
export function refreshAndKill(input: { tenantId: string; tokenId: string; point: KillPoint }): Promise<{ signal: string | null; output: string }> {
  const script = `
    import { getConfig } from './shared/config/config.ts';
    import { ALL_ADAPTERS } from './shared/runtime/adapters/index.ts';
    import { createRuntime } from './shared/runtime/runtime.ts';
    import { refreshToken } from './shared/services/refresh.ts';
    const point = ${JSON.stringify(input.point)};
    const deps = createRuntime(getConfig(), ALL_ADAPTERS).deps;
    const die = () => process.kill(process.pid, 'SIGKILL');
    const wrap = (target, method, before) => {
      const original = target[method].bind(target);
      target[method] = async (...args) => {
        if (before) die();
        const out = await original(...args);
        die();
        return out;
      };
    };
    if (point === 'before-anaf') wrap(deps.secrets, 'getClientSecret', true);
    if (point === 'after-anaf-before-secret') wrap(deps.secrets, 'putTokenPair', true);
    if (point === 'after-secret-before-metadata') wrap(deps.secrets, 'putTokenPair', false);
    if (point === 'after-metadata-before-event') wrap(deps.tokens, 'replace', false);
    await refreshToken(deps, { tenantId: ${JSON.stringify(input.tenantId)}, tokenId: ${JSON.stringify(input.tokenId)}, trigger: 'manual' });
    process.stdout.write('NOT KILLED\\n');
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: new URL('../..', import.meta.url).pathname,
      env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'DEBUG' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('error', reject);
    child.once('exit', (_code, signal) => {
      clearTimeout(timer);
      resolve({ signal, output });
    });
  });
}

/** A valid CUI (control digit by ANAF's key 753217532) made from `base` (1 to 9 digits). */
export function cuiFrom(base: number): string {
  const digits = String(base);
  const padded = digits.padStart(9, '0');
  const sum = [...padded].reduce((acc, d, i) => acc + Number(d) * Number('753217532'[i]), 0);
  const control = ((sum * 10) % 11) % 10;
  return `${digits}${control}`;
}
