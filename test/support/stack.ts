import { EMULATOR_DEFAULT_CLIENT, type AnafEmulator } from '../../local/anaf-emulator/server.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';

export { EMULATOR_DEFAULT_CLIENT };

/** A JSON answer from the API. */
export interface ApiAnswer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A thin client for the local API with the bearer key. */
export function apiClient(stack: Pick<LocalStack, 'apiUrl' | 'apiKey'>) {
  async function call<T = any>(method: string, path: string, body?: unknown, init: { auth?: boolean; raw?: string } = {}): Promise<ApiAnswer<T>> {
    const headers: Record<string, string> = {};
    if (init.auth !== false) headers.authorization = `Bearer ${stack.apiKey}`;
    if (body !== undefined || init.raw !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${stack.apiUrl}${path}`, {
      method,
      headers,
      body: init.raw ?? (body === undefined ? undefined : JSON.stringify(body)),
      redirect: 'manual',
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // HTML or empty
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }
  return {
    call,
    get: <T = any>(path: string) => call<T>('GET', path),
    put: <T = any>(path: string, body?: unknown) => call<T>('PUT', path, body),
    post: <T = any>(path: string, body?: unknown) => call<T>('POST', path, body),
    del: <T = any>(path: string) => call<T>('DELETE', path),
  };
}

export type Api = ReturnType<typeof apiClient>;

/** Whether this process's worker moto is taken by a stack that has not stopped yet. */
let workerMotoTaken = false;

/**
 * The moto of this vitest worker (test/support/moto-per-worker.ts), emptied with moto's reset, or null
 * outside vitest, without that setup, or while another stack of this file holds it (that one starts its own).
 */
async function takeWorkerMoto(): Promise<{ endpoint: string; release(): void } | null> {
  const poolId = Number(process.env.VITEST_POOL_ID);
  if (!poolId || workerMotoTaken) return null;
  const { inject } = await import('vitest');
  const endpoint = inject('motoEndpoints')?.[poolId - 1];
  if (!endpoint) return null;
  const reset = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
  if (reset.status !== 200) throw new Error(`moto reset: ${reset.status} ${await reset.text()}`);
  workerMotoTaken = true;
  return {
    endpoint,
    release: () => {
      workerMotoTaken = false;
    },
  };
}

/** Starts the local stack for a test file with the emulator approving non-interactively. */
export async function startTestStack(env: Record<string, string> = {}): Promise<LocalStack & { api: Api }> {
  const workerMoto = await takeWorkerMoto();
  let stack: LocalStack;
  try {
    stack = await startLocalStack({ motoEndpoint: workerMoto?.endpoint, env: testEnv(env) });
  } catch (error) {
    workerMoto?.release();
    throw error;
  }
  if (workerMoto) {
    const stop = stack.stop;
    stack.stop = async () => {
      await stop();
      workerMoto.release();
    };
  }
  return Object.assign(stack, { api: apiClient(stack) });
}

function testEnv(env: Record<string, string>): Record<string, string> {
  return {
    PORT: '0',
    ANAF_EMULATOR_AUTHORIZE_MODE: 'approve',
    LOCAL_API_KEY: 'test-key-0123456789abcdef',
    ANAF_TIMEOUT_MS: '1500',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
    ...env,
  };
}

export type TestStack = Awaited<ReturnType<typeof startTestStack>>;

/** Follows a redirect chain by hand (fetch with redirect: manual), returning each hop's response. */
export async function follow(url: string, maxHops = 5): Promise<Response[]> {
  const hops: Response[] = [];
  let next: string | null = url;
  while (next && hops.length < maxHops) {
    // Stop at the ERP's returnUrl (any non-local host): the test reads the Location instead.
    if (!['127.0.0.1', 'localhost'].includes(new URL(next).hostname)) break;
    const res: Response = await fetch(next, { redirect: 'manual' });
    hops.push(res);
    const location = res.headers.get('location');
    next = res.status >= 300 && res.status < 400 && location ? new URL(location, next).toString() : null;
  }
  return hops;
}

/** Stores the emulator's client for a tenant and registers companies. */
export async function setupTenant(api: Api, tenantId: string, cuis: string[]): Promise<void> {
  const client = await api.put(`/v1/tenants/${tenantId}/anaf-client`, {
    clientId: EMULATOR_DEFAULT_CLIENT.clientId,
    clientSecret: EMULATOR_DEFAULT_CLIENT.clientSecret,
  });
  if (client.status !== 200) throw new Error(`anaf-client: ${client.status} ${JSON.stringify(client.body)}`);
  for (const cui of cuis) {
    const res = await api.put(`/v1/tenants/${tenantId}/companies/${cui}`, { name: `Company ${cui}` });
    if (res.status !== 200) throw new Error(`company ${cui}: ${res.status} ${JSON.stringify(res.body)}`);
  }
}

/** Runs the whole connect flow (emulator in approve mode) and answers the token id. */
export async function connect(api: Api, tenantId: string, cuis: string[], returnUrl?: string): Promise<{ tokenId: string; hops: Response[] }> {
  const session = await api.post(`/v1/tenants/${tenantId}/connect-sessions`, { cuis, ...(returnUrl ? { returnUrl } : {}) });
  if (session.status !== 201) throw new Error(`session: ${session.status} ${JSON.stringify(session.body)}`);
  const hops = await follow(session.body.authorizeUrl);
  const companies = await api.get(`/v1/tenants/${tenantId}/companies/${cuis[0]}`);
  return { tokenId: companies.body.tokenId, hops };
}

/**
 * What a user of the manual flow did: log in at ANAF by hand (the emulator's current certificate) and
 * copy the pair from the token answer. The pair is live: an import rotates it.
 */
export async function pairObtainedByHand(emulator: AnafEmulator): Promise<{ accessToken: string; refreshToken: string }> {
  const redirectUri = 'https://manual.example.com/callback';
  const { clientId, clientSecret } = EMULATOR_DEFAULT_CLIENT;
  const query = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: redirectUri, token_content_type: 'jwt' });
  const authorize = await fetch(`${emulator.oauthBaseUrl}/authorize?${query}`, { redirect: 'manual' });
  const code = new URL(authorize.headers.get('location')!).searchParams.get('code')!;
  const token = await fetch(`${emulator.oauthBaseUrl}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, token_content_type: 'jwt' }),
  });
  if (token.status !== 200) throw new Error(`manual exchange: ${token.status}`);
  const body = (await token.json()) as { access_token: string; refresh_token: string };
  return { accessToken: body.access_token, refreshToken: body.refresh_token };
}

/** Valid CUIs for tests (correct control digits). */
export const CUIS = ['14399840', '18547290', '13548146', '12345674', '4221306', '1590082', '14837428', '11201891'] as const;
