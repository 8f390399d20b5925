import type { AuditEvent } from '../domain/model.js';
import type { ServiceDeps } from './deps.js';

/**
 * Records a lifecycle event in the tenant's audit trail and publishes it on the bus. The state change
 * it describes is already stored, so a failure here is logged and swallowed, never undoing that change.
 */
export async function recordEvent(deps: Pick<ServiceDeps, 'audit' | 'events' | 'logger'>, event: AuditEvent): Promise<void> {
  const results = await Promise.allSettled([deps.audit.append(event), deps.events.publish(event)]);
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
}
