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
