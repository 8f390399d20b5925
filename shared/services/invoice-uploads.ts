import { randomUUID } from 'node:crypto';
import { BrokerError } from '../domain/errors.js';
import { isUploadKeyOf, MAX_STORED_INVOICE_BYTES, UPLOAD_URL_TTL_SECONDS, uploadObjectKey } from '../domain/invoice-uploads.js';
import type { ServiceDeps } from './deps.js';
import { uploadInvoice, type UploadRequest } from './efactura.js';
import { requireTenant } from './tenants.js';

export interface InvoiceUploadSlot {
  /** PUT the XML here (no credentials, any Content-Type), before `expiresAt`. */
  uploadUrl: string;
  /** Name it on `POST …/invoices?standard=…&objectKey=…` once the PUT succeeded. */
  objectKey: string;
  expiresAt: string;
  maxBytes: number;
}

/** A presigned PUT for one invoice of a registered company, under the tenant's and company's prefix. */
export async function createInvoiceUpload(deps: ServiceDeps, input: { tenantId: string; cui: string }): Promise<InvoiceUploadSlot> {
  await requireTenant(deps, input.tenantId);
  if (!(await deps.companies.get(input.tenantId, input.cui))) throw new BrokerError('COMPANY_NOT_FOUND', `company ${input.cui} is not registered`);
  const objectKey = uploadObjectKey(input.tenantId, input.cui, randomUUID());
  const uploadUrl = await deps.invoiceObjects.presignPut(objectKey, UPLOAD_URL_TTL_SECONDS);
  const expiresAt = new Date(deps.clock.now().getTime() + UPLOAD_URL_TTL_SECONDS * 1000).toISOString();
  return { uploadUrl, objectKey, expiresAt, maxBytes: MAX_STORED_INVOICE_BYTES };
}

/** ANAF read the invoice and refused it: the same bytes would be refused again, so the object has no further use. */
const FINAL_REFUSALS = new Set(['ANAF_REJECTED', 'PAYLOAD_TOO_LARGE']);

/**
 * Uploads an invoice the ERP PUT to the bucket, like an inline one (same limits, Idempotency-Key and
 * ANAF call). A key of another tenant or company is refused before anything is read. The object is
 * deleted after ANAF's final answer (accepted, or refused for its content) and when it is over ANAF's
 * 10 MB; after any other failure (limits, token, ANAF down or an uncertain outcome) it stays for a retry
 * until the bucket's lifecycle rule expires it a day later.
 */
export async function uploadStoredInvoice(deps: ServiceDeps, input: Omit<UploadRequest, 'xml'> & { objectKey: string }): Promise<{ uploadId: string }> {
  const { objectKey, ...request } = input;
  if (!isUploadKeyOf(objectKey, input.tenantId, input.cui)) {
    throw new BrokerError('VALIDATION_ERROR', "objectKey is not one of this company's invoice uploads (POST …/invoice-uploads answers them)");
  }
  const read = async (): Promise<Uint8Array> => {
    const stored = await deps.invoiceObjects.read(objectKey, MAX_STORED_INVOICE_BYTES);
    if (stored.kind === 'missing') throw new BrokerError('UPLOAD_NOT_FOUND', 'no invoice at this objectKey: PUT it to the uploadUrl first (or it was already sent, or expired after a day)');
    if (stored.kind === 'too-large') throw new BrokerError('PAYLOAD_TOO_LARGE', `the invoice is ${stored.sizeBytes} bytes; ANAF takes at most ${MAX_STORED_INVOICE_BYTES}`);
    return stored.bytes;
  };
  try {
    const answer = await uploadInvoice(deps, { ...request, xml: { objectKey, read } });
    await deps.invoiceObjects.delete(objectKey);
    return answer;
  } catch (error) {
    if (error instanceof BrokerError && FINAL_REFUSALS.has(error.code)) await deps.invoiceObjects.delete(objectKey);
    throw error;
  }
}
