import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as sweepHandler } from '../../functions/refresh-sweep/handler.js';
import type { MetricName, Metrics } from '../../shared/ports.js';
import { getRuntime } from '../../shared/runtime/runtime.js';
import { ALL_ADAPTERS } from '../../shared/runtime/adapters/index.js';
import { reportHealth } from '../../shared/services/sweep.js';
import { CUIS, connect, setupTenant, startTestStack } from '../support/stack.js';

type Stack = Awaited<ReturnType<typeof startTestStack>>;
let stack: Stack;

beforeAll(async () => {
  stack = await startTestStack({ MANUAL_REFRESH_COOLDOWN_SECONDS: '0' });
});
afterAll(async () => {
  await stack?.stop();
});

describe('token health gauges (index queries on moto)', () => {
  it('counts active and reauth-required tokens and the nearest refresh-token end', async () => {
    const control = stack.emulator!.control;
    await setupTenant(stack.api, 'health', [CUIS[0], CUIS[1], CUIS[2]]);
    control.setCertificate({ serial: '4e:00:00:01', holder: 'A' });
    const a = await connect(stack.api, 'health', [CUIS[0]]);
    control.setCertificate({ serial: '4e:00:00:02', holder: 'B' });
    control.setTokenLifetimes({ refreshSeconds: 40 * 86_400 });
    await connect(stack.api, 'health', [CUIS[1]]);
    control.setTokenLifetimes({ refreshSeconds: 365 * 86_400 });
    control.setCertificate({ serial: '4e:00:00:03', holder: 'C' });
    const c = await connect(stack.api, 'health', [CUIS[2]]);
    control.failNext('invalid_grant');
    const refused = await stack.api.post(`/v1/tenants/health/tokens/${c.tokenId}/refresh`);
    expect(refused.status).toBe(409);
    const disconnected = await stack.api.del(`/v1/tenants/health/tokens/${a.tokenId}`);
    expect(disconnected.status).toBe(204);

    const gauges: Array<{ name: MetricName; value: number; dimensions?: Record<string, string> }> = [];
    const metrics: Metrics = { count: () => undefined, gauge: (name, value, dimensions) => gauges.push({ name, value, dimensions }), flush: () => undefined };
    const health = await reportHealth({ ...getRuntime(...ALL_ADAPTERS).deps, metrics });
    expect(health).toEqual({ active: 1, reauthRequired: 1, minDaysToRefreshExpiry: 39 });
    expect(gauges).toEqual([
      { name: 'TokensByStatus', value: 1, dimensions: { status: 'active' } },
      { name: 'TokensByStatus', value: 1, dimensions: { status: 'reauth-required' } },
      { name: 'DaysToRefreshExpiryMin', value: 39, dimensions: undefined },
    ]);

    // The scheduled handler runs the sweep, then reports the same figures.
    const result = await sweepHandler({});
    expect(result.health).toEqual(health);
  });
});
