import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { InvoiceObjectStore, StoredObject } from '../../ports.js';

/**
 * Invoice objects in S3. The presigned PUT signs only the host (S3 cannot bound a presigned PUT's size:
 * only a presigned POST policy takes a content-length range), so the size is checked on read, from the
 * object's length before its body is read.
 */
export function createS3InvoiceObjectStore(deps: { client: S3Client; bucket: string | undefined }): InvoiceObjectStore {
  const bucket = () => {
    // Every deployed function gets the name; only a hand-made environment (a test) lacks it.
    if (!deps.bucket) throw new Error('INVOICE_BUCKET_NAME is not set');
    return deps.bucket;
  };
  return {
    presignPut: (key, expiresInSeconds) =>
      getSignedUrl(deps.client, new PutObjectCommand({ Bucket: bucket(), Key: key }), { expiresIn: expiresInSeconds }),

    async read(key, maxBytes): Promise<StoredObject> {
      let answer;
      try {
        answer = await deps.client.send(new GetObjectCommand({ Bucket: bucket(), Key: key }));
      } catch (error) {
        if ((error as { name?: string }).name === 'NoSuchKey') return { kind: 'missing' };
        throw error;
      }
      const size = answer.ContentLength ?? 0;
      if (size > maxBytes) {
        (answer.Body as { destroy?: () => void } | undefined)?.destroy?.();
        return { kind: 'too-large', sizeBytes: size };
      }
      return { kind: 'found', bytes: await answer.Body!.transformToByteArray() };
    },

    async delete(key) {
      await deps.client.send(new DeleteObjectCommand({ Bucket: bucket(), Key: key }));
    },
  };
}
