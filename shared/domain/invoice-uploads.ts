/**
 * Invoices too large for Lambda's synchronous payload (6 MB) go through S3: the ERP PUTs the XML to a
 * presigned URL, then names the object on the upload route. Keys are `<tenantId>/<cui>/<uuid>.xml`, so a
 * key says whose it is and the upload route can refuse another tenant's or company's before reading it.
 */

/** How long a presigned PUT URL works: long enough for a 10 MB PUT on a slow line, short enough not to leak. */
export const UPLOAD_URL_TTL_SECONDS = 900;
/** ANAF accepts an uploaded invoice of up to 10 MB. */
export const MAX_STORED_INVOICE_BYTES = 10 * 1024 * 1024;

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
/** Any key the broker hands out (the tenant id and CUI shapes of the Conventions). */
export const UPLOAD_OBJECT_KEY_SHAPE = new RegExp(`^[A-Za-z0-9_-]{1,64}/\\d{2,10}/${UUID}\\.xml$`);

export const uploadObjectKey = (tenantId: string, cui: string, id: string): string => `${tenantId}/${cui}/${id}.xml`;

/** Whether `key` is one the broker handed out for this tenant's company (and not another's). */
export function isUploadKeyOf(key: string, tenantId: string, cui: string): boolean {
  return UPLOAD_OBJECT_KEY_SHAPE.test(key) && key.startsWith(`${tenantId}/${cui}/`);
}
