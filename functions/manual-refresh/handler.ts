import * as z from 'zod/mini';
import { storeFaultAsBrokerError } from '../../shared/config/aws-calls.js';
import { BrokerError } from '../../shared/domain/errors.js';
import { cuiParam, parseWith, tenantIdParam, tokenIdParam } from '../../shared/http/params.js';
import { PAIR_WRITING } from '../../shared/runtime/adapters/pair-writing.js';
import { getRuntime } from '../../shared/runtime/runtime.js';
import { manualRefresh } from '../../shared/services/access.js';
import type { TokenView } from '../../shared/domain/model.js';

const payload = z.strictObject({ tenantId: z.string(), tokenId: z.optional(z.string()), cui: z.optional(z.string()) });

export type ManualRefreshAnswer = TokenView | { error: { code: string; message: string } };

/**
 * Console / `aws lambda invoke` entry point: payload `{tenantId, tokenId}` or `{tenantId, cui}`.
 * Answers the token metadata, or `{error: {code, message}}` (the invocation itself succeeds).
 */
export async function handler(event: unknown): Promise<ManualRefreshAnswer> {
  const { deps, logger } = getRuntime(...PAIR_WRITING);
  try {
    const input = parseWith(payload, event);
    if (!input.tokenId === !input.cui) throw new BrokerError('VALIDATION_ERROR', 'give exactly one of tokenId or cui');
    const tenantId = tenantIdParam(input.tenantId);
    return await manualRefresh(deps, {
      tenantId,
      tokenId: input.tokenId ? tokenIdParam(input.tokenId) : undefined,
      cui: input.cui ? cuiParam(input.cui) : undefined,
    });
  } catch (thrown) {
    const error = storeFaultAsBrokerError(thrown);
    if (error instanceof BrokerError) {
      if (error !== thrown) logger.warn('store unavailable', { errorName: (thrown as Error).name });
      return { error: { code: error.code, message: error.message } };
    }
    logger.error('manual refresh failed', { errorName: (error as Error)?.name, errorMessage: (error as Error)?.message });
    return { error: { code: 'INTERNAL_ERROR', message: 'internal error' } };
  } finally {
    deps.metrics?.flush();
  }
}
