import type { ServiceDeps } from './deps.js';
import { refreshToken, refreshWorstCaseMs, warnIfExpiring } from './refresh.js';

export interface SweepSummary {
  due: number;
  refreshed: number;
  skipped: number;
  failed: number;
  reauthRequired: number;
  warned: number;
  /** True when the run stopped taking work before its time ran out; the rest waits for the next run. */
  stoppedEarly: boolean;
}

const PAGE_SIZE = 50;

/**
 * The scheduled sweep. Steps: page through the due index (never a scan); for each due token, send the
 * due refresh-token warning and refresh it when its access token is within the margin, at most
 * `sweepConcurrency` at a time; one token's failure never stops the others; stop taking work when
 * less than `reserveMs` of the run's time is left.
 */
export async function sweep(deps: ServiceDeps, options: { remainingMs: () => number; reserveMs?: number }): Promise<SweepSummary> {
  // A refresh started with less time left could be cut off between ANAF's rotation and the pair write.
  const reserveMs = options.reserveMs ?? refreshWorstCaseMs(deps.settings);
  const summary: SweepSummary = { due: 0, refreshed: 0, skipped: 0, failed: 0, reauthRequired: 0, warned: 0, stoppedEarly: false };
  const now = deps.clock.now();
  const seen = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await deps.tokens.queryDue(now, PAGE_SIZE, cursor);
    cursor = page.cursor;
    const items = page.items.filter((item) => !seen.has(`${item.tenantId}/${item.tokenId}`));
    items.forEach((item) => seen.add(`${item.tenantId}/${item.tokenId}`));
    summary.due += items.length;
    let next = 0;
    const worker = async () => {
      while (next < items.length) {
        if (options.remainingMs() < reserveMs) {
          summary.stoppedEarly = true;
          return;
        }
        const item = items[next++]!;
        await sweepOne(deps, item.tenantId, item.tokenId, summary);
      }
    };
    await Promise.all(Array.from({ length: Math.min(deps.settings.sweepConcurrency, items.length) }, worker));
    if (summary.stoppedEarly) break;
  } while (cursor);
  // Many tokens condemned in one run smells like our bug (or an ANAF change), not like users: alarmed.
  deps.metrics?.gauge('SweepReauthRequired', summary.reauthRequired);
  deps.logger.info('sweep finished', { ...summary });
  return summary;
}

async function sweepOne(deps: ServiceDeps, tenantId: string, tokenId: string, summary: SweepSummary): Promise<void> {
  try {
    const result = await refreshToken(deps, { tenantId, tokenId, trigger: 'sweep' });
    if (result.outcome === 'refreshed' || result.outcome === 'recovered') summary.refreshed++;
    else if (result.outcome === 'reauth-required') summary.reauthRequired++;
    else if (result.outcome === 'failed') summary.failed++;
    else summary.skipped++;
    const latest = result.outcome === 'skipped' ? result.token : ((await deps.tokens.get(tenantId, tokenId)) ?? result.token);
    const warned = await warnIfExpiring(deps, latest);
    if (warned !== latest) summary.warned++;
  } catch (error) {
    summary.failed++;
    deps.logger.error('sweep item failed', { tenantId, tokenId, errorName: (error as Error)?.name, errorMessage: (error as Error)?.message });
  }
}

export interface TokenHealth {
  active: number;
  reauthRequired: number;
  /** Days until the nearest refresh-token end among active tokens; null when there are none. */
  minDaysToRefreshExpiry: number | null;
}

/**
 * Health gauges for the dashboard and the reauth-required alarm: tokens by status and the nearest
 * refresh-token end, counted with index queries (never a scan). Called after each sweep.
 */
export async function reportHealth(deps: ServiceDeps): Promise<TokenHealth> {
  const stats = await deps.tokens.healthStats();
  const health: TokenHealth = {
    active: stats.active,
    reauthRequired: stats.reauthRequired,
    minDaysToRefreshExpiry:
      stats.nearestRefreshExpiry === null
        ? null
        : Math.floor((Date.parse(stats.nearestRefreshExpiry) - deps.clock.now().getTime()) / 86_400_000),
  };
  deps.metrics?.gauge('TokensByStatus', health.active, { status: 'active' });
  deps.metrics?.gauge('TokensByStatus', health.reauthRequired, { status: 'reauth-required' });
  if (health.minDaysToRefreshExpiry !== null) deps.metrics?.gauge('DaysToRefreshExpiryMin', health.minDaysToRefreshExpiry);
  deps.logger.info('token health', { ...health });
  return health;
}
