/**
 * The 23:00 check's first look at a company, from the simulation's mirror of the table: whether its
 * linked record alone says that an access token could be handed out, or that the service would refuse
 * it again, or whether the real access-token service has to be asked.
 */
import type { TokenRecord } from '../../shared/domain/model.js';

export type MirrorVerdict = 'valid' | 'refused' | 'ask';

/**
 * `linked` is the company's linked record as the mirror holds it; `lastRefused` the record object the
 * service last refused for that company. The mirror keeps a record object until a write replaces it, so
 * "nothing has written it since the refusal" is object identity.
 * - an active record whose access token has time left at `at` is handed out as it is: valid;
 * - no linked record: refused (there is nothing to hand out);
 * - a `reauth-required` or `disconnected` record the service refused and nothing has written since:
 *   refused again, without asking (the service would answer the same from the same record);
 * - anything else is asked, above all an active record whose access token ended: the service may
 *   refresh it on demand, so an earlier refusal of it proves nothing.
 */
export function mirrorVerdict<T extends Pick<TokenRecord, 'status' | 'accessExpiresAt'>>(linked: T | undefined, lastRefused: T | undefined, at: number): MirrorVerdict {
  if (!linked) return 'refused';
  if (linked.status === 'active') return Date.parse(linked.accessExpiresAt) > at ? 'valid' : 'ask';
  return lastRefused === linked ? 'refused' : 'ask';
}

/** The first verdict on the link a warned holder opened: whether it worked and, if not, why. */
export interface LinkAttempt {
  worked: boolean;
  problem: string | null;
}

/** The page's answer when ANAF's login or token endpoint was down: nothing about the link itself. */
export const ANAF_UNAVAILABLE = 'anaf-unavailable';

/**
 * The verdict kept for a link after one more attempt with it (`problem` null: it reconnected). The first
 * attempt that says something about the link is kept; one that failed because ANAF was unavailable says
 * nothing about it (the holder tries the same link again the next day), so the verdict waits for the
 * next attempt.
 */
export function linkVerdict(kept: LinkAttempt | null, problem: string | null): LinkAttempt | null {
  if (kept) return kept;
  if (problem === ANAF_UNAVAILABLE) return null;
  return { worked: problem === null, problem };
}
