import { reconcileSecret } from '../domain/disconnection.js';
import type { TokenRecord } from '../domain/model.js';
import type { ServiceDeps } from './deps.js';
import { disconnect, finishDisconnect } from './disconnect.js';
import { refreshToken, refreshWorstCaseMs, warnIfExpiring } from './refresh.js';

export interface SweepSummary {
  due: number;
  refreshed: number;
  skipped: number;
  failed: number;
  reauthRequired: number;
  warned: number;
  /** Due tokens no company used any more: disconnected (reason UNUSED) instead of rotated. */
  unusedDisconnected: number;
  /** Token secrets no record pointed at, older than an hour: deleted. */
  orphanSecretsDeleted: number;
  /** Disconnected tokens whose secret still existed (or whose event was not recorded): finished. */
  disconnectsFinished: number;
  /** True when the run stopped taking work before its time ran out; the rest waits for the next run. */
  stoppedEarly: boolean;
}

export interface SweepOptions {
  remainingMs: () => number;
  reserveMs?: number;
  /** false skips the Secrets Manager reconciliation (for tests of the due pass alone). */
  reconcile?: boolean;
}

const PAGE_SIZE = 50;

/**
 * The scheduled sweep. Steps: page through the due index (never a scan); for each due token, disconnect
 * it when no company uses it any more, else send the due refresh-token warning and refresh it when its
 * access token is within the margin, at most `sweepConcurrency` at a time; one token's failure never
 * stops the others. Then reconcile Secrets Manager with the table (`reconcile`). Stops taking work when
 * less than `reserveMs` of the run's time is left.
 */
export async function sweep(deps: ServiceDeps, options: SweepOptions): Promise<SweepSummary> {
  // A refresh started with less time left could be cut off between ANAF's rotation and the pair write.
  const reserveMs = options.reserveMs ?? refreshWorstCaseMs(deps.settings);
  const summary: SweepSummary = {
    due: 0,
    refreshed: 0,
    skipped: 0,
    failed: 0,
    reauthRequired: 0,
    warned: 0,
    unusedDisconnected: 0,
    orphanSecretsDeleted: 0,
    disconnectsFinished: 0,
    stoppedEarly: false,
  };
  const outOfTime = () => {
    if (options.remainingMs() >= reserveMs) return false;
    summary.stoppedEarly = true;
    return true;
  };
  const now = deps.clock.now();
  const seen = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await deps.tokens.queryDue(now, PAGE_SIZE, cursor);
    cursor = page.cursor;
    const items = page.items.filter((item) => !seen.has(`${item.tenantId}/${item.tokenId}`));
    items.forEach((item) => seen.add(`${item.tenantId}/${item.tokenId}`));
    summary.due += items.length;
    await inParallel(deps, items, outOfTime, (item) => sweepOne(deps, item.tenantId, item.tokenId, summary));
    if (summary.stoppedEarly) break;
  } while (cursor);
  if (!summary.stoppedEarly && options.reconcile !== false) await reconcile(deps, summary, outOfTime);
  // Many tokens condemned in one run smells like our bug (or an ANAF change), not like users: alarmed.
  deps.metrics?.gauge('SweepReauthRequired', summary.reauthRequired);
  deps.logger.info('sweep finished', { ...summary });
  return summary;
}

/** Runs `work` over `items`, at most `sweepConcurrency` at a time, taking no new item once out of time. */
async function inParallel<T>(deps: ServiceDeps, items: T[], outOfTime: () => boolean, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      if (outOfTime()) return;
      await work(items[next++]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(deps.settings.sweepConcurrency, items.length) }, worker));
}

async function sweepOne(deps: ServiceDeps, tenantId: string, tokenId: string, summary: SweepSummary): Promise<void> {
  try {
    // A token no company uses is not rotated for ever: its refresh token is retired instead. Decided
    // here, when it is due anyway, so an unused token lives at most until its next due time.
    const companies = await deps.companies.listByToken(tenantId, tokenId);
    if (companies.length === 0) {
      const token = await deps.tokens.get(tenantId, tokenId);
      if (token?.status === 'active' && (await disconnect(deps, token, 'UNUSED')).flipped) {
        summary.unusedDisconnected++;
        return;
      }
    }
    // The companies just read are the ones this token's refresh and warning events name: they are not
    // asked again (a company moved meanwhile is as stale as one moved after the event's own read).
    const knownCuis = companies.map((c) => c.cui);
    const result = await refreshToken(deps, { tenantId, tokenId, trigger: 'sweep', knownCuis });
    if (result.outcome === 'refreshed' || result.outcome === 'recovered') summary.refreshed++;
    else if (result.outcome === 'reauth-required') summary.reauthRequired++;
    else if (result.outcome === 'failed') summary.failed++;
    else summary.skipped++;
    // The result carries the record as the refresh left it (written, or read under its lease): the
    // warning checks it, and takes the lease and reads the record again before it writes anything.
    const warned = await warnIfExpiring(deps, result.token, { knownCuis });
    if (warned !== result.token) summary.warned++;
  } catch (error) {
    summary.failed++;
    deps.logger.error('sweep item failed', { tenantId, tokenId, errorName: (error as Error)?.name, errorMessage: (error as Error)?.message });
  }
}

/**
 * Pages through the token secrets (a Secrets Manager listing, not a table scan) and reads the page's
 * records in one batch: a secret no record points at, older than an hour, is deleted (a callback or
 * import died between its secret write and its transaction); a disconnected token whose secret still
 * exists, or whose event is not recorded, gets its disconnect finished. One secret's failure never stops
 * the others; a page whose records cannot be read is left to the next run.
 */
async function reconcile(deps: ServiceDeps, summary: SweepSummary, outOfTime: () => boolean): Promise<void> {
  const now = deps.clock.now();
  let cursor: string | undefined;
  do {
    if (outOfTime()) return;
    const page = await deps.secrets.listTokenSecrets(cursor);
    cursor = page.cursor;
    let records: Array<TokenRecord | null>;
    try {
      records = await deps.tokens.getMany(page.secrets);
    } catch (error) {
      deps.logger.error('reading the records of a page of token secrets failed', { secrets: page.secrets.length, errorName: (error as Error)?.name, errorMessage: (error as Error)?.message });
      continue;
    }
    const work = page.secrets.map((secret, i) => ({ secret, record: records[i] ?? null }));
    await inParallel(deps, work, outOfTime, async ({ secret, record }) => {
      const { tenantId, tokenId } = secret;
      try {
        const { action, reason } = reconcileSecret(secret, record, now);
        if (action === 'delete-orphan') {
          await deps.secrets.deleteTokenPair(tenantId, tokenId);
          summary.orphanSecretsDeleted++;
          deps.logger.warn('deleted a token secret no record points at', { tenantId, tokenId, createdAt: secret.createdAt });
        } else if (action === 'finish-disconnect') {
          await finishDisconnect(deps, record!);
          summary.disconnectsFinished++;
          deps.logger.warn('finished an interrupted disconnect', { tenantId, tokenId, reason });
        }
      } catch (error) {
        deps.logger.error('reconciling a token secret failed', { tenantId, tokenId, errorName: (error as Error)?.name, errorMessage: (error as Error)?.message });
      }
    });
    if (summary.stoppedEarly) return;
  } while (cursor);
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
