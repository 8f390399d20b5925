import { createHash } from 'node:crypto';
import { PUBLIC_SCOPE, type AnafCall } from '../domain/anaf-limits.js';
import type { EfacturaFailure, MessagePage, Parsed, PublicStandard, UploadStandard, UploadState } from '../domain/efactura.js';
import { BrokerError, type ErrorCode } from '../domain/errors.js';
import type { CompanyRecord, SpvRights, UploadKeyRecord } from '../domain/model.js';
import { secondsUntilRomaniaMidnight } from '../domain/romania-time.js';
import { zipPart, type DownloadPart } from '../domain/zip.js';
import type { EfacturaCall } from '../ports.js';
import { usableAccessToken } from './access.js';
import { takeAnafLimits } from './anaf-limits.js';
import type { ServiceDeps } from './deps.js';
import { anafEnvironmentOf, requireTenant } from './tenants.js';

/** Below this much time left in the request's budget, ANAF is not called at all (it could not answer in time). */
const MIN_CALL_MS = 1_000;
/** ANAF refuses an `endTime` in the future by its own clock, even by a second. */
export const LIST_END_MARGIN_MS = 60_000;
/** ANAF refuses a `startTime` older than 60 days at the moment it reads the request. */
const LIST_START_MARGIN_MS = 60_000;
const DAY_MS = 86_400_000;
export const MAX_LIST_DAYS = 60;
/** How long an Idempotency-Key answers the first result. */
export const UPLOAD_KEY_TTL_SECONDS = 86_400;
/**
 * A first request still `in-flight` after this long has died (the upload functions run at most 240 s):
 * its outcome at ANAF is unknown, so the key is then treated as uncertain.
 */
const IN_FLIGHT_STALE_MS = 300_000;
const MAX_ANAF_MESSAGE_CHARS = 1_500;

/** One e-Factura request: the tenant's company, its environment, and when the request started (its time budget). */
interface CompanyCall {
  tenantId: string;
  cui: string;
  company: CompanyRecord;
  environment: 'test' | 'prod';
  startedMs: number;
}

async function companyCall(deps: ServiceDeps, tenantId: string, cui: string): Promise<CompanyCall> {
  const startedMs = deps.clock.now().getTime();
  // Both reads at once; the tenant's error wins, as when they ran one after the other.
  const [tenantRead, companyRead] = await Promise.allSettled([requireTenant(deps, tenantId), deps.companies.get(tenantId, cui)]);
  if (tenantRead.status === 'rejected') throw tenantRead.reason;
  if (companyRead.status === 'rejected') throw companyRead.reason;
  const tenant = tenantRead.value;
  const company = companyRead.value;
  if (!company) throw new BrokerError('COMPANY_NOT_FOUND', `company ${cui} is not registered`);
  if (!company.tokenId) throw new BrokerError('NOT_CONNECTED', `company ${cui} is not connected to ANAF`);
  return { tenantId, cui, company, environment: anafEnvironmentOf(tenant, deps.settings.defaultAnafEnvironment), startedMs };
}

/** What is left of the request's budget for ANAF; throws ANAF_UNAVAILABLE rather than start a call that cannot finish. */
function remainingMs(deps: ServiceDeps, startedMs: number): number {
  const left = deps.settings.efacturaTimeoutMs - (deps.clock.now().getTime() - startedMs);
  if (left < MIN_CALL_MS) throw new BrokerError('ANAF_UNAVAILABLE', 'no time was left to call ANAF within this request; try again');
  return left;
}

/** Over one of ANAF's limits → 429 RATE_LIMITED naming it; ANAF is not called. */
async function takeLimits(deps: ServiceDeps, scope: string, call: AnafCall): Promise<void> {
  const verdict = await takeAnafLimits({ limits: deps.limits, limitConfig: deps.settings.anafLimits, now: deps.clock.now() }, scope, call);
  if (!verdict.ok) throw new BrokerError('RATE_LIMITED', verdict.message, { retryAfterSeconds: verdict.retryAfterSeconds });
}

const anafSays = (failure: EfacturaFailure) => {
  const text = failure.messages.join('; ');
  return text.length > MAX_ANAF_MESSAGE_CHARS ? `${text.slice(0, MAX_ANAF_MESSAGE_CHARS)}…` : text;
};

/** A typed ANAF failure as the API's error (ANAF's own words in the message). */
export function brokerErrorOf(failure: EfacturaFailure, nowMs: number): BrokerError {
  const message = `ANAF: ${anafSays(failure)}`;
  switch (failure.code) {
    case 'ANAF_DAILY_LIMIT':
      return new BrokerError('ANAF_DAILY_LIMIT', message, { retryAfterSeconds: secondsUntilRomaniaMidnight(nowMs) });
    case 'ANAF_UNAVAILABLE':
      return new BrokerError('ANAF_UNAVAILABLE', message, failure.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: failure.retryAfterSeconds });
    case 'unauthorized':
      return new BrokerError('ANAF_REJECTED', 'ANAF refused the access token, also after a refresh');
    case 'list-too-large':
      return new BrokerError('ANAF_REJECTED', message);
    default:
      return new BrokerError(failure.code satisfies ErrorCode, message);
  }
}

/** What an answer says about the holder's rights on the company; null when it says nothing. */
function spvRightsOf(result: Parsed<unknown>): SpvRights | null {
  if (result.ok) return 'covered';
  if (result.failure.code === 'NO_SPV_RIGHTS' && result.failure.spvScope === 'cif') return 'not-covered';
  return null;
}

async function learnSpvRights(deps: ServiceDeps, ctx: CompanyCall, result: Parsed<unknown>): Promise<void> {
  const rights = spvRightsOf(result);
  // One write when the answer changes what we knew, not one per call.
  if (!rights || (ctx.company.spvRights ?? 'unknown') === rights) return;
  await deps.companies.setSpvRights(ctx.tenantId, ctx.cui, rights, deps.clock.now().toISOString());
  ctx.company = { ...ctx.company, spvRights: rights };
}

/**
 * One authenticated e-Factura call. Steps: get a usable access token (refreshing first when it is about
 * to expire; a company that cannot get one spends no limit unit); take the call's limits (over one → 429,
 * ANAF not called); call ANAF; on HTTP 401, one refresh
 * through the refresh service and one retry (its own limit units: ANAF counts it); learn the company's
 * SPV rights from the answer. Answers the typed result; the caller decides what a failure means.
 */
async function withToken<T>(deps: ServiceDeps, ctx: CompanyCall, limit: AnafCall, run: (call: EfacturaCall) => Promise<Parsed<T>>): Promise<Parsed<T>> {
  let token = await usableAccessToken(deps, ctx.tenantId, ctx.company.tokenId!, 'on-demand', { reusePair: true });
  await takeLimits(deps, ctx.tenantId, limit);
  const call = (accessToken: string) => run({ accessToken, environment: ctx.environment, timeoutMs: remainingMs(deps, ctx.startedMs) });
  let result = await call(token.accessToken);
  if (!result.ok && result.failure.code === 'unauthorized') {
    deps.logger.warn('ANAF refused the access token; refreshing once', { tenantId: ctx.tenantId, tokenId: token.tokenId });
    token = await usableAccessToken(deps, ctx.tenantId, ctx.company.tokenId!, 'manual');
    await takeLimits(deps, ctx.tenantId, limit);
    result = await call(token.accessToken);
  }
  await learnSpvRights(deps, ctx, result);
  return result;
}

const valueOr = <T>(deps: ServiceDeps, result: Parsed<T>): T => {
  if (result.ok) return result.value;
  throw brokerErrorOf(result.failure, deps.clock.now().getTime());
};

export interface UploadRequest {
  tenantId: string;
  cui: string;
  standard: UploadStandard;
  b2c: boolean;
  extern: boolean;
  selfBilled: boolean;
  enforcement: boolean;
  /** The XML inline, or an object the ERP PUT to S3 (read only once the Idempotency-Key is claimed). */
  xml: Uint8Array | StoredInvoice;
  idempotencyKey?: string;
}

/** An invoice the ERP PUT to the bucket: its key is single-use (a new UUID per presigned URL). */
export interface StoredInvoice {
  objectKey: string;
  read(): Promise<Uint8Array>;
}

/**
 * What an Idempotency-Key is bound to. A stored invoice is named by its key, not its bytes: the object
 * is deleted after ANAF's final answer, and a repeat must still answer the first result.
 */
function requestHash(input: UploadRequest): string {
  const head = JSON.stringify([input.cui, input.standard, input.b2c, input.extern, input.selfBilled, input.enforcement]);
  const hash = createHash('sha256').update(head).update('\n');
  return (input.xml instanceof Uint8Array ? hash.update(input.xml) : hash.update(`object:${input.xml.objectKey}`)).digest('hex');
}

/** The answer to a repeat of an Idempotency-Key: the first result, or why there is none to give. */
function repeatAnswer(existing: UploadKeyRecord, hash: string, nowMs: number): { uploadId: string } {
  if (existing.requestHash !== hash) {
    throw new BrokerError('IDEMPOTENCY_KEY_IN_USE', 'this Idempotency-Key was used for another upload (company, flags or body differ); use a new key');
  }
  if (existing.state === 'done' && existing.uploadId) return { uploadId: existing.uploadId };
  if (existing.state === 'in-flight' && nowMs - Date.parse(existing.createdAt) < IN_FLIGHT_STALE_MS) {
    throw new BrokerError('IDEMPOTENCY_KEY_IN_USE', 'the first upload with this Idempotency-Key is still under way; ask again in a few seconds');
  }
  throw new BrokerError(
    'IDEMPOTENCY_KEY_IN_USE',
    'the first upload with this Idempotency-Key got no answer from ANAF and may have been accepted: look for it in GET …/messages before sending it again under a new key',
  );
}

/**
 * Uploads an invoice (`upload`, or `uploadb2c`). Never retried blindly: a timed-out upload may have been
 * accepted. Steps: check the company; with an Idempotency-Key, claim it (a repeat answers the first
 * result without calling ANAF); take the limits; call ANAF (one retry only after a 401, which ANAF answers
 * before accepting anything); record the key's outcome: the index, `uncertain` when ANAF may have acted,
 * or freed when it cannot have. A crash after the claim leaves the key `in-flight`; once stale it answers
 * as uncertain, never as a reason to send again.
 */
export async function uploadInvoice(deps: ServiceDeps, input: UploadRequest): Promise<{ uploadId: string }> {
  const ctx = await companyCall(deps, input.tenantId, input.cui);
  const key = input.idempotencyKey;
  const hash = requestHash(input);
  if (key) {
    const now = deps.clock.now();
    const claim = await deps.uploadKeys.claim(
      {
        tenantId: input.tenantId,
        key,
        requestHash: hash,
        state: 'in-flight',
        uploadId: null,
        createdAt: now.toISOString(),
        expiresAt: new Date(now.getTime() + UPLOAD_KEY_TTL_SECONDS * 1000).toISOString(),
      },
      now,
    );
    if (!claim.claimed) return repeatAnswer(claim.existing, hash, now.getTime());
  }
  let result: Parsed<{ uploadId: string }>;
  try {
    const xml = input.xml instanceof Uint8Array ? input.xml : await input.xml.read();
    result = await withToken(deps, ctx, { kind: 'upload', cui: input.cui, standard: input.standard }, (call) =>
      deps.efactura.upload(call, {
        cif: input.cui,
        standard: input.standard,
        b2c: input.b2c,
        extern: input.extern,
        selfBilled: input.selfBilled,
        enforcement: input.enforcement,
        xml,
      }),
    );
  } catch (error) {
    // Refused before ANAF saw the upload (the stored object, limits, token, budget): the key may be sent again.
    if (key) await deps.uploadKeys.release(input.tenantId, key);
    throw error;
  }
  if (key) {
    if (result.ok) await deps.uploadKeys.settle(input.tenantId, key, { state: 'done', uploadId: result.value.uploadId });
    else if (result.failure.uncertain) await deps.uploadKeys.settle(input.tenantId, key, { state: 'uncertain' });
    else await deps.uploadKeys.release(input.tenantId, key);
  }
  if (!result.ok && result.failure.uncertain) {
    throw new BrokerError(
      'ANAF_UNAVAILABLE',
      `${anafSays(result.failure)}; the upload may have been accepted: look for it in GET …/messages before sending it again`,
    );
  }
  return valueOr(deps, result);
}

/** `stareMesaj` of one upload. */
export async function uploadStatus(
  deps: ServiceDeps,
  input: { tenantId: string; cui: string; uploadId: string },
): Promise<{ state: UploadState; downloadId?: string }> {
  const ctx = await companyCall(deps, input.tenantId, input.cui);
  return valueOr(deps, await withToken(deps, ctx, { kind: 'status', cui: input.cui, uploadId: input.uploadId }, (call) => deps.efactura.status(call, input.uploadId)));
}

export type MessagesQuery =
  | { kind: 'days'; days: number; filter?: string }
  | { kind: 'range'; fromMs: number; toMs?: number; page: number; filter?: string };

export interface MessagesAnswer extends MessagePage {
  /** The interval the paginated list was asked for (ISO), so the next pages can be asked with it. */
  from?: string;
  to?: string;
}

/**
 * The company's messages. `days`: ANAF's simple list; above 500 messages ANAF refuses it, and the answer
 * becomes the first page of the paginated call over the same days (with `page`, `pages`, `from`, `to`
 * to ask for the next). `range`: the paginated call, `to` clamped a minute into the past (ANAF refuses an
 * end in the future by its own clock) and `from` no older than 60 days.
 */
export async function listMessages(deps: ServiceDeps, input: { tenantId: string; cui: string; query: MessagesQuery }): Promise<MessagesAnswer> {
  const ctx = await companyCall(deps, input.tenantId, input.cui);
  const q = input.query;
  const nowMs = deps.clock.now().getTime();
  if (q.kind === 'days') {
    const simple = await withToken(deps, ctx, { kind: 'list', cui: input.cui }, (call) =>
      deps.efactura.listMessages(call, { cif: input.cui, days: q.days, ...(q.filter ? { filter: q.filter } : {}) }),
    );
    if (simple.ok || simple.failure.code !== 'list-too-large') return valueOr(deps, simple);
    return pagedMessages(deps, ctx, { fromMs: nowMs - q.days * DAY_MS + LIST_START_MARGIN_MS, toMs: nowMs, page: 1, filter: q.filter });
  }
  return pagedMessages(deps, ctx, { fromMs: q.fromMs, toMs: q.toMs ?? nowMs, page: q.page, filter: q.filter });
}

async function pagedMessages(
  deps: ServiceDeps,
  ctx: CompanyCall,
  range: { fromMs: number; toMs: number; page: number; filter?: string | undefined },
): Promise<MessagesAnswer> {
  const nowMs = deps.clock.now().getTime();
  const endMs = Math.min(range.toMs, nowMs - LIST_END_MARGIN_MS);
  if (range.fromMs < nowMs - MAX_LIST_DAYS * DAY_MS) throw new BrokerError('VALIDATION_ERROR', 'from must be within the last 60 days');
  if (range.fromMs >= endMs) throw new BrokerError('VALIDATION_ERROR', 'from must be before to (and to is at most a minute ago)');
  const page = valueOr(
    deps,
    await withToken(deps, ctx, { kind: 'paged-list', cui: ctx.cui }, (call) =>
      deps.efactura.listMessagesPaged(call, { cif: ctx.cui, startMs: range.fromMs, endMs, page: range.page, ...(range.filter ? { filter: range.filter } : {}) }),
    ),
  );
  return { ...page, from: new Date(range.fromMs).toISOString(), to: new Date(endMs).toISOString() };
}

/** `descarcare`: the ZIP, or one member's exact bytes (`invoice`: `<index>.xml`, `signature`: `semnatura_<index>.xml`). */
export async function downloadMessage(
  deps: ServiceDeps,
  input: { tenantId: string; cui: string; downloadId: string; part?: DownloadPart },
): Promise<{ contentType: 'application/zip' | 'application/xml'; fileName: string; bytes: Uint8Array }> {
  const ctx = await companyCall(deps, input.tenantId, input.cui);
  const zip = valueOr(
    deps,
    await withToken(deps, ctx, { kind: 'download', cui: input.cui, downloadId: input.downloadId }, (call) => deps.efactura.download(call, input.downloadId)),
  );
  if (!input.part) return { contentType: 'application/zip', fileName: `${input.downloadId}.zip`, bytes: zip };
  let member: ReturnType<typeof zipPart>;
  try {
    member = zipPart(zip, input.part);
  } catch (error) {
    throw new BrokerError('ANAF_REJECTED', 'ANAF answered a ZIP that cannot be read', { cause: error });
  }
  if (!member) throw new BrokerError('ANAF_REJECTED', `ANAF's ZIP holds no ${input.part} member`);
  return { contentType: 'application/xml', fileName: member.name.split('/').pop()!, bytes: member.data };
}

/** `validare` on the public host (no token; limits of the deployment's public scope). */
export async function validateInvoice(deps: ServiceDeps, input: { standard: PublicStandard; xml: Uint8Array }): Promise<{ valid: boolean; messages: string[] }> {
  const startedMs = deps.clock.now().getTime();
  await takeLimits(deps, PUBLIC_SCOPE, { kind: 'validate' });
  return valueOr(deps, await deps.efactura.validate({ ...input, timeoutMs: remainingMs(deps, startedMs) }));
}

/** `transformare` on the public host: the PDF, or ANAF's messages as a rejection. */
export async function invoicePdf(deps: ServiceDeps, input: { standard: PublicStandard; xml: Uint8Array; validate: boolean }): Promise<Uint8Array> {
  const startedMs = deps.clock.now().getTime();
  await takeLimits(deps, PUBLIC_SCOPE, { kind: 'pdf' });
  return valueOr(deps, await deps.efactura.pdf({ ...input, timeoutMs: remainingMs(deps, startedMs) }));
}
