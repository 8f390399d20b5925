import { anafEfactura, limitStore, uploadKeyStore } from './efactura.js';
import { PAIR_WRITING } from './pair-writing.js';
import { invoiceObjects } from './s3.js';

// Groups of kits. A function that needs fewer imports single kits from their own modules (or
// PAIR_WRITING from pair-writing.ts): importing this file puts every kit in the bundle.

export { PAIR_WRITING };

/** The e-Factura calls with a company's token: a refresh may run, then the limits, the keys, ANAF, and an invoice PUT to S3. */
export const EFACTURA = [...PAIR_WRITING, limitStore, uploadKeyStore, anafEfactura, invoiceObjects] as const;

/** Every kit: the local stack, the CLI and the tests, which run every handler in one process. */
export const ALL_ADAPTERS = EFACTURA;
