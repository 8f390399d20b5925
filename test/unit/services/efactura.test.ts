import { describe, expect, it } from 'vitest';
import type { Parsed } from '../../../shared/domain/efactura.js';
import { BrokerError } from '../../../shared/domain/errors.js';
import { putCompany } from '../../../shared/services/companies.js';
import { uploadInvoice, uploadStatus, type UploadRequest } from '../../../shared/services/efactura.js';
import { createFakeEfactura, createFakeWorld, type FakeEfactura } from '../../support/fakes.js';

const T = 'acme';
const A = '14399840';
const ok = <V>(value: V): Parsed<V> => ({ ok: true, value });
const refused = (code: 'unauthorized' | 'NO_SPV_RIGHTS' | 'ANAF_REJECTED' | 'ANAF_UNAVAILABLE', extra: object = {}): Parsed<never> => ({
  ok: false,
  failure: { code, messages: [`ANAF said ${code}`], ...extra },
});

async function world() {
  const w = createFakeWorld();
  const efactura: FakeEfactura = createFakeEfactura();
  w.deps.efactura = efactura;
  await w.connect({ tenantId: T, cuis: [A] });
  return { w, efactura };
}

const request = (over: Partial<UploadRequest> = {}): UploadRequest => ({
  tenantId: T,
  cui: A,
  standard: 'UBL',
  b2c: false,
  extern: false,
  selfBilled: false,
  enforcement: false,
  xml: Buffer.from('<Invoice/>'),
  ...over,
});

const codeOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
    return 'no error';
  } catch (error) {
    return error instanceof BrokerError ? error.code : String(error);
  }
};

describe('e-Factura service (fakes)', () => {
  it('a second 401 after the refresh is 502 ANAF_REJECTED; exactly one refresh and one retry', async () => {
    const { w, efactura } = await world();
    efactura.answers.status = [refused('unauthorized'), refused('unauthorized')];
    expect(await codeOf(uploadStatus(w.deps, { tenantId: T, cui: A, uploadId: '1' }))).toBe('ANAF_REJECTED');
    expect(efactura.calls.filter((c) => c.method === 'status')).toHaveLength(2);
    expect(w.anaf.refreshCalls).toBe(1);
    // The retry used the refreshed token.
    const [first, second] = efactura.calls.map((c) => c.call!.accessToken);
    expect(second).not.toBe(first);
  });

  it('an Idempotency-Key still in flight is 409; an ANAF refusal frees the key; a success answers the repeat', async () => {
    const { w, efactura } = await world();
    let release!: (value: Parsed<{ uploadId: string }>) => void;
    efactura.upload = (call, input) => {
      efactura.calls.push({ method: 'upload', call, input });
      return new Promise((resolve) => (release = resolve));
    };
    const first = uploadInvoice(w.deps, request({ idempotencyKey: 'k1' }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await codeOf(uploadInvoice(w.deps, request({ idempotencyKey: 'k1' })))).toBe('IDEMPOTENCY_KEY_IN_USE');
    release(refused('ANAF_REJECTED'));
    expect(await codeOf(first)).toBe('ANAF_REJECTED');

    efactura.upload = async (call, input) => {
      efactura.calls.push({ method: 'upload', call, input });
      return ok({ uploadId: '42' });
    };
    expect(await uploadInvoice(w.deps, request({ idempotencyKey: 'k1' }))).toEqual({ uploadId: '42' });
    expect(await uploadInvoice(w.deps, request({ idempotencyKey: 'k1' }))).toEqual({ uploadId: '42' });
    expect(efactura.calls.filter((c) => c.method === 'upload')).toHaveLength(2);
  });

  it('ANAF down before receiving the upload frees the key; an uncertain answer keeps it (never re-sent)', async () => {
    const { w, efactura } = await world();
    efactura.answers.upload = [refused('ANAF_UNAVAILABLE'), refused('ANAF_UNAVAILABLE', { uncertain: true })];
    expect(await codeOf(uploadInvoice(w.deps, request({ idempotencyKey: 'k2' })))).toBe('ANAF_UNAVAILABLE');
    expect(await codeOf(uploadInvoice(w.deps, request({ idempotencyKey: 'k2' })))).toBe('ANAF_UNAVAILABLE');
    expect(await codeOf(uploadInvoice(w.deps, request({ idempotencyKey: 'k2' })))).toBe('IDEMPOTENCY_KEY_IN_USE');
    expect(efactura.calls.filter((c) => c.method === 'upload')).toHaveLength(2);
  });

  it('spvRights: not-covered after NO_SPV_RIGHTS for the CIF, not after a refusal of one message; unknown again on another token', async () => {
    const { w, efactura } = await world();
    efactura.answers.status = [refused('NO_SPV_RIGHTS', { spvScope: 'message' }), refused('NO_SPV_RIGHTS', { spvScope: 'cif' })];
    const company = () => w.companies.get(`${T}/${A}`)!;
    expect(await codeOf(uploadStatus(w.deps, { tenantId: T, cui: A, uploadId: '1' }))).toBe('NO_SPV_RIGHTS');
    expect(company().spvRights).toBeUndefined();
    expect(await codeOf(uploadStatus(w.deps, { tenantId: T, cui: A, uploadId: '1' }))).toBe('NO_SPV_RIGHTS');
    expect(company().spvRights).toBe('not-covered');
    await putCompany(w.deps, { tenantId: T, cui: A, name: 'renamed' });
    expect(company().spvRights).toBe('not-covered');
    const other = await w.connect({ tenantId: T, cuis: ['18547290'], serial: 'another-serial' });
    await putCompany(w.deps, { tenantId: T, cui: A, tokenId: other.tokenId });
    expect(company().spvRights).toBeUndefined();
  });

  it('a company whose token cannot be used spends no limit unit and makes no ANAF call', async () => {
    const { w, efactura } = await world();
    // Disconnected: a reauth-required token whose access token is still valid is used (issue 12).
    for (const [id, record] of w.tokens.records) w.tokens.records.set(id, { ...record, status: 'disconnected' });
    expect(await codeOf(uploadStatus(w.deps, { tenantId: T, cui: A, uploadId: '1' }))).toBe('TOKEN_DISCONNECTED');
    expect((w.deps.limits as unknown as { takes: unknown[] }).takes).toHaveLength(0);
    expect(efactura.calls).toHaveLength(0);
  });

  it('no ANAF call starts with less than a second of the request budget left', async () => {
    const { w, efactura } = await world();
    w.deps.settings = { ...w.deps.settings, efacturaTimeoutMs: 1_000 };
    const slowClock = w.deps.clock;
    let reads = 0;
    // Every read of the clock moves it on 300 ms: the budget runs out before the call.
    w.deps.clock = { now: () => new Date(slowClock.now().getTime() + 300 * reads++) };
    expect(await codeOf(uploadStatus(w.deps, { tenantId: T, cui: A, uploadId: '1' }))).toBe('ANAF_UNAVAILABLE');
    expect(efactura.calls).toHaveLength(0);
  });
});
