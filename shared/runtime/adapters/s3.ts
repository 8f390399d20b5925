import { S3Client } from '@aws-sdk/client-s3';
import { createS3InvoiceObjectStore } from '../../adapters/s3/invoice-object-store.js';
import { awsClientSettings } from '../../config/aws-calls.js';
import type { AdapterKit } from '../runtime.js';

/**
 * The invoice objects bucket (S3) for invoices over the inline limit. Path-style addressing when an
 * endpoint is configured (moto locally: a bucket subdomain of 127.0.0.1 does not resolve). Checksums only
 * when S3 requires them: the SDK would otherwise sign the checksum of an empty body into a presigned PUT.
 */
export const invoiceObjects: AdapterKit = {
  name: 's3',
  build: ({ config, client }) => ({
    invoiceObjects: createS3InvoiceObjectStore({
      client: client(
        's3',
        () =>
          new S3Client({
            ...awsClientSettings(),
            forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL || process.env.AWS_ENDPOINT_URL_S3),
            requestChecksumCalculation: 'WHEN_REQUIRED',
            responseChecksumValidation: 'WHEN_REQUIRED',
          }),
      ),
      bucket: config.invoiceBucketName,
    }),
  }),
};
