import { anafOAuth } from './anaf.js';
import { dynamoStores } from './dynamodb.js';
import { eventBus } from './eventbridge.js';
import { pairEscrow } from './kms-escrow.js';
import { cloudWatchMetrics } from './metrics.js';
import { secretStore } from './secrets-manager.js';

/**
 * Anything that may rotate or store a pair: a refresh, the callback, an import, the sweep (each counts
 * what it did, hence the metrics). Its own module (index.ts re-exports it): the functions that import it
 * get these kits' clients only, not the e-Factura group's S3 client.
 */
export const PAIR_WRITING = [dynamoStores, secretStore, eventBus, pairEscrow, anafOAuth, cloudWatchMetrics] as const;
