import type { TokenRecord } from '../domain/model.js';
import type { ServiceDeps } from './deps.js';

const LEASE_POLL_MS = 100;
/**
 * A caller waiting for a token's lease polls with a back-off from LEASE_POLL_MS, doubling up to this: a
 * refresh takes a few hundred ms, so the first polls catch most results, and a crowd of callers waiting
 * on one token (an ERP's batch on an expired token) does not bury the holder's own calls.
 */
const LEASE_POLL_MAX_MS = 800;

/** The pause before poll number `polls` (0, 1, …) of a lease wait. */
export const leasePollMs = (polls: number) => Math.min(LEASE_POLL_MAX_MS, LEASE_POLL_MS * 2 ** polls);

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Takes the token's lease, asking again with the back-off while another run holds it, until
 * `pastDeadline()` says the caller's wait is over: the leased record, or null when it never came free.
 */
export async function acquireLeaseWithin(
  deps: Pick<ServiceDeps, 'tokens' | 'clock'>,
  lease: { tenantId: string; tokenId: string; owner: string; leaseSeconds: number },
  pastDeadline: () => boolean,
): Promise<TokenRecord | null> {
  for (let polls = 0; ; polls++) {
    const leased = await deps.tokens.acquireLease(lease.tenantId, lease.tokenId, lease.owner, deps.clock.now(), lease.leaseSeconds);
    if (leased || pastDeadline()) return leased;
    await sleep(leasePollMs(polls));
  }
}
