import type { AuditEvent } from '../domain/model.js';
import type { ServiceDeps } from './deps.js';
import { requireTenant } from './tenants.js';

/** The tenant's audit trail, newest first, one page at a time. */
export async function listEvents(
  deps: ServiceDeps,
  input: { tenantId: string; limit: number; cursor?: string },
): Promise<{ events: AuditEvent[]; nextCursor: string | null }> {
  await requireTenant(deps, input.tenantId);
  return deps.audit.list(input.tenantId, input.limit, input.cursor);
}
