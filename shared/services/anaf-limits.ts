import { limitMessage, limitsFor, retryAfterSeconds, type AnafCall, type LimitConfig, type LimitCounter } from '../domain/anaf-limits.js';
import type { LimitStore } from '../ports.js';

/** The limiter's answer for one call: go ahead, or the full counter with what the 429 says. */
export type LimitVerdict = { ok: true } | { ok: false; counter: LimitCounter; retryAfterSeconds: number; message: string };

/**
 * Takes `call`'s units from ANAF's limit counters before ANAF is called (shared by every Lambda). The
 * units stay taken whatever ANAF then answers: ANAF counts what it receives, so a call that fails there
 * has still spent its unit. `scope` is the tenantId, or PUBLIC_SCOPE for `validate` / `pdf`.
 */
export async function takeAnafLimits(
  deps: { limits: LimitStore; limitConfig: LimitConfig; now: Date },
  scope: string,
  call: AnafCall,
): Promise<LimitVerdict> {
  const nowMs = deps.now.getTime();
  const taken = await deps.limits.take(scope, limitsFor(call, nowMs, deps.limitConfig));
  if (taken.ok) return taken;
  return { ok: false, counter: taken.counter, retryAfterSeconds: retryAfterSeconds(taken.counter, nowMs), message: limitMessage(taken.counter, nowMs) };
}
