import { KMSClient } from '@aws-sdk/client-kms';
import { createDocumentClient } from '../../adapters/dynamodb/client.js';
import { createKmsPairEscrow } from '../../adapters/escrow/kms-escrow.js';
import { awsClientSettings } from '../../config/aws-calls.js';
import type { AdapterKit } from '../runtime.js';

/** The escrow of a rotated pair whose secret writes failed (KMS-encrypted table item): every function that stores a pair. */
export const pairEscrow: AdapterKit = {
  name: 'kms-escrow',
  build: ({ config, client }) => ({
    escrow: createKmsPairEscrow({
      doc: client('dynamodb', createDocumentClient),
      kms: client('kms', () => new KMSClient(awsClientSettings())),
      table: config.tableName,
      kmsKeyId: config.secretsKmsKeyId,
    }),
  }),
};
