import { randomBytes } from 'node:crypto';
import { disconnectedRecord } from '../domain/disconnection.js';
import { BrokerError } from '../domain/errors.js';
import type { AuditEvent, DisconnectReason, Disconnection, TokenRecord } from '../domain/model.js';
import type { ServiceDeps } from './deps.js';
import { acquireLeaseWithin } from './lease-wait.js';
import { requireTenant } from './tenants.js';
import { requireToken } from './tokens.js';

/** How long a disconnect waits for another one finishing the same token before answering 409. */
const FINISH_WAIT_MS = 5_000;
/** The finishing steps are a handful of store calls; the lease that keeps them to one run outlives them. */
const FINISH_LEASE_SECONDS = 60;
/** A refresh or re-authorization writing between our read and our flip makes us read and flip again. */
const FLIP_ATTEMPTS = 3;

/**
 * DELETE …/tokens/{tokenId}: disconnects the token, or finishes a disconnect that an earlier call (or
 * the sweep) left unfinished. ANAF offers no server-side revoke; the README tells the user how to remove
 * the app in ANAF's portal.
 */
export async function disconnectToken(deps: ServiceDeps, tenantId: string, tokenId: string): Promise<void> {
  await requireTenant(deps, tenantId);
  const token = await requireToken(deps, tenantId, tokenId);
  await disconnect(deps, token, 'REQUESTED');
}

/**
 * Disconnects a token and finishes the disconnect. Steps: flip the record to `disconnected` (new
 * version, serial pointer dropped: nothing prepared before can land after, and the certificate's next
 * connection makes a new token); then `finishDisconnect`. A token already disconnected only gets the
 * finish. With reason UNUSED or REPLACED the flip happens only while no company is linked, and with
 * REPLACED only while the token is `reauth-required` (one that recovered meanwhile is left to the
 * sweep, as any unused active token); both are checked again on the record each attempt reads. Answers
 * whether this call flipped the token.
 */
export async function disconnect(
  deps: ServiceDeps,
  token: TokenRecord,
  reason: DisconnectReason,
  options: { replacedByTokenId?: string } = {},
): Promise<{ flipped: boolean; token: TokenRecord }> {
  let current = token;
  let flipped = false;
  for (let attempt = 1; current.status !== 'disconnected'; attempt++) {
    if (reason === 'REPLACED' && current.status !== 'reauth-required') return { flipped: false, token: current };
    const cuis = (await deps.companies.listByToken(current.tenantId, current.tokenId)).map((c) => c.cui);
    if ((reason === 'UNUSED' || reason === 'REPLACED') && cuis.length > 0) return { flipped: false, token: current };
    const next = disconnectedRecord(current, { at: deps.clock.now().toISOString(), reason, cuis, replacedByTokenId: options.replacedByTokenId });
    try {
      await deps.tokens.disconnect(current, next);
      current = next;
      flipped = true;
    } catch (error) {
      if (!(error instanceof BrokerError && error.code === 'CONFLICT') || attempt >= FLIP_ATTEMPTS) throw error;
      current = await requireToken(deps, token.tenantId, token.tokenId);
    }
  }
  return { flipped, token: await finishDisconnect(deps, current) };
}

/**
 * The steps after the flip, each safe to repeat, under the token's lease (so two finishers never both
 * record the event): delete the secret at once (ANAF would accept its refresh token for up to a year);
 * record the `disconnected` event in the audit trail and on the bus, each once (flags on the record);
 * unlink the companies still linked (a company pointing at a disconnected token already reads as not
 * connected, so this last step may take any time). A failure throws and leaves the rest to the next call.
 */
export async function finishDisconnect(deps: ServiceDeps, token: TokenRecord): Promise<TokenRecord> {
  const { tenantId, tokenId } = token;
  const owner = `disc_${randomBytes(8).toString('hex')}`;
  const deadline = Date.now() + FINISH_WAIT_MS;
  const leased = await acquireLeaseWithin(deps, { tenantId, tokenId, owner, leaseSeconds: FINISH_LEASE_SECONDS }, () => Date.now() >= deadline);
  if (!leased) throw new BrokerError('CONFLICT', 'another request is finishing this disconnect; try again shortly');
  try {
    if (leased.status !== 'disconnected') throw new BrokerError('CONFLICT', 'the token is not disconnected');
    await deps.secrets.deleteTokenPair(tenantId, tokenId);
    // A token disconnected before the disconnect was recorded on the record had its event sent then.
    const record = leased.disconnection ? await recordEventOnce(deps, leased, leased.disconnection, owner) : leased;
    for (const company of await deps.companies.listByToken(tenantId, tokenId)) {
      await deps.companies.unlinkToken(tenantId, company.cui, tokenId, deps.clock.now().toISOString());
    }
    return { ...record, leaseOwner: null, leaseExpiresAt: null };
  } finally {
    await deps.tokens.releaseLease(tenantId, tokenId, owner).catch((error: unknown) =>
      deps.logger.warn('lease release failed', { tenantId, tokenId, errorName: (error as Error)?.name }),
    );
  }
}

/**
 * The event goes to each sink, then its flag is set. The audit entry carries an id, so even a repeat
 * after a lost flag write leaves one entry; the bus has no such id, so only a crash between a publish
 * and its flag write can publish twice.
 */
async function recordEventOnce(deps: ServiceDeps, token: TokenRecord, d: Disconnection, owner: string): Promise<TokenRecord> {
  const event: AuditEvent = {
    tenantId: token.tenantId,
    type: 'disconnected',
    tokenId: token.tokenId,
    cuis: d.cuis,
    at: d.at,
    details: { serial: token.serial, reason: d.reason, ...(d.replacedByTokenId ? { replacedByTokenId: d.replacedByTokenId } : {}) },
  };
  let record = token;
  if (d.auditedAt === null) {
    await deps.audit.append(event, { id: `disconnected-${token.tokenId}` });
    deps.metrics?.count('Disconnected');
    record = await markRecorded(deps, record, owner, { auditedAt: deps.clock.now().toISOString() });
  }
  if (d.publishedAt === null) {
    await deps.events.publish(event);
    record = await markRecorded(deps, record, owner, { publishedAt: deps.clock.now().toISOString() });
  }
  return record;
}

async function markRecorded(deps: ServiceDeps, token: TokenRecord, owner: string, patch: Partial<Disconnection>): Promise<TokenRecord> {
  const next: TokenRecord = { ...token, disconnection: { ...token.disconnection!, ...patch } };
  if (!(await deps.tokens.replace(next, { expectedVersion: token.version, leaseOwner: owner }))) {
    throw new BrokerError('CONFLICT', 'the disconnect lost its lease while recording its event; try again');
  }
  return next;
}
