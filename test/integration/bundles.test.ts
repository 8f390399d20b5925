import { execFile } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PERMISSIONS } from '../../infra/permissions.js';
import { buildFunctionBundles, bundleEnvironment, type FunctionBundles } from '../../local/bundles.js';
import { apiGatewayEvent, matchRoute } from '../../local/gateway.js';
import { FUNCTION_NAMES, NON_HTTP_FUNCTIONS, ROUTES } from '../../shared/http/routes.js';
import { CUIS, connect, follow, pairObtainedByHand, setupTenant, startTestStack } from '../support/stack.js';

/*
 * The code that deploys is the code that is tested: every function is bundled with the esbuild options
 * of infra/constructs/broker-function.ts (the object the construct hands to NodejsFunction), each bundle
 * is loaded by a plain `node` (no tsx) in a process of its own with the environment the service stack
 * gives it (functionEnvironment, pointed at this file's moto and emulator), and invoked: a success and an
 * error per HTTP route, the sweep and the manual refresh with their events. The fixtures are made through
 * the local gateway (the TypeScript); only the invocations under test run the bundles.
 */

/** Runs in the child: imports the bundle, calls its handler once per event, writes the answers to a file. */
const RUNNER = `
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const [bundle, input, output] = process.argv.slice(1);
const { handler } = await import(pathToFileURL(bundle).href);
const answers = [];
for (const event of JSON.parse(readFileSync(input, 'utf8'))) {
  const deadline = Date.now() + 30000;
  const fn = process.env.AWS_LAMBDA_FUNCTION_NAME;
  const context = {
    callbackWaitsForEmptyEventLoop: false, functionName: fn, functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:' + fn, memoryLimitInMB: '256',
    awsRequestId: randomUUID(), logGroupName: '/aws/lambda/' + fn, logStreamName: 'bundle-test',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  try { answers.push({ ok: await handler(event, context) }); }
  catch (error) { answers.push({ thrown: String(error && error.stack || error) }); }
}
writeFileSync(output, JSON.stringify(answers));
`;

interface Invocation {
  label: string;
  event: unknown;
  check: (answer: any) => void;
}

type Stack = Awaited<ReturnType<typeof startTestStack>>;
let stack: Stack;
let dir: string;
let bundles: FunctionBundles;
let lambdaEnv: Record<string, string>;
let n = 0;
const tenant = () => `bu${++n}-${Date.now().toString(36)}`;

/** Fixture ids the cases below use; each function that writes gets a tenant or token of its own. */
const fx = {
  t: '', tokenRead: '', refreshTenant: '', deleteTenant: '', importTenant: '', tokenRefresh: '', tokenDelete: '', tokenManual: '', manualTenant: '',
  freshTenant: '', companyTenant: '', session: '', authorizeQuery: '', callbackQuery: '', pair: { accessToken: '', refreshToken: '' },
};

beforeAll(async () => {
  // All bundles at once, while the stack starts: esbuild runs them in parallel itself.
  const built = buildFunctionBundles();
  stack = await startTestStack();
  bundles = await built;
  dir = bundles.dir;

  // The environment CDK gives every function, pointed at this file's moto and emulator.
  lambdaEnv = bundleEnvironment({
    apiUrl: stack.apiUrl,
    motoEndpoint: stack.moto.endpoint,
    anafOauthBaseUrl: stack.emulator!.oauthBaseUrl,
    anafApiBaseUrl: stack.emulator!.apiBaseUrl,
    anafPublicApiBaseUrl: stack.emulator!.publicApiBaseUrl,
  });

  const api = stack.api;
  fx.t = tenant();
  await setupTenant(api, fx.t, [...CUIS]);
  fx.tokenRead = (await connect(api, fx.t, [CUIS[0]])).tokenId;
  // A connect by the same ANAF certificate may close that tenant's other tokens: one tenant per token.
  fx.refreshTenant = tenant();
  await setupTenant(api, fx.refreshTenant, [CUIS[1]]);
  fx.tokenRefresh = (await connect(api, fx.refreshTenant, [CUIS[1]])).tokenId;
  fx.deleteTenant = tenant();
  await setupTenant(api, fx.deleteTenant, [CUIS[2]]);
  fx.tokenDelete = (await connect(api, fx.deleteTenant, [CUIS[2]])).tokenId;
  fx.importTenant = tenant();
  await setupTenant(api, fx.importTenant, [CUIS[3]]);
  fx.manualTenant = tenant();
  await setupTenant(api, fx.manualTenant, [CUIS[0]]);
  fx.tokenManual = (await connect(api, fx.manualTenant, [CUIS[0]])).tokenId;
  fx.freshTenant = tenant();
  fx.companyTenant = tenant();
  await setupTenant(api, fx.companyTenant, []);
  fx.session = (await api.post(`/v1/tenants/${fx.t}/connect-sessions`, { cuis: [CUIS[4]] })).body.sessionId;
  const authorizeUrl = new URL((await api.post(`/v1/tenants/${fx.t}/connect-sessions`, { cuis: [CUIS[5]] })).body.authorizeUrl);
  fx.authorizeQuery = authorizeUrl.search;
  // The browser's way to the callback, stopped before it: the callback bundle gets the emulator's redirect.
  const other = new URL((await api.post(`/v1/tenants/${fx.t}/connect-sessions`, { cuis: [CUIS[6]] })).body.authorizeUrl);
  const toAnaf = (await follow(other.toString(), 1))[0]!.headers.get('location')!;
  const back = await fetch(toAnaf, { redirect: 'manual' });
  fx.callbackQuery = new URL(back.headers.get('location')!).search;
  fx.pair = await pairObtainedByHand(stack.emulator!);
  for (const id of Object.values(fx)) expect(id).toBeTruthy();
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await bundles?.remove();
});

/** A payload-v2 event of the route that serves `method path` (bearer header like the gateway passes on). */
function http(method: string, pathAndQuery: string, body?: unknown): unknown {
  const url = new URL(pathAndQuery, stack.apiUrl);
  const route = matchRoute(method, url.pathname);
  if (!route) throw new Error(`no route for ${method} ${url.pathname}`);
  const headers: Record<string, string> = { host: url.host, 'user-agent': 'bundles-test' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  return apiGatewayEvent(route, { url, headers, body: body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)) });
}

/** The same with an XML document as the body (the e-Factura routes). */
function xmlHttp(method: string, pathAndQuery: string, xml: string): unknown {
  const url = new URL(pathAndQuery, stack.apiUrl);
  const route = matchRoute(method, url.pathname)!;
  return apiGatewayEvent(route, { url, headers: { host: url.host, 'content-type': 'application/xml' }, body: Buffer.from(xml) });
}
const INVOICE_XML = '<?xml version="1.0" encoding="UTF-8"?><Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>';

const status = (expected: number | ((s: number) => boolean), code?: string) => (answer: any) => {
  if (typeof expected === 'number') expect(answer.statusCode, answer.body).toBe(expected);
  else expect(expected(answer.statusCode), `status ${answer.statusCode}: ${answer.body}`).toBe(true);
  if (code) expect(JSON.parse(answer.body).error.code).toBe(code);
};
const BAD = 'bad!tenant';
const refused = status(400, 'VALIDATION_ERROR');

/** Per function, in order: the invocations its one process runs. Every route of ROUTES is here. */
function cases(): Record<string, Invocation[]> {
  const t = `/v1/tenants/${fx.t}`;
  const client = { clientId: 'bundle-client', clientSecret: 'bundle-secret-0123456789' };
  return {
    'anaf-client-put': [
      { label: 'PUT anaf-client', event: http('PUT', `/v1/tenants/${fx.freshTenant}/anaf-client`, client), check: status(200) },
      { label: 'PUT anaf-client, body not JSON', event: http('PUT', `/v1/tenants/${fx.freshTenant}/anaf-client`, '{nope'), check: status((s) => s === 400) },
    ],
    'anaf-client-get': [
      { label: 'GET anaf-client', event: http('GET', `${t}/anaf-client`), check: status(200) },
      { label: 'GET anaf-client, bad tenant', event: http('GET', `/v1/tenants/${BAD}/anaf-client`), check: refused },
    ],
    'company-put': [
      { label: 'PUT company', event: http('PUT', `/v1/tenants/${fx.companyTenant}/companies/${CUIS[0]}`, { name: 'Bundled SRL' }), check: status(200) },
      { label: 'PUT company, bad CUI', event: http('PUT', `/v1/tenants/${fx.companyTenant}/companies/123`, { name: 'x' }), check: status(400) },
    ],
    'company-get': [
      { label: 'GET companies', event: http('GET', `${t}/companies`), check: status(200) },
      { label: 'GET company', event: http('GET', `${t}/companies/${CUIS[0]}`), check: status(200) },
      { label: 'GET company, bad tenant', event: http('GET', `/v1/tenants/${BAD}/companies/${CUIS[0]}`), check: refused },
    ],
    'company-delete': [
      { label: 'DELETE company', event: http('DELETE', `${t}/companies/${CUIS[3]}`), check: status(204) },
      { label: 'DELETE company, bad tenant', event: http('DELETE', `/v1/tenants/${BAD}/companies/${CUIS[3]}`), check: refused },
    ],
    'access-token-get': [
      {
        label: 'GET access-token',
        event: http('GET', `${t}/companies/${CUIS[0]}/access-token`),
        check: (a) => {
          status(200)(a);
          expect(JSON.parse(a.body).accessToken).toBeTruthy();
        },
      },
      { label: 'GET access-token, bad tenant', event: http('GET', `/v1/tenants/${BAD}/companies/${CUIS[0]}/access-token`), check: refused },
    ],
    'connect-session-create': [
      { label: 'POST connect-session', event: http('POST', `${t}/connect-sessions`, { cuis: [CUIS[7]] }), check: status(201) },
      { label: 'POST connect-session, no cuis', event: http('POST', `${t}/connect-sessions`, {}), check: refused },
    ],
    'connect-session-get': [
      { label: 'GET connect-session', event: http('GET', `${t}/connect-sessions/${fx.session}`), check: status(200) },
      { label: 'GET connect-session, bad tenant', event: http('GET', `/v1/tenants/${BAD}/connect-sessions/${fx.session}`), check: refused },
    ],
    'token-import': [
      { label: 'POST tokens', event: http('POST', `/v1/tenants/${fx.importTenant}/tokens`, { ...fx.pair, cuis: [CUIS[3]] }), check: status((s) => s === 200 || s === 201) },
      { label: 'POST tokens, no pair', event: http('POST', `/v1/tenants/${fx.importTenant}/tokens`, { cuis: [CUIS[3]] }), check: refused },
    ],
    'token-get': [
      { label: 'GET tokens', event: http('GET', `${t}/tokens`), check: status(200) },
      { label: 'GET token', event: http('GET', `${t}/tokens/${fx.tokenRead}`), check: status(200) },
      { label: 'GET token, bad tenant', event: http('GET', `/v1/tenants/${BAD}/tokens/${fx.tokenRead}`), check: refused },
    ],
    'token-refresh': [
      { label: 'POST token refresh', event: http('POST', `/v1/tenants/${fx.refreshTenant}/tokens/${fx.tokenRefresh}/refresh`), check: status(200) },
      { label: 'POST token refresh, bad tenant', event: http('POST', `/v1/tenants/${BAD}/tokens/${fx.tokenRefresh}/refresh`), check: refused },
    ],
    'token-delete': [
      { label: 'DELETE token', event: http('DELETE', `/v1/tenants/${fx.deleteTenant}/tokens/${fx.tokenDelete}`), check: status((s) => s === 200 || s === 204) },
      { label: 'DELETE token, bad tenant', event: http('DELETE', `/v1/tenants/${BAD}/tokens/${fx.tokenDelete}`), check: refused },
    ],
    'events-list': [
      { label: 'GET events', event: http('GET', `${t}/events`), check: status(200) },
      { label: 'GET events, bad tenant', event: http('GET', `/v1/tenants/${BAD}/events`), check: refused },
    ],
    'oauth-authorize': [
      {
        label: 'GET authorize',
        event: http('GET', `/v1/oauth/authorize${fx.authorizeQuery}`),
        check: (a) => {
          expect(a.statusCode, a.body).toBe(302);
          expect(a.headers.location ?? a.headers.Location).toContain(stack.emulator!.oauthBaseUrl);
        },
      },
      { label: 'GET authorize, no session', event: http('GET', '/v1/oauth/authorize'), check: status((s) => s >= 400 && s < 500) },
    ],
    'oauth-callback': [
      { label: 'GET callback', event: http('GET', `/v1/oauth/callback${fx.callbackQuery}`), check: status((s) => s === 200 || s === 302) },
      { label: 'GET callback, no state', event: http('GET', '/v1/oauth/callback'), check: status((s) => s >= 400 && s < 500) },
    ],
    efactura: [
      { label: 'POST invoice', event: xmlHttp('POST', `${t}/companies/${CUIS[0]}/invoices?standard=UBL`, INVOICE_XML), check: status(201) },
      { label: 'POST invoice, bad standard', event: xmlHttp('POST', `${t}/companies/${CUIS[0]}/invoices?standard=XML`, INVOICE_XML), check: refused },
      {
        label: 'POST invoice by objectKey, never PUT (S3 GetObject)',
        event: http('POST', `${t}/companies/${CUIS[0]}/invoices?standard=UBL&objectKey=${encodeURIComponent(`${fx.t}/${CUIS[0]}/0b6f9c1e-3c1a-4d2b-9a4e-1f2e3d4c5b6a.xml`)}`),
        check: status(404, 'UPLOAD_NOT_FOUND'),
      },
      { label: 'GET status, unknown upload', event: http('GET', `${t}/companies/${CUIS[0]}/invoices/1/status`), check: status(404, 'MESSAGE_NOT_FOUND') },
      { label: 'GET messages', event: http('GET', `${t}/companies/${CUIS[0]}/messages?days=1`), check: status(200) },
      {
        // The real production ZIP the emulator always holds (the certificate's rights cover every CIF by default).
        label: 'GET message ZIP (binary, base64)',
        event: http('GET', `${t}/companies/${CUIS[0]}/messages/3001500000`),
        check: (a) => {
          status(200)(a);
          expect(a.isBase64Encoded).toBe(true);
          expect(a.headers['content-type']).toBe('application/zip');
        },
      },
    ],
    'invoice-uploads': [
      { label: 'POST invoice-uploads (a presigned PUT)', event: http('POST', `${t}/companies/${CUIS[0]}/invoice-uploads`), check: status(201) },
      { label: 'POST invoice-uploads, bad tenant', event: http('POST', `/v1/tenants/${BAD}/companies/${CUIS[0]}/invoice-uploads`), check: refused },
    ],
    'efactura-public': [
      { label: 'POST validate', event: xmlHttp('POST', '/v1/validate?standard=FACT1', INVOICE_XML), check: status(200) },
      {
        label: 'POST pdf',
        event: xmlHttp('POST', '/v1/pdf?standard=FACT1', INVOICE_XML),
        check: (a) => {
          status(200)(a);
          expect(a.isBase64Encoded).toBe(true);
          expect(Buffer.from(a.body, 'base64').subarray(0, 5).toString()).toBe('%PDF-');
        },
      },
      { label: 'POST validate, bad standard', event: xmlHttp('POST', '/v1/validate?standard=UBL', INVOICE_XML), check: refused },
    ],
    [NON_HTTP_FUNCTIONS.sweep]: [
      {
        label: 'scheduled sweep',
        event: { version: '0', id: 'bundle-test', 'detail-type': 'Scheduled Event', source: 'aws.events', account: '000000000000', time: new Date().toISOString(), region: lambdaEnv.AWS_REGION, resources: [], detail: {} },
        check: (a) => {
          expect(typeof a.due).toBe('number');
          expect(a.health).not.toBeNull();
        },
      },
    ],
    [NON_HTTP_FUNCTIONS.manualRefresh]: [
      { label: 'manual refresh', event: { tenantId: fx.manualTenant, tokenId: fx.tokenManual }, check: (a) => expect(a.tokenId, JSON.stringify(a)).toBe(fx.tokenManual) },
      { label: 'manual refresh, neither token nor CUI', event: { tenantId: fx.manualTenant }, check: (a) => expect(a.error?.code).toBe('VALIDATION_ERROR') },
    ],
  };
}

/** One fresh `node` per bundle (no tsx, no loader): what Lambda does on a cold start. */
async function runBundle(name: string, invocations: Invocation[]): Promise<{ answers: any[]; output: string }> {
  const input = join(dir, name, 'events.json');
  const output = join(dir, name, 'answers.json');
  await writeFile(input, JSON.stringify(invocations.map((i) => i.event)));
  const env = { ...lambdaEnv, AWS_LAMBDA_FUNCTION_NAME: name };
  const logs = await new Promise<string>((done, fail) => {
    execFile(process.execPath, ['--input-type=module', '-e', RUNNER, bundles.files.get(name)!, input, output], { env, cwd: dir, timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) fail(new Error(`${name}: ${error.message}\n${stderr}\n${stdout}`.slice(0, 4000)));
      else done(`${stdout}${stderr}`);
    });
  });
  return { answers: JSON.parse(await readFile(output, 'utf8')), output: logs };
}

describe('every deployed bundle, run by plain node against moto and the emulator', () => {
  it('covers every function and every route', () => {
    const all = cases();
    expect(Object.keys(all).sort()).toEqual([...FUNCTION_NAMES].sort());
    const covered = new Set(
      Object.values(all)
        .flat()
        .map((i) => (i.event as { routeKey?: string }).routeKey)
        .filter(Boolean),
    );
    expect([...covered].sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
  });

  it('each bundle holds the SDK clients its IAM grants name, no more, no fewer, and not the default credential chain', () => {
    // grants.test.ts holds the grants to the calls each function's paths make (in one process, where every
    // handler's adapter kits are installed); this holds each bundle's clients to the grants, so that a
    // handler that leaves out a kit its path needs fails here, not on that path in AWS.
    for (const name of FUNCTION_NAMES) {
      const grants = PERMISSIONS[name]!;
      const expected = [
        '@aws-sdk/client-dynamodb',
        ...(grants.secrets.length > 0 || grants.listSecrets ? ['@aws-sdk/client-secrets-manager'] : []),
        ...(grants.putEvents ? ['@aws-sdk/client-eventbridge'] : []),
        ...(grants.pairEscrow.length > 0 ? ['@aws-sdk/client-kms'] : []),
        ...(grants.invoiceObjects.length > 0 ? ['@aws-sdk/client-s3'] : []),
      ].sort();
      const held = [...bundles.packages.get(name)!].filter((p) => p.startsWith('@aws-sdk/client-')).sort();
      expect.soft(held, name).toEqual(expected);
      expect.soft(bundles.packages.get(name)!.has('@aws-sdk/credential-provider-node'), `${name}: the default credential chain`).toBe(false);
    }
  });

  it('each bundle holds Powertools Metrics exactly when its role may put events (every metric the code counts is on a path that announces or stores a pair)', () => {
    // A count on a function without the metrics kit throws (shared/runtime/runtime.ts); every place the
    // services count sits on a path that also publishes on the bus, so the bus grant names the functions
    // that need the kit.
    for (const name of FUNCTION_NAMES) {
      expect.soft(bundles.packages.get(name)!.has('@aws-lambda-powertools/metrics'), name).toBe(PERMISSIONS[name]!.putEvents);
    }
  });

  it('each DynamoDB-only bundle stays within the 250 KB goal; the others within a ceiling per set of clients', async () => {
    // Minified index.mjs, KB of 1024 bytes. The DynamoDB-only functions meet the goal (issue 11) with about
    // 1.2 KB to spare; the others miss it by their clients (README "Performance" says by how much and why).
    // Each ceiling is the size reached plus 1-3 KB, so that growth fails here instead of passing unseen.
    const CEILINGS_KB: Record<string, number> = {
      dynamodb: 250,
      'dynamodb secrets-manager': 270,
      'dynamodb eventbridge': 291,
      'dynamodb eventbridge secrets-manager': 301,
      'dynamodb eventbridge kms secrets-manager': 356,
      // The S3 client and its presigner are about 180 KB of their own (README "Performance").
      'dynamodb s3': 438,
      'dynamodb eventbridge kms s3 secrets-manager': 566,
    };
    for (const name of FUNCTION_NAMES) {
      const clients = [...bundles.packages.get(name)!].filter((p) => p.startsWith('@aws-sdk/client-')).map((p) => p.slice('@aws-sdk/client-'.length)).sort().join(' ');
      expect.soft(CEILINGS_KB[clients], `${name}: a ceiling for the clients ${clients}`).toBeDefined();
      expect.soft((await stat(bundles.files.get(name)!)).size / 1024, `${name} (${clients}), KB`).toBeLessThanOrEqual(CEILINGS_KB[clients] ?? 0);
    }
  });

  it('each bundle loads in a fresh process and answers its success and its error', async () => {
    const all = cases();
    const names = Object.keys(all);
    const results = new Map<string, Awaited<ReturnType<typeof runBundle>> | Error>();
    // Two cores are shared: a few processes at a time.
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < names.length) {
          const name = names[next++]!;
          results.set(name, await runBundle(name, all[name]!).catch((error: Error) => error));
        }
      }),
    );
    for (const name of names) {
      const result = results.get(name)!;
      expect.soft(result instanceof Error ? result.message : null, `${name} ran`).toBeNull();
      if (result instanceof Error) continue;
      all[name]!.forEach((invocation, i) => {
        const answer = result.answers[i];
        expect.soft(answer?.thrown, `${name}: ${invocation.label} threw\n${result.output.slice(-2000)}`).toBeUndefined();
        if (answer && 'ok' in answer) {
          try {
            invocation.check(answer.ok);
          } catch (error) {
            expect.soft(`${(error as Error).message}\n${result.output.slice(-2000)}`, `${name}: ${invocation.label}`).toBe('');
          }
        }
      });
    }
  }, 60_000);
});
