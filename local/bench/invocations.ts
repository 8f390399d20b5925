import { NON_HTTP_FUNCTIONS } from '../../shared/http/routes.js';
import { CUIS, connect, follow, pairObtainedByHand, setupTenant, type Api } from '../../test/support/stack.js';
import type { AnafEmulator } from '../anaf-emulator/server.js';
import { routeEvent } from '../bundles.js';

/** What a bench invocation needs from the running stack. */
export interface BenchStack {
  apiUrl: string;
  api: Api;
  emulator: AnafEmulator;
}

/**
 * One success invocation of a function, repeatable: `prepare` makes what a single run uses up (a
 * state, a company to delete, a live pair) through the local gateway, outside the timing, and answers
 * the event; `check` throws unless the answer is the success the run meant to measure.
 */
export interface Invocation {
  prepare(): Promise<unknown>;
  check(answer: any): void;
}

let n = 0;
/** A tenant id of its own per fixture, so that runs never see each other's tokens. */
export const benchTenant = (label: string) => `bench-${label}-${(++n).toString(36)}-${Date.now().toString(36)}`;

const succeeded = (label: string) => (answer: any) => {
  const status = answer?.statusCode;
  if (typeof status !== 'number' || status >= 400) throw new Error(`${label}: expected a success, got ${JSON.stringify(answer).slice(0, 500)}`);
};

/** A tenant with the emulator's client and one connected company: answers the tenant and the token. */
export async function connectedTenant(api: Api, label: string, cui: string = CUIS[0]): Promise<{ tenantId: string; tokenId: string }> {
  const tenantId = benchTenant(label);
  await setupTenant(api, tenantId, [cui]);
  const { tokenId } = await connect(api, tenantId, [cui]);
  if (!tokenId) throw new Error(`${label}: the connect flow did not link ${cui}`);
  return { tenantId, tokenId };
}

/** The query string the emulator sends the browser back to the callback with, for a fresh session. */
export async function callbackQuery(stack: BenchStack, tenantId: string, cui: string): Promise<string> {
  const session = await stack.api.post(`/v1/tenants/${tenantId}/connect-sessions`, { cuis: [cui] });
  if (session.status !== 201) throw new Error(`connect session: ${session.status} ${JSON.stringify(session.body)}`);
  const toAnaf = (await follow(session.body.authorizeUrl, 1))[0]!.headers.get('location')!;
  const back = await fetch(toAnaf, { redirect: 'manual' });
  return new URL(back.headers.get('location')!).search;
}

/** A repeatable success invocation for every function (the keys are FUNCTION_NAMES). */
export async function successInvocations(stack: BenchStack): Promise<Record<string, Invocation>> {
  const { api } = stack;
  const http = (method: string, path: string, body?: unknown) => routeEvent(stack.apiUrl, method, path, body);
  const INVOICE_XML = '<?xml version="1.0" encoding="UTF-8"?><Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>';
  const read = await connectedTenant(api, 'read');
  await api.put(`/v1/tenants/${read.tenantId}/companies/${CUIS[1]}`, { name: 'Bench SRL' });
  const t = `/v1/tenants/${read.tenantId}`;
  const session = (await api.post(`${t}/connect-sessions`, { cuis: [CUIS[1]] })).body;
  const refresh = await connectedTenant(api, 'refresh');
  const manual = await connectedTenant(api, 'manual');
  const clientTenant = benchTenant('client');
  await setupTenant(api, clientTenant, []);
  const client = { clientId: 'bench-client', clientSecret: 'bench-secret-0123456789' };
  const event = (e: unknown) => async () => e;
  return {
    'anaf-client-put': { prepare: async () => http('PUT', `/v1/tenants/${clientTenant}/anaf-client`, client), check: succeeded('anaf-client-put') },
    'anaf-client-get': { prepare: event(http('GET', `${t}/anaf-client`)), check: succeeded('anaf-client-get') },
    'company-put': { prepare: event(http('PUT', `${t}/companies/${CUIS[1]}`, { name: 'Bench SRL' })), check: succeeded('company-put') },
    'company-get': { prepare: event(http('GET', `${t}/companies/${CUIS[0]}`)), check: succeeded('company-get') },
    'company-delete': {
      prepare: async () => {
        await api.put(`${t}/companies/${CUIS[2]}`, { name: 'Bench delete SRL' });
        return http('DELETE', `${t}/companies/${CUIS[2]}`);
      },
      check: succeeded('company-delete'),
    },
    'access-token-get': { prepare: event(http('GET', `${t}/companies/${CUIS[0]}/access-token`)), check: succeeded('access-token-get') },
    'connect-session-create': { prepare: event(http('POST', `${t}/connect-sessions`, { cuis: [CUIS[1]] })), check: succeeded('connect-session-create') },
    'connect-session-get': { prepare: event(http('GET', `${t}/connect-sessions/${session.sessionId}`)), check: succeeded('connect-session-get') },
    'token-import': {
      prepare: async () => {
        const tenantId = benchTenant('import');
        await setupTenant(api, tenantId, [CUIS[3]]);
        return http('POST', `/v1/tenants/${tenantId}/tokens`, { ...(await pairObtainedByHand(stack.emulator)), cuis: [CUIS[3]] });
      },
      check: succeeded('token-import'),
    },
    'token-get': { prepare: event(http('GET', `${t}/tokens/${read.tokenId}`)), check: succeeded('token-get') },
    'token-refresh': { prepare: event(http('POST', `/v1/tenants/${refresh.tenantId}/tokens/${refresh.tokenId}/refresh`)), check: succeeded('token-refresh') },
    'token-delete': {
      prepare: async () => {
        const gone = await connectedTenant(api, 'delete');
        return http('DELETE', `/v1/tenants/${gone.tenantId}/tokens/${gone.tokenId}`);
      },
      check: succeeded('token-delete'),
    },
    'events-list': { prepare: event(http('GET', `${t}/events`)), check: succeeded('events-list') },
    'oauth-authorize': { prepare: event(http('GET', `/v1/oauth/authorize?session=${encodeURIComponent(session.sessionId)}`)), check: succeeded('oauth-authorize') },
    'oauth-callback': {
      prepare: async () => {
        const tenantId = benchTenant('callback');
        await setupTenant(api, tenantId, [CUIS[4]]);
        return http('GET', `/v1/oauth/callback${await callbackQuery(stack, tenantId, CUIS[4])}`);
      },
      check: succeeded('oauth-callback'),
    },
    efactura: { prepare: event(http('GET', `${t}/companies/${CUIS[0]}/messages?days=1`)), check: succeeded('efactura') },
    'invoice-uploads': { prepare: event(http('POST', `${t}/companies/${CUIS[0]}/invoice-uploads`)), check: succeeded('invoice-uploads') },
    'efactura-public': { prepare: event(routeEvent(stack.apiUrl, 'POST', '/v1/validate?standard=FACT1', INVOICE_XML, 'application/xml')), check: succeeded('efactura-public') },
    [NON_HTTP_FUNCTIONS.sweep]: {
      prepare: event({ version: '0', id: 'bench', 'detail-type': 'Scheduled Event', source: 'aws.events', account: '000000000000', time: new Date().toISOString(), region: process.env.AWS_REGION, resources: [], detail: {} }),
      check: (a) => {
        if (typeof a?.due !== 'number') throw new Error(`sweep: ${JSON.stringify(a).slice(0, 500)}`);
      },
    },
    [NON_HTTP_FUNCTIONS.manualRefresh]: {
      prepare: event({ tenantId: manual.tenantId, tokenId: manual.tokenId }),
      check: (a) => {
        if (a?.tokenId !== manual.tokenId) throw new Error(`manual refresh: ${JSON.stringify(a).slice(0, 500)}`);
      },
    },
  };
}
