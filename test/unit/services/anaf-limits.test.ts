import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, PUBLIC_SCOPE, limitsFor, type LimitConfig } from '../../../shared/domain/anaf-limits.js';
import { takeAnafLimits } from '../../../shared/services/anaf-limits.js';
import { createFakeLimitStore } from '../../support/fake-limits.js';

const config: LimitConfig = { ...DEFAULT_LIMITS, callsPerMinute: 5, statusPerMessagePerDay: 2 };
const now = new Date('2026-03-29T10:15:30.000Z');

describe('takeAnafLimits (in-memory store)', () => {
  it('lets calls through up to a limit, then names the full counter, its Retry-After and the 429 message', async () => {
    const limits = createFakeLimitStore();
    const deps = { limits, limitConfig: config, now };
    const call = { kind: 'status', cui: '14399840', uploadId: '77' } as const;
    expect(await takeAnafLimits(deps, 't1', call)).toEqual({ ok: true });
    expect(await takeAnafLimits(deps, 't1', call)).toEqual({ ok: true });
    const refused = await takeAnafLimits(deps, 't1', call);
    expect(refused).toMatchObject({
      ok: false,
      counter: { name: 'status-per-message-per-day', limit: 2 },
      // until midnight in Romania (UTC+3 since 03:00 that day)
      retryAfterSeconds: 10 * 3600 + 44 * 60 + 30,
      message: 'ANAF limit status-per-message-per-day (2) reached; retry after 38670 s',
    });
    // All or none: the refused call took no unit of the minute either.
    const [minute] = limitsFor(call, now.getTime(), config);
    expect(limits.count('t1', minute!.key)).toBe(2);
  });

  it('keeps each tenant\'s budget and the public calls\' apart', async () => {
    const limits = createFakeLimitStore();
    const deps = { limits, limitConfig: config, now };
    for (let i = 0; i < 5; i++) expect((await takeAnafLimits(deps, 't1', { kind: 'list', cui: '1' })).ok).toBe(true);
    expect(await takeAnafLimits(deps, 't1', { kind: 'list', cui: '1' })).toMatchObject({ ok: false, counter: { name: 'calls-per-minute' }, retryAfterSeconds: 30 });
    expect((await takeAnafLimits(deps, 't2', { kind: 'list', cui: '1' })).ok).toBe(true);
    expect((await takeAnafLimits(deps, PUBLIC_SCOPE, { kind: 'validate' })).ok).toBe(true);
  });

  it('of callers racing for the last unit, exactly one gets it', async () => {
    const limits = createFakeLimitStore();
    const deps = { limits, limitConfig: config, now };
    for (let i = 0; i < 4; i++) await takeAnafLimits(deps, 't1', { kind: 'pdf' });
    const results = await Promise.all(Array.from({ length: 8 }, () => takeAnafLimits(deps, 't1', { kind: 'pdf' })));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
  });
});
