/**
 * In-memory fakes of the ports (test/unit only). They keep the semantics services rely on: the token
 * store's conditional replace and lease (as the DynamoDB adapter's conditions), the due index ordered by
 * due time with cursor paging, a secret store whose deleted secrets refuse writes (as AWS does) and whose
 * listing pages through the token secrets with their creation time (the world's clock), and an
 * ANAF that rotates on every refresh and answers `invalid_grant` for a spent refresh token. Every
 * operation yields to the event loop (optionally with jitter) so concurrent calls interleave.
 */
import { randomBytes } from 'node:crypto';
import { AnafError, type AnafFailureKind } from '../../shared/domain/anaf-errors.js';
import { BrokerError } from '../../shared/domain/errors.js';
import type {
  AuditEvent,
  CompanyRecord,
  ConnectSession,
  OAuthStateRecord,
  TenantClient,
  TokenPair,
  TokenRecord,
} from '../../shared/domain/model.js';
import type {
  AnafOAuthClient,
  AnafTokenResponse,
  AuditStore,
  CompanyStore,
  EventPublisher,
  Logger,
  PairEscrow,
  SecretStore,
  StoredPair,
  SessionStore,
  TenantStore,
  TokenStore,
} from '../../shared/ports.js';
import { storeAuthorization } from '../../shared/services/authorization.js';
import type { ServiceDeps, ServiceSettings } from '../../shared/services/deps.js';
import { DEFAULT_LIMITS } from '../../shared/domain/anaf-limits.js';
import type { Parsed } from '../../shared/domain/efactura.js';
import type { EfacturaCall, EfacturaClient, InvoiceObjectStore, UploadKeyStore } from '../../shared/ports.js';
import type { UploadKeyRecord } from '../../shared/domain/model.js';
import { createFakeLimitStore } from './fake-limits.js';

const DAY_S = 86_400;
const clone = <T>(value: T): T => structuredClone(value);

/** A clock tests move by hand. */
export interface FakeClock {
  now(): Date;
  set(date: Date | string): void;
  advance(ms: number): void;
}

export function fakeClock(start = new Date('2026-03-01T08:00:00.000Z')): FakeClock {
  let t = start.getTime();
  return {
    now: () => new Date(t),
    set: (date) => {
      t = new Date(date).getTime();
    },
    advance: (ms) => {
      t += ms;
    },
  };
}

/** Yields to the event loop once or a few times, so concurrent callers interleave like over a network. */
function makeTick(jitter: boolean): () => Promise<void> {
  return async () => {
    const turns = jitter ? 1 + Math.floor(Math.random() * 3) : 1;
    for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
  };
}

// ---------------------------------------------------------------- JWTs
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A JWT-shaped fake token with ANAF's claims (random signature, never verified). */
export function fakeJwt(claims: { exp: number; serial?: string; clientappid?: string; use: 'access' | 'refresh' }): string {
  const payload = {
    iss: 'https://logincert.anaf.ro',
    sub: 'FAKE HOLDER',
    clientappid: claims.clientappid ?? 'fake-client-id',
    serial: claims.serial ?? '0a:0b:0c',
    exp: claims.exp,
    iat: claims.exp - 1,
    jti: randomBytes(8).toString('hex'),
    token_use: claims.use,
  };
  return `${b64({ alg: 'RS512', kid: 'fake' })}.${b64(payload)}.${randomBytes(16).toString('base64url')}`;
}

// ---------------------------------------------------------------- ANAF
export type FakeAnafFailure = AnafFailureKind | 'drop' | { kind: AnafFailureKind; retryAfterSeconds?: number; status?: number };

interface Grant {
  serial: string;
  clientId: string;
  current: string;
}

/** ANAF's /token endpoint in memory: rotation on every refresh, spent tokens refused, failures on demand. */
export interface FakeAnaf extends AnafOAuthClient {
  /** Issues a fresh pair for a certificate (what a code exchange would answer). */
  issue(input: { clientId: string; serial: string }): { accessToken: string; refreshToken: string };
  /** The next calls fail this way, in order. `drop` rotates and then loses the answer (a timeout). */
  failNext(failure: FakeAnafFailure, count?: number): void;
  lifetimes: { accessSeconds: number; refreshSeconds: number };
  /** Delay of each call (ms), to widen race windows. */
  latencyMs: number;
  clients: Map<string, string>;
  refreshCalls: number;
  /** Times a refresh arrived at ANAF (fails included). */
  calls: Array<{ at: Date; refreshToken: string }>;
  /** Refresh tokens that were presented after they had been spent. */
  spentPresented: string[];
  isLive(refreshToken: string): boolean;
  issued: string[];
}

export function createFakeAnaf(clock: FakeClock, options: { clientId?: string; clientSecret?: string } = {}): FakeAnaf {
  const grants: Grant[] = [];
  const spent = new Set<string>();
  const failures: FakeAnafFailure[] = [];
  const refreshExp = new Map<string, number>();

  const anaf: FakeAnaf = {
    lifetimes: { accessSeconds: 90 * DAY_S, refreshSeconds: 365 * DAY_S },
    latencyMs: 0,
    clients: new Map([[options.clientId ?? 'fake-client-id', options.clientSecret ?? 'fake-client-secret']]),
    refreshCalls: 0,
    calls: [],
    spentPresented: [],
    issued: [],
    issue({ clientId, serial }) {
      const pair = mint(clientId, serial);
      grants.push({ serial, clientId, current: pair.refreshToken });
      return pair;
    },
    failNext(failure, count = 1) {
      for (let i = 0; i < count; i++) failures.push(failure);
    },
    isLive(refreshToken) {
      const grant = grants.find((g) => g.current === refreshToken);
      return Boolean(grant) && !spent.has(refreshToken) && (refreshExp.get(refreshToken) ?? 0) * 1000 > clock.now().getTime();
    },
    async exchangeCode() {
      throw new Error('the fake ANAF has no authorize step; use issue()');
    },
    async refresh({ clientId, clientSecret, refreshToken }) {
      anaf.refreshCalls += 1;
      anaf.calls.push({ at: clock.now(), refreshToken });
      if (anaf.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, anaf.latencyMs));
      else await new Promise((resolve) => setImmediate(resolve));
      const failure = failures.shift();
      if (failure && failure !== 'drop') throw toError(failure);
      if (anaf.clients.get(clientId) !== clientSecret) throw new AnafError('invalid_client', 'ANAF refused the request (HTTP 400, invalid_client)', { status: 400, oauthError: 'invalid_client' });
      const grant = grants.find((g) => g.current === refreshToken);
      if (spent.has(refreshToken)) anaf.spentPresented.push(refreshToken);
      if (!grant || spent.has(refreshToken) || (refreshExp.get(refreshToken) ?? 0) * 1000 <= clock.now().getTime()) {
        throw new AnafError('invalid_grant', 'ANAF refused the request (HTTP 400, invalid_grant)', { status: 400, oauthError: 'invalid_grant' });
      }
      spent.add(refreshToken);
      const pair = mint(grant.clientId, grant.serial);
      grant.current = pair.refreshToken;
      if (failure === 'drop') throw new AnafError('timeout', 'the connection to ANAF broke before its answer');
      return pair;
    },
  };

  function mint(clientId: string, serial: string): { accessToken: string; refreshToken: string } {
    const now = Math.floor(clock.now().getTime() / 1000);
    const accessToken = fakeJwt({ exp: now + anaf.lifetimes.accessSeconds, serial, clientappid: clientId, use: 'access' });
    const refreshToken = fakeJwt({ exp: now + anaf.lifetimes.refreshSeconds, serial, clientappid: clientId, use: 'refresh' });
    refreshExp.set(refreshToken, now + anaf.lifetimes.refreshSeconds);
    anaf.issued.push(accessToken, refreshToken);
    return { accessToken, refreshToken };
  }

  function toError(failure: Exclude<FakeAnafFailure, 'drop'>): AnafError {
    const spec = typeof failure === 'string' ? { kind: failure } : failure;
    const status = 'status' in spec && spec.status !== undefined ? spec.status : spec.kind === 'unavailable' ? 503 : spec.kind === 'timeout' ? undefined : 400;
    return new AnafError(spec.kind, `injected ${spec.kind}`, {
      status,
      oauthError: spec.kind === 'invalid_client' || spec.kind === 'invalid_grant' ? spec.kind : undefined,
      retryAfterSeconds: 'retryAfterSeconds' in spec ? spec.retryAfterSeconds : undefined,
    });
  }

  return anaf;
}

// ---------------------------------------------------------------- stores
export interface FakeTokenStore extends TokenStore {
  records: Map<string, TokenRecord>;
  /** Every `get` (tenantId/tokenId), in order. */
  reads: string[];
  dueQueries: number;
}

const tokenKey = (tenantId: string, tokenId: string) => `${tenantId}/${tokenId}`;

function createFakeTokenStore(tick: () => Promise<void>, companies: Map<string, CompanyRecord>): FakeTokenStore {
  const records = new Map<string, TokenRecord>();
  const serials = new Map<string, string>();
  const store: FakeTokenStore = {
    records,
    reads: [],
    dueQueries: 0,
    async get(tenantId, tokenId) {
      await tick();
      store.reads.push(tokenKey(tenantId, tokenId));
      const record = records.get(tokenKey(tenantId, tokenId));
      return record ? clone(record) : null;
    },
    async getMany(keys) {
      await tick();
      return keys.map(({ tenantId, tokenId }) => {
        store.reads.push(tokenKey(tenantId, tokenId));
        const record = records.get(tokenKey(tenantId, tokenId));
        return record ? clone(record) : null;
      });
    },
    async list(tenantId) {
      await tick();
      return [...records.values()].filter((r) => r.tenantId === tenantId).map(clone);
    },
    async findBySerial(tenantId, serial) {
      await tick();
      const tokenId = serials.get(`${tenantId}/${serial}`);
      const record = tokenId ? records.get(tokenKey(tenantId, tokenId)) : undefined;
      return record && record.status !== 'disconnected' ? clone(record) : null;
    },
    async connect(write) {
      await tick();
      const k = tokenKey(write.token.tenantId, write.token.tokenId);
      const existing = records.get(k);
      const serialKey = write.token.serial ? `${write.token.tenantId}/${write.token.serial}` : null;
      const conflict = write.isNew
        ? Boolean(existing) || Boolean(serialKey && serials.has(serialKey))
        : !existing || existing.version !== write.expectedVersion || existing.leaseOwner !== write.leaseOwner || existing.status === 'disconnected';
      if (conflict || write.cuis.some((cui) => !companies.has(`${write.token.tenantId}/${cui}`))) {
        throw new BrokerError('CONFLICT', 'the connection changed while it was being stored');
      }
      records.set(k, clone(write.token));
      if (write.isNew && serialKey) serials.set(serialKey, write.token.tokenId);
      for (const cui of write.cuis) {
        const company = companies.get(`${write.token.tenantId}/${cui}`)!;
        companies.set(`${write.token.tenantId}/${cui}`, { ...company, tokenId: write.token.tokenId, updatedAt: write.completedAt });
      }
    },
    async replace(record, condition) {
      await tick();
      const current = records.get(tokenKey(record.tenantId, record.tokenId));
      if (!current || current.version !== condition.expectedVersion) return false;
      if (condition.leaseOwner && current.leaseOwner !== condition.leaseOwner) return false;
      records.set(tokenKey(record.tenantId, record.tokenId), clone(record));
      return true;
    },
    async acquireLease(tenantId, tokenId, owner, now, leaseSeconds) {
      await tick();
      const current = records.get(tokenKey(tenantId, tokenId));
      if (!current) return null;
      if (current.leaseExpiresAt && Date.parse(current.leaseExpiresAt) >= now.getTime()) return null;
      const leased = { ...current, leaseOwner: owner, leaseExpiresAt: new Date(now.getTime() + leaseSeconds * 1000).toISOString() };
      records.set(tokenKey(tenantId, tokenId), leased);
      return clone(leased);
    },
    async releaseLease(tenantId, tokenId, owner) {
      await tick();
      const current = records.get(tokenKey(tenantId, tokenId));
      if (current && current.leaseOwner === owner) {
        records.set(tokenKey(tenantId, tokenId), { ...current, leaseOwner: null, leaseExpiresAt: null });
      }
    },
    async extendLease(tenantId, tokenId, owner, now, leaseSeconds) {
      await tick();
      const current = records.get(tokenKey(tenantId, tokenId));
      if (!current || current.leaseOwner !== owner || !current.leaseExpiresAt || Date.parse(current.leaseExpiresAt) <= now.getTime()) return false;
      records.set(tokenKey(tenantId, tokenId), { ...current, leaseExpiresAt: new Date(now.getTime() + leaseSeconds * 1000).toISOString() });
      return true;
    },
    async disconnect(current, disconnected) {
      await tick();
      const k = tokenKey(current.tenantId, current.tokenId);
      const stored = records.get(k);
      if (!stored || stored.version !== current.version) throw new BrokerError('CONFLICT', 'the token changed while it was being disconnected');
      records.set(k, clone(disconnected));
      if (current.serial && serials.get(`${current.tenantId}/${current.serial}`) === current.tokenId) serials.delete(`${current.tenantId}/${current.serial}`);
    },
    async healthStats() {
      await tick();
      const all = [...records.values()];
      const active = all.filter((r) => r.status === 'active' && r.dueAt !== null);
      const nearest = active.map((r) => r.refreshExpiresAt).sort()[0] ?? null;
      return { active: active.length, reauthRequired: all.filter((r) => r.status === 'reauth-required').length, nearestRefreshExpiry: nearest };
    },
    async queryDue(now, limit, cursor) {
      await tick();
      store.dueQueries += 1;
      const position = (r: TokenRecord) => `${r.dueAt}|${tokenKey(r.tenantId, r.tokenId)}`;
      const after = cursor ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
      const due = [...records.values()]
        .filter((r) => r.dueAt !== null && Date.parse(r.dueAt) <= now.getTime())
        .sort((a, b) => position(a).localeCompare(position(b)))
        .filter((r) => position(r) > after);
      const page = due.slice(0, limit);
      const last = page[page.length - 1];
      return {
        items: page.map((r) => ({ tenantId: r.tenantId, tokenId: r.tokenId })),
        // Like DynamoDB: a full page always carries a cursor, even when nothing follows.
        cursor: page.length === limit && last ? Buffer.from(position(last)).toString('base64url') : undefined,
      };
    },
  };
  return store;
}

export interface FakeSecretStore extends SecretStore {
  /** The current version of each secret. */
  pairs: Map<string, TokenPair & { versionId: string }>;
  /** Every version of each secret, by version id. */
  versions: Map<string, Map<string, TokenPair>>;
  /** When each token secret was created (by the world's clock). */
  created: Map<string, string>;
  /** Page size of listTokenSecrets. */
  listPageSize: number;
  /** Every pair written, in order (tenantId/tokenId, version). */
  writes: Array<{ key: string; version: number }>;
  deleted: Set<string>;
  clientSecrets: Map<string, string>;
}

function createFakeSecretStore(tick: () => Promise<void>, clock: FakeClock): FakeSecretStore {
  const store: FakeSecretStore = {
    pairs: new Map(),
    versions: new Map(),
    created: new Map(),
    listPageSize: 100,
    writes: [],
    deleted: new Set(),
    clientSecrets: new Map(),
    async putClientSecret(tenantId, clientSecret) {
      await tick();
      store.clientSecrets.set(tenantId, clientSecret);
    },
    async getClientSecret(tenantId) {
      await tick();
      return store.clientSecrets.get(tenantId) ?? null;
    },
    async putTokenPair(tenantId, tokenId, pair, versionId) {
      await tick();
      const k = tokenKey(tenantId, tokenId);
      // AWS refuses a new value on a secret scheduled for deletion.
      if (store.deleted.has(k)) throw Object.assign(new Error('secret scheduled for deletion'), { name: 'InvalidRequestException' });
      const versions = store.versions.get(k) ?? new Map<string, TokenPair>();
      const existing = versions.get(versionId);
      // AWS: the same ClientRequestToken with the same value is a no-op, with another value an error.
      if (existing && JSON.stringify(existing) !== JSON.stringify(pair)) {
        throw Object.assign(new Error('version id reused with another value'), { name: 'ResourceExistsException' });
      }
      versions.set(versionId, clone(pair));
      store.versions.set(k, versions);
      store.pairs.set(k, { ...clone(pair), versionId });
      if (!store.created.has(k)) store.created.set(k, clock.now().toISOString());
      store.writes.push({ key: k, version: pair.version });
    },
    async getTokenPair(tenantId, tokenId, versionId) {
      await tick();
      const k = tokenKey(tenantId, tokenId);
      if (store.deleted.has(k)) return null;
      if (versionId) {
        const pair = store.versions.get(k)?.get(versionId);
        return pair ? { ...clone(pair), versionId } : null;
      }
      const pair = store.pairs.get(k);
      return pair ? clone(pair) : null;
    },
    async tokenSecretCreatedAt(tenantId, tokenId) {
      await tick();
      const k = tokenKey(tenantId, tokenId);
      return store.deleted.has(k) ? null : (store.created.get(k) ?? null);
    },
    async deleteTokenPair(tenantId, tokenId) {
      await tick();
      store.deleted.add(tokenKey(tenantId, tokenId));
    },
    async listTokenSecrets(cursor) {
      await tick();
      const start = cursor ? Number(cursor) : 0;
      const keys = [...store.created.keys()].slice(start, start + store.listPageSize);
      const secrets = keys.map((k) => {
        const [tenantId, tokenId] = k.split('/') as [string, string];
        return { tenantId, tokenId, createdAt: store.created.get(k)!, deleted: store.deleted.has(k) };
      });
      const next = start + keys.length;
      return { secrets, ...(next < store.created.size ? { cursor: String(next) } : {}) };
    },
  };
  return store;
}

export interface FakeEscrow extends PairEscrow {
  items: Map<string, StoredPair>;
}

function createFakeEscrow(tick: () => Promise<void>): FakeEscrow {
  const escrow: FakeEscrow = {
    items: new Map(),
    async put(tenantId, tokenId, pair, versionId) {
      await tick();
      escrow.items.set(tokenKey(tenantId, tokenId), { ...clone(pair), versionId });
    },
    async get(tenantId, tokenId) {
      await tick();
      const item = escrow.items.get(tokenKey(tenantId, tokenId));
      return item ? clone(item) : null;
    },
    async delete(tenantId, tokenId, versionId) {
      await tick();
      if (escrow.items.get(tokenKey(tenantId, tokenId))?.versionId === versionId) escrow.items.delete(tokenKey(tenantId, tokenId));
    },
  };
  return escrow;
}

function createFakeCompanyStore(tick: () => Promise<void>, companies: Map<string, CompanyRecord>): CompanyStore {
  const list = async (tenantId: string) => {
    await tick();
    return [...companies.values()].filter((c) => c.tenantId === tenantId).map(clone);
  };
  return {
    async get(tenantId, cui) {
      await tick();
      const company = companies.get(`${tenantId}/${cui}`);
      return company ? clone(company) : null;
    },
    list,
    async put(company) {
      await tick();
      const existing = companies.get(`${company.tenantId}/${company.cui}`);
      const stored = { ...company, createdAt: existing?.createdAt ?? company.createdAt };
      companies.set(`${company.tenantId}/${company.cui}`, clone(stored));
      return stored;
    },
    async delete(tenantId, cui) {
      await tick();
      companies.delete(`${tenantId}/${cui}`);
    },
    async listByToken(tenantId, tokenId) {
      return (await list(tenantId)).filter((c) => c.tokenId === tokenId);
    },
    async setSpvRights(tenantId, cui, rights, at) {
      await tick();
      const company = companies.get(`${tenantId}/${cui}`);
      if (company) companies.set(`${tenantId}/${cui}`, { ...company, spvRights: rights, spvRightsAt: at });
    },
    async unlinkToken(tenantId, cui, tokenId, at) {
      await tick();
      const company = companies.get(`${tenantId}/${cui}`);
      if (company?.tokenId === tokenId) companies.set(`${tenantId}/${cui}`, { ...company, tokenId: null, updatedAt: at });
    },
  };
}

function createFakeTenantStore(tick: () => Promise<void>): TenantStore & { tenants: Map<string, TenantClient> } {
  const tenants = new Map<string, TenantClient>();
  return {
    tenants,
    async get(tenantId) {
      await tick();
      const tenant = tenants.get(tenantId);
      return tenant ? clone(tenant) : null;
    },
    async put(client) {
      await tick();
      tenants.set(client.tenantId, clone(client));
    },
  };
}

function createFakeSessionStore(tick: () => Promise<void>): SessionStore & { sessions: Map<string, ConnectSession> } {
  const sessions = new Map<string, ConnectSession>();
  const states = new Map<string, OAuthStateRecord>();
  return {
    sessions,
    async create(session) {
      await tick();
      sessions.set(session.sessionId, clone(session));
    },
    async get(sessionId) {
      await tick();
      const session = sessions.get(sessionId);
      return session ? clone(session) : null;
    },
    async putState(state) {
      await tick();
      states.set(state.stateHash, clone(state));
    },
    async consumeState(stateHash, at) {
      await tick();
      const state = states.get(stateHash);
      if (!state) return null;
      const firstUse = !state.consumedAt;
      if (firstUse) state.consumedAt = at;
      return { record: clone(state), firstUse };
    },
    async recordFailure(sessionId, failure, options = {}) {
      await tick();
      const session = sessions.get(sessionId);
      if (!session || session.completedAt) return false;
      if (options.once && session.lastError === failure.reason) return false;
      session.lastError = failure.reason;
      session.lastErrorAt = failure.at;
      return true;
    },
    async closeOpenFor(tenantId, tokenId, exceptSessionId, at, completedBy = tokenId) {
      await tick();
      let closed = 0;
      for (const session of sessions.values()) {
        if (session.tenantId !== tenantId || session.forTokenId !== tokenId || session.sessionId === exceptSessionId) continue;
        if (session.completedAt || Date.parse(session.expiresAt) <= Date.parse(at)) continue;
        session.completedAt = at;
        session.tokenId = completedBy;
        closed++;
      }
      return closed;
    },
  };
}

function createFakeAuditStore(tick: () => Promise<void>): AuditStore & { entries: AuditEvent[] } {
  const entries: AuditEvent[] = [];
  const ids = new Set<string>();
  return {
    entries,
    async append(event, options = {}) {
      await tick();
      if (options.id) {
        if (ids.has(options.id)) return;
        ids.add(options.id);
      }
      entries.push(clone(event));
    },
    async list(tenantId, limit, cursor) {
      await tick();
      const mine = entries
        .map((event, i) => ({ event, i }))
        .filter(({ event }) => event.tenantId === tenantId)
        .sort((a, b) => b.event.at.localeCompare(a.event.at) || b.i - a.i);
      const start = cursor ? Number(cursor) : 0;
      const page = mine.slice(start, start + limit).map(({ event }) => clone(event));
      return { events: page, nextCursor: start + limit < mine.length ? String(start + limit) : null };
    },
  };
}

// ---------------------------------------------------------------- e-Factura

type EfacturaMethod = keyof EfacturaClient;

/** A scripted e-Factura client: `answers[method]` is taken in order; a call nobody scripted fails as ANAF_REJECTED. */
export interface FakeEfactura extends EfacturaClient {
  answers: Partial<Record<EfacturaMethod, Parsed<unknown>[]>>;
  calls: Array<{ method: EfacturaMethod; call?: EfacturaCall; input: unknown }>;
}

export function createFakeEfactura(): FakeEfactura {
  const answers: FakeEfactura['answers'] = {};
  const calls: FakeEfactura['calls'] = [];
  const next = async (method: EfacturaMethod, call: EfacturaCall | undefined, input: unknown): Promise<Parsed<never>> => {
    calls.push({ method, call, input });
    const answer = answers[method]?.shift();
    return (answer ?? { ok: false, failure: { code: 'ANAF_REJECTED', messages: [`fake: no answer scripted for ${method}`] } }) as Parsed<never>;
  };
  return {
    answers,
    calls,
    upload: (call, input) => next('upload', call, input),
    status: (call, input) => next('status', call, input),
    listMessages: (call, input) => next('listMessages', call, input),
    listMessagesPaged: (call, input) => next('listMessagesPaged', call, input),
    download: (call, input) => next('download', call, input),
    validate: (input) => next('validate', undefined, input),
    pdf: (input) => next('pdf', undefined, input),
  };
}

function createFakeUploadKeyStore(tick: () => Promise<void>): UploadKeyStore {
  const records = new Map<string, UploadKeyRecord>();
  const id = (tenantId: string, key: string) => `${tenantId}/${key}`;
  return {
    async claim(record, now) {
      await tick();
      const existing = records.get(id(record.tenantId, record.key));
      if (existing && Date.parse(existing.expiresAt) > now.getTime()) return { claimed: false, existing: clone(existing) };
      records.set(id(record.tenantId, record.key), clone(record));
      return { claimed: true };
    },
    async settle(tenantId, key, outcome) {
      await tick();
      const existing = records.get(id(tenantId, key));
      if (existing) records.set(id(tenantId, key), { ...existing, state: outcome.state, uploadId: outcome.state === 'done' ? outcome.uploadId : null });
    },
    async release(tenantId, key) {
      await tick();
      records.delete(id(tenantId, key));
    },
  };
}

// ---------------------------------------------------------------- world
export interface CapturedLog {
  level: 'info' | 'warn' | 'error';
  message: string;
  extra?: Record<string, unknown>;
}

/** The invoice bucket in memory: `objects` by key; a presigned URL is `fake-s3://<key>`. */
export function createFakeInvoiceObjects(): InvoiceObjectStore & { objects: Map<string, Uint8Array> } {
  const objects = new Map<string, Uint8Array>();
  return {
    objects,
    presignPut: async (key, expiresInSeconds) => `fake-s3://${key}?expires=${expiresInSeconds}`,
    async read(key, maxBytes) {
      const bytes = objects.get(key);
      if (!bytes) return { kind: 'missing' };
      if (bytes.byteLength > maxBytes) return { kind: 'too-large', sizeBytes: bytes.byteLength };
      return { kind: 'found', bytes };
    },
    async delete(key) {
      objects.delete(key);
    },
  };
}

export interface FakeWorld {
  deps: ServiceDeps;
  clock: FakeClock;
  anaf: FakeAnaf;
  tokens: FakeTokenStore;
  secrets: FakeSecretStore;
  escrow: FakeEscrow;
  companies: Map<string, CompanyRecord>;
  audit: AuditEvent[];
  published: AuditEvent[];
  logs: CapturedLog[];
  /**
   * Stores the tenant's client (the fake ANAF's first client unless `clientId` names another one it
   * knows), registers companies and connects them with a fresh pair from the fake ANAF.
   */
  connect(input: { tenantId: string; cuis: string[]; serial?: string; clientId?: string }): Promise<TokenRecord>;
}

export const FAKE_SETTINGS: ServiceSettings = {
  publicBaseUrl: 'https://broker.example.test',
  callbackUrl: 'https://broker.example.test/v1/oauth/callback',
  anafOauthBaseUrl: 'https://anaf.example.test/anaf-oauth2/v1',
  returnUrlAllowlist: ['https://erp.example.test'],
  refreshMarginDays: 30,
  accessTokenMinValiditySeconds: 3600,
  sweepConcurrency: 4,
  manualRefreshCooldownSeconds: 60,
  maxRotationsPerDay: 24,
  rotationCap: null,
  anafTimeoutMs: 1000,
  defaultAnafEnvironment: 'test',
  efacturaTimeoutMs: 25_000,
  anafLimits: DEFAULT_LIMITS,
};

export function createFakeWorld(options: { settings?: Partial<ServiceSettings>; jitter?: boolean; clock?: FakeClock } = {}): FakeWorld {
  const tick = makeTick(options.jitter ?? false);
  const clock = options.clock ?? fakeClock();
  const companies = new Map<string, CompanyRecord>();
  const tokens = createFakeTokenStore(tick, companies);
  const secrets = createFakeSecretStore(tick, clock);
  const escrow = createFakeEscrow(tick);
  const auditStore = createFakeAuditStore(tick);
  const published: AuditEvent[] = [];
  const events: EventPublisher = {
    async publish(event) {
      await tick();
      published.push(clone(event));
    },
  };
  const logs: CapturedLog[] = [];
  const logger: Logger = {
    info: (message, extra) => logs.push({ level: 'info', message, extra }),
    warn: (message, extra) => logs.push({ level: 'warn', message, extra }),
    error: (message, extra) => logs.push({ level: 'error', message, extra }),
  };
  const anaf = createFakeAnaf(clock);
  const tenants = createFakeTenantStore(tick);
  const deps: ServiceDeps = {
    tenants,
    companies: createFakeCompanyStore(tick, companies),
    tokens,
    sessions: createFakeSessionStore(tick),
    audit: auditStore,
    events,
    secrets,
    escrow,
    anaf,
    efactura: createFakeEfactura(),
    limits: createFakeLimitStore(),
    uploadKeys: createFakeUploadKeyStore(tick),
    invoiceObjects: createFakeInvoiceObjects(),
    clock,
    logger,
    settings: { ...FAKE_SETTINGS, ...options.settings },
  };
  let serials = 0;
  return {
    deps,
    clock,
    anaf,
    tokens,
    secrets,
    escrow,
    companies,
    audit: auditStore.entries,
    published,
    logs,
    async connect({ tenantId, cuis, serial, clientId: wanted }) {
      const now = clock.now().toISOString();
      const clientId = wanted ?? [...anaf.clients.keys()][0]!;
      const clientSecret = anaf.clients.get(clientId)!;
      if (!tenants.tenants.has(tenantId)) {
        await tenants.put({ tenantId, clientId, redirectUri: FAKE_SETTINGS.callbackUrl, createdAt: now, updatedAt: now });
        await secrets.putClientSecret(tenantId, clientSecret);
      }
      for (const cui of cuis) {
        if (!companies.has(`${tenantId}/${cui}`)) companies.set(`${tenantId}/${cui}`, { tenantId, cui, name: null, tokenId: null, createdAt: now, updatedAt: now });
      }
      const pair = anaf.issue({ clientId, serial: serial ?? `0a:00:${(++serials).toString(16).padStart(2, '0')}` });
      return storeAuthorization(deps, { tenantId, pair, cuis, source: 'callback', replaceActive: true, leaseDeadline: clock.now().getTime() });
    },
  };
}

/**
 * Makes `method` of `target` throw `error` on its next `times` calls (after `skip` good calls), then
 * behave again. Returns a counter of the failures injected. This is "the process died at this step"
 * as far as the service can tell.
 */
export function breakMethod<T extends object, K extends keyof T>(
  target: T,
  method: K,
  options: { times?: number; skip?: number; error?: () => Error; when?: (...args: any[]) => boolean } = {},
): { failures: number; restore(): void } {
  const original = target[method] as unknown as (...args: unknown[]) => Promise<unknown>;
  let remaining = options.times ?? Number.POSITIVE_INFINITY;
  let skip = options.skip ?? 0;
  const state = {
    failures: 0,
    restore: () => {
      target[method] = original as unknown as T[K];
    },
  };
  target[method] = (async (...args: unknown[]) => {
    if (remaining > 0 && (!options.when || options.when(...args))) {
      if (skip > 0) {
        skip -= 1;
      } else {
        remaining -= 1;
        state.failures += 1;
        throw options.error?.() ?? Object.assign(new Error(`injected failure in ${String(method)}`), { name: 'InjectedCrash' });
      }
    }
    return original.apply(target, args);
  }) as unknown as T[K];
  return state;
}
