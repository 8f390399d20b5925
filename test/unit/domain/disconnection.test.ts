import { describe, expect, it } from 'vitest';
import {
  ORPHAN_SECRET_MIN_AGE_MS,
  disconnectEventPending,
  disconnectedRecord,
  reconcileSecret,
  type SecretReconcileAction,
} from '../../../shared/domain/disconnection.js';
import type { Disconnection, TokenRecord } from '../../../shared/domain/model.js';

const NOW = new Date('2026-03-01T12:00:00.000Z');
const MINUTE = 60_000;
const at = (offsetMs: number) => new Date(NOW.getTime() + offsetMs).toISOString();

const token = (over: Partial<TokenRecord> = {}): TokenRecord => ({
  tenantId: 'acme',
  tokenId: 'tok_000000000000000000000001',
  status: 'active',
  serial: '0a:0b',
  clientAppId: 'client',
  accessExpiresAt: at(60 * 86_400_000),
  refreshExpiresAt: at(300 * 86_400_000),
  accessExpiryEstimated: false,
  refreshExpiryEstimated: false,
  accessIssuedAt: at(-30 * 86_400_000),
  secretVersionId: 'v-0000000000000000000000000000001',
  rotations: [],
  recoveryAttemptedAt: null,
  lastRefreshAt: null,
  lastError: null,
  failedAttempts: 0,
  version: 3,
  dueAt: at(30 * 86_400_000),
  warningsSent: [30],
  leaseOwner: 'lease_x',
  leaseExpiresAt: at(MINUTE),
  createdAt: at(-86_400_000),
  updatedAt: at(-MINUTE),
  ...over,
});
const done: Disconnection = { at: at(-MINUTE), reason: 'REQUESTED', cuis: [], auditedAt: at(-MINUTE), publishedAt: at(-MINUTE) };
const disconnected = (d: Partial<Disconnection> | null = {}) => token({ status: 'disconnected', dueAt: null, disconnection: d === null ? undefined : { ...done, ...d } });

describe('disconnectedRecord', () => {
  it('leaves the due index and the lease, moves the version, and records why and which companies', () => {
    const next = disconnectedRecord(token(), { at: at(0), reason: 'UNUSED', cuis: ['2', '1'] });
    expect(next).toMatchObject({ status: 'disconnected', version: 4, dueAt: null, leaseOwner: null, leaseExpiresAt: null, updatedAt: at(0) });
    expect(next.disconnection).toEqual({ at: at(0), reason: 'UNUSED', cuis: ['1', '2'], auditedAt: null, publishedAt: null });
    expect(disconnectEventPending(next)).toBe(true);
  });
});

describe('disconnectEventPending', () => {
  const cases: Array<[string, TokenRecord, boolean]> = [
    ['live token', token(), false],
    ['disconnected before the disconnect was recorded on the record', disconnected(null), false],
    ['neither sink has it', disconnected({ auditedAt: null, publishedAt: null }), true],
    ['only the trail has it', disconnected({ publishedAt: null }), true],
    ['only the bus has it', disconnected({ auditedAt: null }), true],
    ['both have it', disconnected(), false],
  ];
  it.each(cases)('%s → %s', (_, record, expected) => expect(disconnectEventPending(record)).toBe(expected));
});

describe('reconcileSecret (fixed clock)', () => {
  const secret = (ageMs: number, deleted = false) => ({ createdAt: at(-ageMs), deleted });
  const old = ORPHAN_SECRET_MIN_AGE_MS + MINUTE;
  const cases: Array<[string, ReturnType<typeof secret>, TokenRecord | null, SecretReconcileAction]> = [
    ['no record, an hour and a minute old: an orphan', secret(old), null, 'delete-orphan'],
    ['no record, exactly an hour old: an orphan', secret(ORPHAN_SECRET_MIN_AGE_MS), null, 'delete-orphan'],
    ['no record, 59 minutes old: a connect may be under way', secret(ORPHAN_SECRET_MIN_AGE_MS - MINUTE), null, 'keep'],
    ['no record, already scheduled for deletion', secret(old, true), null, 'keep'],
    ['active token', secret(old), token(), 'keep'],
    ['reauth-required token (its pair may still be adopted)', secret(old), token({ status: 'reauth-required' }), 'keep'],
    ['disconnected, secret still there', secret(old), disconnected(), 'finish-disconnect'],
    ['disconnected long ago (no record of it), secret still there', secret(old), disconnected(null), 'finish-disconnect'],
    ['disconnected, secret deleted, event on the bus missing', secret(old, true), disconnected({ publishedAt: null }), 'finish-disconnect'],
    ['disconnected and finished', secret(old, true), disconnected(), 'keep'],
    ['disconnected a moment ago, secret young and live', secret(MINUTE), disconnected(), 'finish-disconnect'],
  ];
  it.each(cases)('%s → %s', (_, s, record, expected) => expect(reconcileSecret(s, record, NOW).action).toBe(expected));
});
