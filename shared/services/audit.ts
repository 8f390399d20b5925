import type { AuditEvent, LifecycleEventType } from '../domain/model.js';
import type { MetricName } from '../ports.js';
import type { ServiceDeps } from './deps.js';

const METRIC_OF: Record<LifecycleEventType, MetricName> = {
  connected: 'Connected',
  'connect-failed': 'ConnectFailed',
  refreshed: 'Refreshed',
  'refresh-failed': 'RefreshFailed',
  'reauth-required': 'ReauthRequired',
  recovered: 'Recovered',
  relinked: 'Relinked',
  expiring: 'Expiring',
  disconnected: 'Disconnected',
  'token-issued': 'TokenIssued',
};

/** Audit-only entries: a hand-out happens on every ERP call and changes nothing the ERP must act on. */
const NOT_ON_BUS = new Set<LifecycleEventType>(['token-issued']);

/**
 * Records an event in the tenant's audit trail and, for lifecycle changes, publishes it on the bus. The
 * state change it describes is already stored, so a failure here is logged and swallowed, never
 * undoing that change. Answers whether the audit entry was written.
 */
export async function recordEvent(deps: Pick<ServiceDeps, 'audit' | 'events' | 'logger' | 'metrics'>, event: AuditEvent): Promise<boolean> {
  deps.metrics?.count(METRIC_OF[event.type]);
  const results = await Promise.allSettled([
    deps.audit.append(event),
    NOT_ON_BUS.has(event.type) ? Promise.resolve() : deps.events.publish(event),
  ]);
  for (const [i, result] of results.entries()) {
    if (result.status === 'rejected') {
      deps.logger.error(i === 0 ? 'audit append failed' : 'event publish failed', {
        type: event.type,
        tenantId: event.tenantId,
        tokenId: event.tokenId,
        errorName: (result.reason as Error)?.name,
      });
    }
  }
  return results[0].status === 'fulfilled';
}
