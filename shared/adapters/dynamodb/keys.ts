import { TABLE_KEYS } from '../../config/env-names.js';
import { hashSessionId } from '../../domain/state.js';

/** Item key layout of the single table. Every item also repeats its plain identifiers as attributes. */
export const K = TABLE_KEYS;
export const tenantPk = (tenantId: string) => `TENANT#${tenantId}`;
export const CLIENT_SK = 'CLIENT';
export const companySk = (cui: string) => `COMPANY#${cui}`;
export const tokenSk = (tokenId: string) => `TOKEN#${tokenId}`;
export const serialSk = (serial: string) => `SERIAL#${serial}`;
/** An upload's Idempotency-Key, in its tenant's partition. */
export const uploadKeySk = (idempotencyKey: string) => `UPLOADKEY#${idempotencyKey}`;
/** A session's key is its id's hash: the id is a bearer capability, never stored. */
export const sessionPk = (sessionId: string) => `SESSION#${hashSessionId(sessionId)}`;
/** In the tenant's partition: one pointer per session minted for a token, so that a success can close the others. */
export const tokenSessionPrefix = (tokenId: string) => `TOKENSESSION#${tokenId}#`;
export const tokenSessionSk = (tokenId: string, sessionId: string) => `${tokenSessionPrefix(tokenId)}${hashSessionId(sessionId)}`;
export const statePk = (stateHash: string) => `STATE#${stateHash}`;
export const eventsPk = (tenantId: string) => `EVENTS#${tenantId}`;
/** The ANAF limit counters of one scope (a tenant, or the public calls): a prefix of their own, so a grant can name them alone. */
export const limitPk = (scope: string) => `LIMIT#${scope}`;
/** Every active token sits in one index partition; the sort key is its next due time. */
export const DUE_PARTITION = 'DUE';
/**
 * Tokens waiting for a person (reauth-required) sit in a second partition of the same index, sorted by
 * when they got there, so the health gauges count them with a query instead of a scan.
 */
export const REAUTH_PARTITION = 'REAUTH';


export const key = (pk: string, sk: string) => ({ [K.partitionKey]: pk, [K.sortKey]: sk });

/** TTL attribute value: seconds since epoch. */
export const ttlOf = (iso: string, graceSeconds = 0) => Math.floor(Date.parse(iso) / 1000) + graceSeconds;

/** Strips the key and index attributes from an item read back. */
export function stripKeys<T>(item: Record<string, unknown>): T {
  const { [K.partitionKey]: _pk, [K.sortKey]: _sk, [K.ttl]: _ttl, [K.duePartitionKey]: _dpk, ...rest } = item;
  return rest as T;
}

export const encodeCursor = (key: Record<string, unknown> | undefined): string | undefined =>
  key ? Buffer.from(JSON.stringify(key)).toString('base64url') : undefined;

/** Decodes a pagination cursor; returns null when it is not one of ours. */
export function decodeCursor(cursor: string | undefined): Record<string, unknown> | undefined | null {
  if (cursor === undefined) return undefined;
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}
