import { createEfacturaClient } from '../../adapters/anaf/efactura-client.js';
import { createDocumentClient } from '../../adapters/dynamodb/client.js';
import { createDynamoLimitStore } from '../../adapters/dynamodb/limit-store.js';
import { createDynamoUploadKeyStore } from '../../adapters/dynamodb/upload-key-store.js';
import type { AdapterKit } from '../runtime.js';

/** ANAF's e-Factura API over HTTP (the tenant's host, and the public host for validare/transformare): no SDK client. */
export const anafEfactura: AdapterKit = {
  name: 'anaf-efactura',
  build: ({ config }) => ({ efactura: createEfacturaClient({ apiBaseUrl: config.anafApiBaseUrl, publicApiBaseUrl: config.anafPublicApiBaseUrl }) }),
};

/** ANAF's limit counters in the table (every function that calls e-Factura takes them first). */
export const limitStore: AdapterKit = {
  name: 'limits',
  build: ({ config, client }) => ({ limits: createDynamoLimitStore({ doc: client('dynamodb', createDocumentClient), table: config.tableName }) }),
};

/** Upload Idempotency-Keys in the table. */
export const uploadKeyStore: AdapterKit = {
  name: 'upload-keys',
  build: ({ config, client }) => ({ uploadKeys: createDynamoUploadKeyStore({ doc: client('dynamodb', createDocumentClient), table: config.tableName }) }),
};
