import type { TokenRecord } from './model.js';

const DAY_MS = 86_400_000;

/** A lifecycle event's link lives at least this long: as long as the longest link the ERP may mint. */
export const EVENT_LINK_MIN_DAYS = 7;
/** …and this long past the moment the token's access would be lost, for the person who acts a little late. */
export const EVENT_LINK_GRACE_DAYS = 7;
/**
 * …but never longer than this. The link is a bearer capability sitting in a mailbox; 60 days cover every
 * warning (the first goes out 30 days before the refresh token's end: 37 days) and a refresh refused or
 * failing from the sweep's due time on (at most the sweep's lead, 41 days, of access left: 48 days), and leave only a `reauth-required` verdict reached with
 * more than 53 days of access left (a manual refresh early in an access token's life) to a link the ERP
 * mints afresh before it dies.
 */
export const EVENT_LINK_MAX_DAYS = 60;

/**
 * When the person's action stops mattering: `refresh-token-end` for a refresh-token warning (the pair
 * can be rotated until then), `access-token-end` when refreshes are refused or failing (the access
 * token in hand is all that is left).
 */
export type EventLinkLoss = 'refresh-token-end' | 'access-token-end';

/**
 * The end of a link minted for a lifecycle event: the moment the token's access would be lost (for
 * `access-token-end` the later of the access token's end and now) plus 7 days, at least 7 days from now,
 * at most 60.
 */
export function eventLinkExpiresAt(token: Pick<TokenRecord, 'accessExpiresAt' | 'refreshExpiresAt'>, loss: EventLinkLoss, now: Date): Date {
  const t = now.getTime();
  const lostAt = loss === 'refresh-token-end' ? Date.parse(token.refreshExpiresAt) : Math.max(Date.parse(token.accessExpiresAt), t);
  const end = Math.min(Math.max(lostAt + EVENT_LINK_GRACE_DAYS * DAY_MS, t + EVENT_LINK_MIN_DAYS * DAY_MS), t + EVENT_LINK_MAX_DAYS * DAY_MS);
  return new Date(end);
}

/** What the rule below reads of the token a link was minted for. */
export type BoundToken = Pick<TokenRecord, 'status' | 'serial' | 'failedAttempts' | 'warningsSent' | 'refreshExpiresAt'>;

/**
 * The token waits for someone with a certificate: ANAF refused it (`reauth-required`), its refreshes are
 * failing, or its refresh token nears (or passed) its end, a warning having gone out. A disconnected
 * token waits for nobody (it is never revived).
 */
export function needsAPerson(token: BoundToken, now: Date): boolean {
  if (token.status === 'reauth-required') return true;
  if (token.status !== 'active') return false;
  return token.failedAttempts > 0 || token.warningsSent.length > 0 || Date.parse(token.refreshExpiresAt) <= now.getTime();
}

/**
 * What completing a link minted for a token does, given the certificate (`serial`) that signed in:
 * - `holder`: that token's certificate (serials equal): the token is restored with the session's companies;
 * - `takes-over`: another certificate, and the token waits for a person (a renewed certificate has a new
 *   serial, and is exactly who answers the warning): the session's companies move to it;
 * - `other-certificate`: another certificate while the token is healthy (or gone): it gets a token of
 *   its own and no company moves, so a colleague holding the link cannot take a working connection.
 * A serial that is unknown on either side matches nobody.
 */
export type BoundLinkVerdict = 'holder' | 'takes-over' | 'other-certificate';

export function boundLinkVerdict(bound: BoundToken | null, serial: string | null, now: Date): BoundLinkVerdict {
  if (!bound) return 'other-certificate';
  if (bound.serial && bound.serial === serial) return 'holder';
  return needsAPerson(bound, now) ? 'takes-over' : 'other-certificate';
}
