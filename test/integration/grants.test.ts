/**
 * The code's AWS actions are the role's AWS actions. moto enforces no IAM, so a call the role lacks
 * passes every other test and fails in AWS (silently, where a `.catch` swallows it). Here each handler
 * module runs in this process, as Lambda would call it, once per code path in PATHS (failure, race and
 * cleanup paths included), with a middleware on the runtime's SDK clients recording every action sent.
 * Each recorded action (a transaction as its item actions, a secret read or write with the KMS use
 * Secrets Manager makes on the caller's behalf) must be allowed by the policy the synthesized service
 * stack gives that function's role (a KMS request also by the secrets key's policy), and every action a
 * role is granted must be used by some path.
 *
 * A new AWS call on a path that is here needs only its grant in infra/permissions.ts; a new path needs
 * an entry in PATHS (or a scenario in REFRESH_SCENARIOS, run through every refresh entry point).
 */
import { DeleteSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FUNCTION_PROFILES } from '../../infra/function-profiles.js';
import { apiGatewayEvent, lambdaContext, matchRoute } from '../../local/gateway.js';
import type { RouteDef } from '../../shared/http/routes.js';
import { FUNCTION_NAMES } from '../../shared/http/routes.js';
import { getRuntime, type Runtime } from '../../shared/runtime/runtime.js';
import { ALL_ADAPTERS } from '../../shared/runtime/adapters/index.js';
import type { ServiceDeps } from '../../shared/services/deps.js';
import type { StoredPair } from '../../shared/ports.js';
import { functionRolePath, invoiceBucketName } from '../../infra/names.js';
import { LOCAL_DEFAULTS } from '../../local/defaults.js';
import { isAllowed, keyPolicyAllows, matchingStatements, resolvedKeyPolicy, resolvedPolicy, wildcardMatch, type LocalResources, type ResolvedStatement } from '../infra/policy.js';
import { synthStage } from '../infra/synth.js';
import { createActionRecorder, iamRequestsFor, type IamRequest } from '../support/aws-actions.js';
import { connectDueToken, connectNew, freshDeps, stored } from '../support/refresh-helpers.js';
import { CUIS, EMULATOR_DEFAULT_CLIENT, setupTenant, startTestStack } from '../support/stack.js';

type Stack = Awaited<ReturnType<typeof startTestStack>>;
let stack: Stack;
let runtime: Runtime;
let local: LocalResources;
const policies = new Map<string, ResolvedStatement[]>();
/** The secrets key's own policy: a KMS request needs it as well as the role's. */
let keyPolicy: ReturnType<typeof resolvedKeyPolicy>;
/** A function's role ARN as AWS gives it (the path the stack sets, then the role's name). */
const roleArn = (fn: string) => `arn:aws:iam::${ACCOUNT}:role${functionRolePath('dev')}${fn}`;
const recorder = createActionRecorder();
/** Every IAM request each function made, over all paths (for the unused-grant check). */
const exercised = new Map<string, IamRequest[]>();

/** moto's account; any fixed value would do, as both the policy and the requests are resolved with it. */
const ACCOUNT = '123456789012';
const DAY_S = 86_400;
/** Lambda writes a function's logs with its role; the code itself never calls CloudWatch Logs. */
const RUNTIME_ACTIONS = new Set(['logs:CreateLogStream', 'logs:PutLogEvents']);
const LEADING_KEYS = 'dynamodb:LeadingKeys';

let n = 0;
const tenant = () => `g${++n}-${Date.now().toString(36)}`;
const control = () => stack.emulator!.control;

beforeAll(async () => {
  // The bucket under the name the synthesized dev stage gives it in moto's account, so its grants resolve to it.
  stack = await startTestStack({ MANUAL_REFRESH_COOLDOWN_SECONDS: '0', INVOICE_BUCKET_NAME: invoiceBucketName('dev', ACCOUNT, LOCAL_DEFAULTS.region) });
  // The runtime the handlers use (the gateway's too): its clients get the recorder.
  runtime = getRuntime(...ALL_ADAPTERS);
  recorder.attach(Object.values(runtime.clients));
  const region = process.env.AWS_REGION!;
  const keyId = process.env.SECRETS_KMS_KEY_ID;
  local = {
    region,
    account: ACCOUNT,
    tableName: process.env.TABLE_NAME!,
    eventBusName: process.env.EVENT_BUS_NAME!,
    secretsKeyArn: keyId?.startsWith('arn:') ? keyId : `arn:aws:kms:${region}:${ACCOUNT}:key/${keyId ?? 'secrets-key'}`,
  };
  // The stage the local stack mirrors: its secret prefix, so the policy's ARN patterns name the same secrets.
  const synthesized = synthStage({ stage: 'dev', secretPrefix: process.env.SECRET_PREFIX! });
  for (const fn of FUNCTION_NAMES) policies.set(fn, resolvedPolicy(synthesized, fn, local));
  keyPolicy = resolvedKeyPolicy(synthesized, local);
});
afterAll(async () => {
  await stack?.stop();
});
beforeEach(() => {
  control().reset();
});

// ---------------------------------------------------------------- invoking handlers as Lambda does
type Handler = (event: unknown, context: Context) => Promise<any>;
const handlers = new Map<string, Promise<Handler>>();
const load = (fn: string): Promise<Handler> => {
  let handler = handlers.get(fn);
  if (!handler) {
    handler = import(`../../functions/${fn}/handler.ts`).then((m: { handler: Handler }) => m.handler);
    handlers.set(fn, handler);
  }
  return handler;
};

/** Calls function `fn`'s handler with `event` and a context of its configured timeout, recording its AWS calls as `fn`'s. */
async function invoke(fn: string, event: unknown): Promise<any> {
  const handler = await load(fn);
  const deadline = Date.now() + FUNCTION_PROFILES[fn]!.timeoutSeconds * 1000;
  const context: Context = { ...lambdaContext(fn), getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) };
  return recorder.as(fn, () => handler(event, context));
}

interface HttpAnswer {
  status: number;
  body: any;
  location?: string;
}

/** A request on the route table, straight into its handler with the event API Gateway would send (IAM auth is API Gateway's). */
async function http(method: RouteDef['method'], path: string, body?: unknown, xml?: { body: string; headers?: Record<string, string> }): Promise<HttpAnswer> {
  const url = new URL(path, stack.apiUrl);
  const route = matchRoute(method, url.pathname);
  if (!route) throw new Error(`no route ${method} ${url.pathname}`);
  const raw = xml ? Buffer.from(xml.body) : body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const headers = xml ? { 'content-type': 'application/xml', ...xml.headers } : raw ? { 'content-type': 'application/json' } : {};
  const event = apiGatewayEvent(route, { url, headers, body: raw });
  const result = (await invoke(route.fn, event)) as { statusCode: number; body?: string; headers?: Record<string, string> };
  let parsed: unknown = result.body;
  try {
    parsed = result.body ? JSON.parse(result.body) : undefined;
  } catch {
    // an HTML page
  }
  return { status: result.statusCode, body: parsed, location: result.headers?.location };
}

/** Runs `work` with some of the shared runtime's adapters (or its clock) replaced, then puts them back. */
async function withDeps<T>(patch: Partial<ServiceDeps>, work: () => Promise<T>): Promise<T> {
  const deps = runtime.deps as unknown as Record<string, unknown>;
  const saved = Object.fromEntries(Object.keys(patch).map((k) => [k, deps[k]]));
  Object.assign(deps, patch);
  try {
    return await work();
  } finally {
    Object.assign(deps, saved);
  }
}

/**
 * `target` with `method` running `hooks.before` / `hooks.after` around its real call, once, on the first
 * call whose arguments satisfy `when`: a competitor acting at exactly that point of a run, no timing involved.
 */
/** A Secrets Manager write that always fails (throttled for good). */
const throttled = async (): Promise<void> => {
  throw Object.assign(new Error('injected: Secrets Manager throttles'), { name: 'ThrottlingException' });
};

/**
 * An import whose first attempt, with `patch` applied, ends with the metadata transaction timing out
 * (503 STORE_UNAVAILABLE); the same import sent again stores the pair that attempt left (201).
 */
async function importSentAgain(patch: Partial<ServiceDeps>): Promise<void> {
  const t = tenant();
  await setupTenant(stack.api, t, [CUIS[0]]);
  newCertificate();
  const body = { ...(await pairByHand()), cuis: [CUIS[0]] };
  const timedOut = async (): Promise<void> => {
    throw Object.assign(new Error('injected: DynamoDB did not answer'), { name: 'TimeoutError', $metadata: {} });
  };
  const first = await withDeps({ ...patch, tokens: { ...runtime.deps.tokens, connect: timedOut } }, () => http('POST', `/v1/tenants/${t}/tokens`, body));
  expect([first.status, first.body.error?.code]).toEqual([503, 'STORE_UNAVAILABLE']);
  expect((await http('POST', `/v1/tenants/${t}/tokens`, body)).status).toBe(201);
}

function once<T extends object, K extends keyof T>(
  target: T,
  method: K,
  when: (...args: any[]) => boolean,
  hooks: { before?: () => Promise<unknown>; after?: () => Promise<unknown> },
): T {
  const original = (target[method] as unknown as (...args: unknown[]) => Promise<unknown>).bind(target);
  let fired = false;
  return {
    ...target,
    [method]: async (...args: unknown[]) => {
      if (fired || !when(...args)) return original(...args);
      fired = true;
      await hooks.before?.();
      const out = await original(...args);
      await hooks.after?.();
      return out;
    },
  } as T;
}

// ---------------------------------------------------------------- the OAuth flow, handler by handler
let certificates = 0;
function newCertificate(): string {
  const n = ++certificates;
  const serial = `6c:00:00:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}:${Date.now().toString(16).slice(-2)}`;
  control().setCertificate({ serial, holder: `GRANTS HOLDER ${n}` });
  return serial;
}

/** Opens a fresh connect session through oauth-authorize and lets the emulator approve: answers the callback path (code, state). */
async function approvedAtAnaf(t: string, cuis: string[]): Promise<string> {
  const session = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis });
  expect(session.status).toBe(201);
  const opened = await http('GET', new URL(session.body.authorizeUrl).pathname + new URL(session.body.authorizeUrl).search);
  expect(opened.status).toBe(302);
  return ownCallbackPath(opened.location!);
}

/** Another opening of the same session (a second browser tab): its own state and code. */
async function approvedAgain(sessionPath: string): Promise<string> {
  const opened = await http('GET', sessionPath);
  expect(opened.status).toBe(302);
  return ownCallbackPath(opened.location!);
}

async function ownCallbackPath(anafAuthorizeUrl: string): Promise<string> {
  const anaf = await fetch(anafAuthorizeUrl, { redirect: 'manual' });
  const back = new URL(anaf.headers.get('location')!);
  return back.pathname + back.search;
}

/** A pair obtained by hand at ANAF (the manual flow an import migrates from), for the current certificate. */
async function pairByHand(): Promise<{ accessToken: string; refreshToken: string }> {
  const oauth = stack.emulator!.oauthBaseUrl;
  const redirectUri = 'https://manual.example.com/callback';
  const query = new URLSearchParams({ response_type: 'code', client_id: EMULATOR_DEFAULT_CLIENT.clientId, redirect_uri: redirectUri, token_content_type: 'jwt' });
  const authorize = await fetch(`${oauth}/authorize?${query}`, { redirect: 'manual' });
  const code = new URL(authorize.headers.get('location')!).searchParams.get('code')!;
  const basic = Buffer.from(`${EMULATOR_DEFAULT_CLIENT.clientId}:${EMULATOR_DEFAULT_CLIENT.clientSecret}`).toString('base64');
  const token = await fetch(`${oauth}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, token_content_type: 'jwt' }),
  });
  const answer = (await token.json()) as { access_token: string; refresh_token: string };
  return { accessToken: answer.access_token, refreshToken: answer.refresh_token };
}

const forceDeleteSecret = (name: string) =>
  new SecretsManagerClient({}).send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));

// ---------------------------------------------------------------- refresh: every scenario through every entry point
interface Due {
  t: string;
  tokenId: string;
  cui: string;
  accessExpiresAt: string;
}

interface RefreshScenario {
  name: string;
  /** What is staged before the run; answers adapter replacements for the run itself. */
  stage?: (due: Due) => Promise<Partial<ServiceDeps> | void>;
  /** What is stored afterwards (proof that the run took this path). */
  check: (due: Due) => Promise<void>;
}

const REFRESH_SCENARIOS: RefreshScenario[] = [
  {
    name: 'rotates the pair',
    check: async ({ t, tokenId }) => {
      const { record, pair } = await stored(t, tokenId);
      expect(record).toMatchObject({ status: 'active', version: 2, lastError: null });
      expect(pair!.version).toBe(2);
    },
  },
  {
    name: 'ANAF refuses the refresh token: reauth-required, announced with a connect link',
    stage: async () => control().failNext('invalid_grant'),
    check: async ({ t, tokenId }) => expect((await stored(t, tokenId)).record.status).toBe('reauth-required'),
  },
  {
    name: 'ANAF is down: the failure is recorded and announced, the token stays active',
    stage: async () => control().failNext('server_error', 3),
    check: async ({ t, tokenId }) => expect((await stored(t, tokenId)).record).toMatchObject({ status: 'active', version: 1, lastError: 'ANAF_UNAVAILABLE' }),
  },
  {
    name: 'a disconnect wins the race after the pair write: the refresh deletes the pair it wrote',
    stage: async ({ t, tokenId }) => ({
      secrets: once(runtime.deps.secrets, 'putTokenPair', (_t, id) => id === tokenId, {
        after: async () => expect((await http('DELETE', `/v1/tenants/${t}/tokens/${tokenId}`)).status).toBe(204),
      }),
    }),
    check: async ({ t, tokenId }) => {
      const { record, pair } = await stored(t, tokenId);
      expect(record.status).toBe('disconnected');
      expect(pair).toBeNull();
    },
  },
  {
    // AWS refuses a write to a secret scheduled for deletion; moto accepts it, so the refusal is injected.
    name: 'a disconnect lands during the ANAF call: the pair write is refused and the run ends disconnected',
    stage: async ({ t, tokenId }) => {
      const refused = Object.assign(new Error('You can’t perform this operation on the secret because it was marked for deletion.'), {
        name: 'InvalidRequestException',
      });
      const secrets = runtime.deps.secrets;
      return {
        secrets: {
          ...secrets,
          putTokenPair: async (tenantId, id, pair, versionId) => {
            if (id !== tokenId) return secrets.putTokenPair(tenantId, id, pair, versionId);
            expect((await http('DELETE', `/v1/tenants/${t}/tokens/${tokenId}`)).status).toBe(204);
            throw refused;
          },
        },
      };
    },
    check: async ({ t, tokenId }) => {
      const { record, pair } = await stored(t, tokenId);
      expect(record.status).toBe('disconnected');
      expect(pair).toBeNull();
    },
  },
  {
    name: 'the secret vanished after the read: the rotated pair is written to a new secret',
    stage: async ({ t, tokenId }) => ({
      secrets: once(runtime.deps.secrets, 'putTokenPair', (_t, id) => id === tokenId, {
        before: () => forceDeleteSecret(`${process.env.SECRET_PREFIX}${t}/tokens/${tokenId}`),
      }),
    }),
    check: async ({ t, tokenId }) => {
      const { record, pair } = await stored(t, tokenId);
      expect(record).toMatchObject({ status: 'active', version: 2 });
      expect(pair!.version).toBe(2);
    },
  },
  {
    name: 'every write of the rotated pair fails: it goes to the KMS-encrypted escrow',
    stage: async ({ tokenId }) => {
      const secrets = runtime.deps.secrets;
      return {
        secrets: {
          ...secrets,
          putTokenPair: async (tenantId, id, pair, versionId) => {
            if (id === tokenId) throw Object.assign(new Error('injected: Secrets Manager throttles'), { name: 'ThrottlingException' });
            return secrets.putTokenPair(tenantId, id, pair, versionId);
          },
        },
      };
    },
    check: async ({ t, tokenId }) => {
      const { record } = await stored(t, tokenId);
      expect(record).toMatchObject({ status: 'active', version: 2 });
      expect(await freshDeps().escrow.get(t, tokenId)).toMatchObject({ version: 2, versionId: record.secretVersionId });
    },
  },
  {
    name: 'a pair left in the escrow by an earlier run is adopted and moved into the secret',
    stage: async ({ t, tokenId }) => {
      const { pair } = await stored(t, tokenId);
      const { versionId: _current, ...plain } = pair as StoredPair;
      await freshDeps().escrow.put(t, tokenId, { ...plain, version: 2 }, 'escrowed-version-000000000000000000002');
    },
    check: async ({ t, tokenId }) => {
      const { record, pair } = await stored(t, tokenId);
      expect(record).toMatchObject({ status: 'active', lastError: null });
      expect(record.version).toBeGreaterThanOrEqual(2);
      expect(pair!.version).toBe(record.version);
      expect(await freshDeps().escrow.get(t, tokenId)).toBeNull();
    },
  },
  {
    name: 'a pair left by an interrupted refresh is adopted',
    stage: async ({ t, tokenId }) => {
      const { pair } = await stored(t, tokenId);
      const { versionId: _current, ...plain } = pair as StoredPair;
      await freshDeps().secrets.putTokenPair(t, tokenId, { ...plain, version: 2 }, 'interrupted-refresh-version-0000000002');
    },
    check: async ({ t, tokenId }) => {
      const { record, pair } = await stored(t, tokenId);
      expect(record).toMatchObject({ status: 'active', lastError: null });
      expect(record.version).toBeGreaterThanOrEqual(2);
      expect(pair!.version).toBe(record.version);
    },
  },
];

interface RefreshEntry {
  fn: string;
  run: (due: Due) => Promise<unknown>;
}

/** The four ways into a refresh. The on-demand one runs when the ERP asks 5 minutes before the access token ends. */
const REFRESH_ENTRIES: RefreshEntry[] = [
  { fn: 'token-refresh', run: ({ t, tokenId }) => http('POST', `/v1/tenants/${t}/tokens/${tokenId}/refresh`) },
  { fn: 'manual-refresh', run: ({ t, cui }) => invoke('manual-refresh', { tenantId: t, cui }) },
  {
    fn: 'access-token-get',
    run: ({ t, cui, accessExpiresAt }) =>
      withDeps({ clock: { now: () => new Date(Date.parse(accessExpiresAt) - 5 * 60_000) } }, () =>
        http('GET', `/v1/tenants/${t}/companies/${cui}/access-token`),
      ),
  },
  { fn: 'refresh-sweep', run: () => invoke('refresh-sweep', {}) },
  {
    fn: 'efactura',
    run: ({ t, cui, accessExpiresAt }) =>
      withDeps({ clock: { now: () => new Date(Date.parse(accessExpiresAt) - 5 * 60_000) } }, () =>
        http('GET', `/v1/tenants/${t}/companies/${cui}/messages?days=1`),
      ),
  },
];

const INVOICE_XML = '<?xml version="1.0" encoding="UTF-8"?><Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>';

async function dueToken(): Promise<Due> {
  const cui = CUIS[0];
  const { t, tokenId } = await connectDueToken(stack, tenant(), [cui]);
  return { t, tokenId, cui, accessExpiresAt: (await stored(t, tokenId)).record.accessExpiresAt };
}

// ---------------------------------------------------------------- the paths
interface Path {
  /** The function whose handler the path drives (others may run in it too, like a racing disconnect). */
  fn: string;
  name: string;
  run: () => Promise<void>;
}

const PATHS: Path[] = [
  // tenants
  {
    fn: 'anaf-client-put',
    name: "stores a new tenant's client: the secret is created",
    run: async () => {
      const res = await http('PUT', `/v1/tenants/${tenant()}/anaf-client`, EMULATOR_DEFAULT_CLIENT);
      expect(res.status).toBe(200);
    },
  },
  {
    fn: 'anaf-client-put',
    name: 'replaces the secret of a stored client',
    run: async () => {
      const t = tenant();
      await setupTenant(stack.api, t, []);
      expect((await http('PUT', `/v1/tenants/${t}/anaf-client`, EMULATOR_DEFAULT_CLIENT)).status).toBe(200);
    },
  },
  {
    fn: 'anaf-client-put',
    name: 'refuses a client id change while tokens are active',
    run: async () => {
      const t = tenant();
      await setupTenant(stack.api, t, [CUIS[0]]);
      await connectNew(stack.api, stack.emulator!, t, [CUIS[0]]);
      const res = await http('PUT', `/v1/tenants/${t}/anaf-client`, { ...EMULATOR_DEFAULT_CLIENT, clientId: 'another-client' });
      expect(res.body.error.code).toBe('CLIENT_ID_IN_USE');
    },
  },
  {
    fn: 'anaf-client-get',
    name: 'reads a client',
    run: async () => {
      const t = tenant();
      await setupTenant(stack.api, t, []);
      expect((await http('GET', `/v1/tenants/${t}/anaf-client`)).status).toBe(200);
    },
  },
  // companies
  {
    fn: 'company-put',
    name: 'registers a company, then links it to a token',
    run: async () => {
      const t = tenant();
      await setupTenant(stack.api, t, [CUIS[0]]);
      const tokenId = await connectNew(stack.api, stack.emulator!, t, [CUIS[0]]);
      expect((await http('PUT', `/v1/tenants/${t}/companies/${CUIS[1]}`, { name: 'Second' })).status).toBe(200);
      expect((await http('PUT', `/v1/tenants/${t}/companies/${CUIS[1]}`, { tokenId })).body.tokenId).toBe(tokenId);
    },
  },
  {
    fn: 'company-get',
    name: 'reads one company with its token, and the list',
    run: async () => {
      const t = tenant();
      await setupTenant(stack.api, t, [CUIS[0]]);
      await connectNew(stack.api, stack.emulator!, t, [CUIS[0]]);
      expect((await http('GET', `/v1/tenants/${t}/companies/${CUIS[0]}`)).body.status).toBe('active');
      expect((await http('GET', `/v1/tenants/${t}/companies`)).body.companies).toHaveLength(1);
    },
  },
  {
    fn: 'company-delete',
    name: 'forgets a company',
    run: async () => {
      const t = tenant();
      await setupTenant(stack.api, t, [CUIS[0]]);
      expect((await http('DELETE', `/v1/tenants/${t}/companies/${CUIS[0]}`)).status).toBe(204);
    },
  },
  // the connect flow
  {
    fn: 'connect-session-create',
    name: 'mints a connect session',
    run: async () => {
      const t = tenant();
      await setupTenant(stack.api, t, [CUIS[0]]);
      expect((await http('POST', `/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[0]] })).status).toBe(201);
    },
  },
  {
    fn: 'oauth-authorize',
    name: 'opens a session and sends the browser to ANAF',
    run: async () => {
      const t = tenant();
      await setupTenant(stack.api, t, [CUIS[0]]);
      await approvedAtAnaf(t, [CUIS[0]]);
    },
  },
  {
    fn: 'oauth-authorize',
    name: 'an expired session records SESSION_EXPIRED on it and announces connect-failed',
    run: async () => {
      const t = tenant();
      await setupTenant(stack.api, t, [CUIS[0]]);
      const session = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[0]], ttlSeconds: 60 });
      const url = new URL(session.body.authorizeUrl);
      const opened = await withDeps({ clock: { now: () => new Date(Date.parse(session.body.expiresAt) + 1000) } }, () => http('GET', url.pathname + url.search));
      expect(opened.status).toBe(400);
      expect((await freshDeps().sessions.get(session.body.sessionId))?.lastError).toBe('SESSION_EXPIRED');
    },
  },
  {
    fn: 'connect-session-get',
    name: 'reads a connect session, then one that is not there',
    run: async () => {
      const t = tenant();
      await setupTenant(stack.api, t, [CUIS[0]]);
      const session = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[0]] });
      expect((await http('GET', `/v1/tenants/${t}/connect-sessions/${session.body.sessionId}`)).body.status).toBe('open');
      expect((await http('GET', `/v1/tenants/${t}/connect-sessions/cs_${'x'.repeat(32)}`)).status).toBe(404);
    },
  },
  {
    fn: 'oauth-callback',
    name: 'a first connection: the pair is stored, the companies linked, the session completed',
    run: async () => {
      const t = tenant();
      await setupTenant(stack.api, t, [CUIS[0], CUIS[1]]);
      newCertificate();
      const res = await http('GET', await approvedAtAnaf(t, [CUIS[0], CUIS[1]]));
      expect(res.status).toBe(200);
    },
  },
  {
    fn: 'oauth-callback',
    name: 'every secret write of a first connection fails: the pair goes to the KMS-encrypted escrow',
    run: async () => {
      const t = tenant();
      await setupTenant(stack.api, t, [CUIS[0]]);
      newCertificate();
      const path = await approvedAtAnaf(t, [CUIS[0]]);
      const res = await withDeps({ secrets: { ...runtime.deps.secrets, putTokenPair: throttled } }, () => http('GET', path));
      expect(res.status).toBe(200);
      const tokenId = (await stack.api.get(`/v1/tenants/${t}/companies/${CUIS[0]}`)).body.tokenId;
      expect(await freshDeps().escrow.get(t, tokenId)).toMatchObject({ version: 1 });
    },
  },
  {
    fn: 'token-import',
    name: 'every secret write of an import fails: the rotated pair goes to the KMS-encrypted escrow',
    run: async () => {
      const t = tenant();
      await setupTenant(stack.api, t, [CUIS[0]]);
      newCertificate();
      const pasted = await pairByHand();
      const res = await withDeps({ secrets: { ...runtime.deps.secrets, putTokenPair: throttled } }, () =>
        http('POST', `/v1/tenants/${t}/tokens`, { ...pasted, cuis: [CUIS[0]] }),
      );
      expect(res.status).toBe(201);
      expect(await freshDeps().escrow.get(t, res.body.tokenId)).toMatchObject({ version: 1 });
    },
  },
  {
    fn: 'oauth-callback',
    name: 'a re-authorization by the same certificate replaces the pair',
    run: async () => {
      const t = tenant();
      await setupTenant(stack.api, t, [CUIS[0]]);
      const tokenId = await connectNew(stack.api, stack.emulator!, t, [CUIS[0]]);
      expect((await http('GET', await approvedAtAnaf(t, [CUIS[0]]))).status).toBe(200);
      expect((await stored(t, tokenId)).record.version).toBe(2);
    },
  },
  {
    fn: 'oauth-callback',
    name: 'two tabs of one session race: the loser’s transaction fails and it deletes the secret it wrote',
    run: async () => {
      const t = tenant();
      await setupTenant(stack.api, t, [CUIS[0]]);
      newCertificate();
      const session = await stack.api.post(`/v1/tenants/${t}/connect-sessions`, { cuis: [CUIS[0]] });
      const sessionPath = new URL(session.body.authorizeUrl).pathname + new URL(session.body.authorizeUrl).search;
      const first = await approvedAgain(sessionPath);
      newCertificate();
      const second = await approvedAgain(sessionPath);
      // The second tab stores its pair; the first completes the session before the second's transaction.
      const losing = await withDeps(
        { secrets: once(runtime.deps.secrets, 'putTokenPair', () => true, { after: async () => expect((await http('GET', first)).status).toBe(200) }) },
        () => http('GET', second),
      );
      // The losing tab has nothing left to do: the session is completed, and its page says so.
      expect(losing.status).toBe(200);
      expect(losing.body).toContain('Conectarea este deja făcută');
      expect((await stack.api.get(`/v1/tenants/${t}/tokens`)).body.tokens).toHaveLength(1);
    },
  },
  {
    fn: 'oauth-callback',
    name: 'the certificate holder declines at ANAF',
    run: async () => {
      const t = tenant();
      await setupTenant(stack.api, t, [CUIS[0]]);
      const state = new URLSearchParams((await approvedAtAnaf(t, [CUIS[0]])).split('?')[1]).get('state')!;
      expect((await http('GET', `/v1/oauth/callback?error=access_denied&state=${state}`)).status).toBe(400);
    },
  },
  {
    fn: 'oauth-callback',
    name: 'ANAF fails the code exchange',
    run: async () => {
      const t = tenant();
      await setupTenant(stack.api, t, [CUIS[0]]);
      const path = await approvedAtAnaf(t, [CUIS[0]]);
      control().failNext('server_error', 3);
      expect((await http('GET', path)).status).toBeGreaterThanOrEqual(500);
    },
  },
  // tokens
  {
    fn: 'token-import',
    name: 'imports a pair obtained by hand (rotated once at ANAF), then, with replace, a newer pair of the same certificate',
    run: async () => {
      const t = tenant();
      await setupTenant(stack.api, t, [CUIS[0]]);
      newCertificate();
      const imported = await http('POST', `/v1/tenants/${t}/tokens`, { ...(await pairByHand()), cuis: [CUIS[0]] });
      expect(imported.status).toBe(201);
      const again = await http('POST', `/v1/tenants/${t}/tokens`, { ...(await pairByHand()), cuis: [CUIS[0]], replace: true });
      expect(again.body.tokenId).toBe(imported.body.tokenId);
    },
  },
  {
    fn: 'token-import',
    name: 'a racing import of the same certificate stores first: the loser deletes its secret and updates that token',
    run: async () => {
      const t = tenant();
      await setupTenant(stack.api, t, [CUIS[0]]);
      newCertificate();
      const [mine, theirs] = [await pairByHand(), await pairByHand()];
      let winner = '';
      const res = await withDeps(
        {
          secrets: once(runtime.deps.secrets, 'putTokenPair', () => true, {
            after: async () => {
              winner = (await http('POST', `/v1/tenants/${t}/tokens`, { ...theirs, cuis: [CUIS[0]], replace: true })).body.tokenId;
            },
          }),
        },
        () => http('POST', `/v1/tenants/${t}/tokens`, { ...mine, cuis: [CUIS[0]], replace: true }),
      );
      expect(res.status).toBe(201);
      expect(res.body.tokenId).toBe(winner);
    },
  },
  {
    fn: 'token-import',
    name: "the transaction times out after the rotation (503); the same import sent again stores the pair its first attempt left",
    run: () => importSentAgain({}),
  },
  {
    fn: 'token-import',
    name: 'every secret write fails (the escrow), then the transaction times out (503); the same import sent again stores the escrowed pair',
    run: () => importSentAgain({ secrets: { ...runtime.deps.secrets, putTokenPair: throttled } }),
  },
  {
    fn: 'token-get',
    name: 'reads one token and the list',
    run: async () => {
      const t = tenant();
      await setupTenant(stack.api, t, [CUIS[0]]);
      const tokenId = await connectNew(stack.api, stack.emulator!, t, [CUIS[0]]);
      expect((await http('GET', `/v1/tenants/${t}/tokens/${tokenId}`)).body.cuis).toEqual([CUIS[0]]);
      expect((await http('GET', `/v1/tenants/${t}/tokens`)).body.tokens).toHaveLength(1);
    },
  },
  {
    fn: 'token-delete',
    name: 'disconnects a token (secret deleted, serial released, companies unlinked), then again',
    run: async () => {
      const t = tenant();
      await setupTenant(stack.api, t, [CUIS[0]]);
      const tokenId = await connectNew(stack.api, stack.emulator!, t, [CUIS[0]]);
      expect((await http('DELETE', `/v1/tenants/${t}/tokens/${tokenId}`)).status).toBe(204);
      expect((await http('DELETE', `/v1/tenants/${t}/tokens/${tokenId}`)).status).toBe(204);
      expect((await stored(t, tokenId)).pair).toBeNull();
    },
  },
  {
    fn: 'events-list',
    name: 'lists the audit trail',
    run: async () => {
      const t = tenant();
      await setupTenant(stack.api, t, [CUIS[0]]);
      await connectNew(stack.api, stack.emulator!, t, [CUIS[0]]);
      expect((await http('GET', `/v1/tenants/${t}/events`)).body.events.length).toBeGreaterThan(0);
    },
  },
  // refresh
  ...REFRESH_ENTRIES.flatMap((entry) =>
    REFRESH_SCENARIOS.map(
      (scenario): Path => ({
        fn: entry.fn,
        name: scenario.name,
        run: async () => {
          const due = await dueToken();
          const patch = (await scenario.stage?.(due)) ?? {};
          await withDeps(patch, () => entry.run(due));
          await scenario.check(due);
        },
      }),
    ),
  ),
  {
    fn: 'access-token-get',
    name: 'hands out a valid access token without refreshing',
    run: async () => {
      const t = tenant();
      await setupTenant(stack.api, t, [CUIS[0]]);
      await connectNew(stack.api, stack.emulator!, t, [CUIS[0]]);
      expect((await http('GET', `/v1/tenants/${t}/companies/${CUIS[0]}/access-token`)).status).toBe(200);
    },
  },
  {
    fn: 'efactura',
    name: 'uploads with an Idempotency-Key (claimed, settled, marked covered), answers a repeat from the key, frees it after a refusal',
    run: async () => {
      const t = tenant();
      await setupTenant(stack.api, t, [CUIS[0]]);
      await connectNew(stack.api, stack.emulator!, t, [CUIS[0]]);
      const path = `/v1/tenants/${t}/companies/${CUIS[0]}/invoices?standard=UBL`;
      const first = await http('POST', path, undefined, { body: INVOICE_XML, headers: { 'idempotency-key': 'k-1' } });
      expect(first.status).toBe(201);
      expect((await http('POST', path, undefined, { body: INVOICE_XML, headers: { 'idempotency-key': 'k-1' } })).body).toEqual(first.body);
      const full = { take: async (_scope: string, counters: Array<{ name: string }>) => ({ ok: false as const, counter: counters[0] as never }) };
      const refused = await withDeps({ limits: full as unknown as ServiceDeps['limits'] }, () =>
        http('POST', path, undefined, { body: INVOICE_XML, headers: { 'idempotency-key': 'k-2' } }),
      );
      expect(refused.body.error.code).toBe('RATE_LIMITED');
    },
  },
  {
    fn: 'invoice-uploads',
    name: "signs a PUT for an invoice over the inline limit (S3 authorizes it as the role's PutObject)",
    run: async () => {
      const t = tenant();
      await setupTenant(stack.api, t, [CUIS[0]]);
      expect((await http('POST', `/v1/tenants/${t}/companies/${CUIS[0]}/invoice-uploads`)).status).toBe(201);
    },
  },
  {
    fn: 'efactura',
    name: 'uploads an invoice the ERP PUT to the bucket: reads it, deletes it after the answer',
    run: async () => {
      const t = tenant();
      await setupTenant(stack.api, t, [CUIS[0]]);
      await connectNew(stack.api, stack.emulator!, t, [CUIS[0]]);
      const slot = (await stack.api.post(`/v1/tenants/${t}/companies/${CUIS[0]}/invoice-uploads`)).body as { uploadUrl: string; objectKey: string };
      expect((await fetch(slot.uploadUrl, { method: 'PUT', body: INVOICE_XML })).status).toBe(200);
      const res = await http('POST', `/v1/tenants/${t}/companies/${CUIS[0]}/invoices?standard=UBL&objectKey=${encodeURIComponent(slot.objectKey)}`);
      expect(res.status).toBe(201);
    },
  },
  {
    fn: 'efactura-public',
    name: 'validates on the public host (the public scope of the limiter)',
    run: async () => {
      expect((await http('POST', '/v1/validate?standard=FACT1', undefined, { body: INVOICE_XML })).status).toBeLessThan(600);
    },
  },
  {
    fn: 'refresh-sweep',
    name: 'warns about a refresh token near its end, with a connect link',
    run: async () => {
      const t = tenant();
      await setupTenant(stack.api, t, [CUIS[0]]);
      control().setTokenLifetimes({ refreshSeconds: 20 * DAY_S });
      await connectNew(stack.api, stack.emulator!, t, [CUIS[0]]);
      expect((await invoke('refresh-sweep', {})).warned).toBeGreaterThanOrEqual(1);
    },
  },
];

const describeRequest = (r: IamRequest) =>
  `${r.action} on ${r.resource}${r.via ? ` (through ${r.via})` : ''}${Object.keys(r.context).length ? ` with ${JSON.stringify(r.context)}` : ''} [sent: ${r.call}]`;

describe('every AWS action a handler sends is allowed by its role in the synthesized stack', () => {
  for (const path of PATHS) {
    it(`${path.fn}: ${path.name}`, async () => {
      recorder.take();
      await path.run();
      const calls = recorder.take();
      expect([...calls.keys()], 'the path ran its handler, which called AWS').toContain(path.fn);
      const denied: string[] = [];
      for (const [fn, sent] of calls) {
        const policy = policies.get(fn)!;
        for (const request of sent.flatMap((call) => iamRequestsFor(call, local))) {
          exercised.set(fn, [...(exercised.get(fn) ?? []), request]);
          if (!isAllowed(policy, request)) denied.push(`${fn}: ${describeRequest(request)}`);
          if (request.action.startsWith('kms:') && !keyPolicyAllows(keyPolicy, roleArn(fn), request)) {
            denied.push(`${fn} (by the key policy, infra/data-stack.ts): ${describeRequest(request)}`);
          }
        }
      }
      expect(denied, 'sent by the code but not allowed by the role: grant it in infra/permissions.ts').toEqual([]);
    });
  }
});

describe('every grant is used', () => {
  it('each function ran on some path, and each action its role allows was needed by one', () => {
    expect(FUNCTION_NAMES.filter((fn) => !exercised.has(fn)), 'functions no path drove').toEqual([]);
    const unused: string[] = [];
    for (const fn of FUNCTION_NAMES) {
      const policy = policies.get(fn)!;
      const used = new Set<string>();
      for (const request of exercised.get(fn) ?? []) {
        for (const match of matchingStatements(policy, request)) {
          const i = policy.indexOf(match.statement);
          used.add(`${i} ${match.action}`);
          // Each action a statement allows must be used on each key prefix it allows it on.
          for (const pattern of match.statement.conditions['ForAllValues:StringLike']?.[LEADING_KEYS] ?? []) {
            const keys = request.context[LEADING_KEYS];
            if (Array.isArray(keys) && keys.some((k) => wildcardMatch(pattern, k))) used.add(`${i} ${match.action} ${pattern}`);
          }
        }
      }
      policy.forEach((statement, i) => {
        for (const action of statement.actions) {
          if (!RUNTIME_ACTIONS.has(action) && !used.has(`${i} ${action}`)) unused.push(`${fn}: ${action} on ${statement.resources.join(', ')}`);
        }
        for (const pattern of statement.conditions['ForAllValues:StringLike']?.[LEADING_KEYS] ?? []) {
          for (const action of statement.actions) {
            if (!used.has(`${i} ${action} ${pattern}`)) unused.push(`${fn}: ${action} on ${LEADING_KEYS} ${pattern}`);
          }
        }
      });
    }
    expect(unused, 'granted (an action, or a key prefix) but used by no path: drop it from infra/permissions.ts, or add the path that needs it to PATHS').toEqual([]);
  });
});
