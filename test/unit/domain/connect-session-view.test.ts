import { describe, expect, it } from 'vitest';
import type { ConnectSession } from '../../../shared/domain/model.js';
import { toConnectSessionView } from '../../../shared/domain/views.js';

const NOW = new Date('2025-03-12T10:00:00.000Z');
const base: ConnectSession = {
  sessionId: 'cs_x',
  tenantId: 't',
  cuis: ['14399840'],
  returnUrl: null,
  createdAt: '2025-03-12T09:30:00.000Z',
  expiresAt: '2025-03-12T10:30:00.000Z',
  completedAt: null,
  tokenId: null,
};

describe('a connect session as the ERP sees it', () => {
  it.each<[string, Partial<ConnectSession>, Record<string, unknown>]>([
    ['fresh: open, nothing else', {}, { status: 'open' }],
    ['an old record without lastError fields', { lastError: undefined, lastErrorAt: undefined }, { status: 'open' }],
    ['a failed attempt: open with lastError', { lastError: 'ACCESS_DENIED', lastErrorAt: '2025-03-12T09:40:00.000Z' }, { status: 'open', lastError: 'ACCESS_DENIED' }],
    ['past expiresAt (TTL deletes late): expired', { expiresAt: '2025-03-12T09:59:59.999Z' }, { status: 'expired' }],
    ['expiresAt is now: expired', { expiresAt: NOW.toISOString() }, { status: 'expired' }],
    ['expired after a failure: keeps lastError', { expiresAt: '2025-03-12T09:00:00.000Z', lastError: 'ANAF_UNAVAILABLE' }, { status: 'expired', lastError: 'ANAF_UNAVAILABLE' }],
    [
      'completed after a failure: tokenId, the earlier failure no longer shown',
      { completedAt: '2025-03-12T09:50:00.000Z', tokenId: 'tok_1', lastError: 'ACCESS_DENIED' },
      { status: 'completed', tokenId: 'tok_1' },
    ],
    ['completed, then past expiresAt: still completed', { completedAt: '2025-03-12T09:50:00.000Z', tokenId: 'tok_1', expiresAt: '2025-03-12T09:55:00.000Z' }, { status: 'completed', tokenId: 'tok_1' }],
  ])('%s', (_, patch, expected) => {
    const session = { ...base, ...patch };
    expect(toConnectSessionView(session, NOW)).toEqual({ sessionId: 'cs_x', cuis: ['14399840'], expiresAt: session.expiresAt, ...expected });
  });
});
