import { anafOAuth } from './anaf.js';
import { dynamoStores } from './dynamodb.js';
import { anafEfactura, limitStore, uploadKeyStore } from './efactura.js';
import { eventBus } from './eventbridge.js';
import { pairEscrow } from './kms-escrow.js';
import { invoiceObjects } from './s3.js';
import { secretStore } from './secrets-manager.js';

// Groups of kits. A function that needs fewer imports single kits from their own modules: importing
// this file puts every kit in the bundle.

/** Anything that may rotate or store a pair: a refresh, the callback, an import, the sweep. */
export const PAIR_WRITING = [dynamoStores, secretStore, eventBus, pairEscrow, anafOAuth] as const;

/** The e-Factura calls with a company's token: a refresh may run, then the limits, the keys, ANAF, and an invoice PUT to S3. */
export const EFACTURA = [...PAIR_WRITING, limitStore, uploadKeyStore, anafEfactura, invoiceObjects] as const;

/** Every kit: the local stack, the CLI and the tests, which run every handler in one process. */
export const ALL_ADAPTERS = EFACTURA;
