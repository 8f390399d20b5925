import { describe, expect, it } from 'vitest';
import type { Parsed } from '../../../shared/domain/efactura.js';
import { BrokerError } from '../../../shared/domain/errors.js';
import { isUploadKeyOf, uploadObjectKey } from '../../../shared/domain/invoice-uploads.js';
import { createInvoiceUpload, uploadStoredInvoice } from '../../../shared/services/invoice-uploads.js';
import { createFakeEfactura, createFakeInvoiceObjects, createFakeWorld } from '../../support/fakes.js';

const T = 'acme';
const A = '14399840';
const UUID = '0b6f9c1e-3c1a-4d2b-9a4e-1f2e3d4c5b6a';

describe('isUploadKeyOf', () => {
  const cases: Array<[string, boolean]> = [
    [uploadObjectKey(T, A, UUID), true],
    [uploadObjectKey('other', A, UUID), false],
    [uploadObjectKey(T, '18547290', UUID), false],
    [`${T}/${A}/${UUID}.txt`, false],
    [`${T}/${A}/../${UUID}.xml`, false],
    [`${T}/${A}/${UUID.toUpperCase()}.xml`, false],
    [`x/${T}/${A}/${UUID}.xml`, false],
    ['', false],
  ];
  it.each(cases)('%s → %s', (key, mine) => expect(isUploadKeyOf(key, T, A)).toBe(mine));
});

async function world() {
  const w = createFakeWorld();
  const efactura = createFakeEfactura();
  const objects = createFakeInvoiceObjects();
  w.deps.efactura = efactura;
  w.deps.invoiceObjects = objects;
  await w.connect({ tenantId: T, cuis: [A] });
  const slot = await createInvoiceUpload(w.deps, { tenantId: T, cui: A });
  objects.objects.set(slot.objectKey, Buffer.from('<Invoice/>'));
  const upload = () => uploadStoredInvoice(w.deps, { tenantId: T, cui: A, standard: 'UBL', b2c: false, extern: false, selfBilled: false, enforcement: false, objectKey: slot.objectKey });
  return { w, efactura, objects, slot, upload };
}

const failure = (code: 'ANAF_REJECTED' | 'ANAF_UNAVAILABLE', uncertain = false): Parsed<never> => ({ ok: false, failure: { code, messages: [code], ...(uncertain ? { uncertain } : {}) } });
const codeOf = (promise: Promise<unknown>) => promise.then(() => 'no error', (error) => (error instanceof BrokerError ? error.code : String(error)));

describe('uploadStoredInvoice: the object is deleted after a final answer only', () => {
  it('accepted → deleted, and ANAF got its bytes', async () => {
    const { efactura, objects, slot, upload } = await world();
    efactura.answers.upload = [{ ok: true, value: { uploadId: '42' } }];
    expect(await upload()).toEqual({ uploadId: '42' });
    expect(Buffer.from((efactura.calls[0]!.input as { xml: Uint8Array }).xml).toString()).toBe('<Invoice/>');
    expect(objects.objects.has(slot.objectKey)).toBe(false);
  });

  const kept: Array<[string, Parsed<never> | 'limits']> = [
    ['ANAF down (refused before it acted)', failure('ANAF_UNAVAILABLE')],
    ['an uncertain outcome (may have been accepted)', failure('ANAF_UNAVAILABLE', true)],
    ['over our limits (ANAF not called)', 'limits'],
  ];
  it.each(kept)('%s → kept for a retry', async (_, answer) => {
    const { w, efactura, objects, slot, upload } = await world();
    if (answer === 'limits') w.deps.limits = { take: async (_s: string, counters: Array<{ name: string }>) => ({ ok: false as const, counter: counters[0] as never }) } as never;
    else efactura.answers.upload = [answer];
    expect(await codeOf(upload())).toMatch(/ANAF_UNAVAILABLE|RATE_LIMITED/);
    expect(objects.objects.has(slot.objectKey)).toBe(true);
  });

  it('refused by ANAF (502) → deleted', async () => {
    const { efactura, objects, slot, upload } = await world();
    efactura.answers.upload = [failure('ANAF_REJECTED')];
    expect(await codeOf(upload())).toBe('ANAF_REJECTED');
    expect(objects.objects.has(slot.objectKey)).toBe(false);
  });
});
