import * as z from 'zod/mini';
import { BrokerError } from '../domain/errors.js';

/** `true` or `false`, nothing else (a misspelt flag must not silently mean false). */
export const flag = (description: string) => z._default(z.enum(['true', 'false']).check(z.describe(description)), 'false');

/** ANAF ids (`index_incarcare`, `id_descarcare`) are digits; anything else cannot name a message. */
export const ANAF_ID_SHAPE = /^\d{1,20}$/;

/** A path's upload or download id, or MESSAGE_NOT_FOUND (ANAF could not know it). */
export function anafIdParam(value: string | undefined, what: string): string {
  if (!value || !ANAF_ID_SHAPE.test(value)) throw new BrokerError('MESSAGE_NOT_FOUND', `no such ${what}: ANAF's ids are digits`);
  return value;
}

export const IDEMPOTENCY_KEY_SHAPE = /^[A-Za-z0-9_.:-]{1,128}$/;

/** The optional `Idempotency-Key` header of an upload. */
export function idempotencyKeyHeader(headers: Record<string, string | undefined>): string | undefined {
  const value = headers['idempotency-key'];
  if (value === undefined) return undefined;
  if (!IDEMPOTENCY_KEY_SHAPE.test(value)) {
    throw new BrokerError('VALIDATION_ERROR', 'Idempotency-Key must be 1–128 characters of A–Z, a–z, 0–9, _ . : -');
  }
  return value;
}

/** Invoices come inline up to what a synchronous Lambda request carries (6 MB, the event's JSON included). */
export const MAX_INVOICE_BYTES = 6_000_000;
/** ANAF's validare and transformare take at most 5 MB. */
export const MAX_PUBLIC_DOCUMENT_BYTES = 5 * 1024 * 1024;
