import * as z from 'zod/mini';
import { normalizeCui } from '../domain/cui.js';
import { BrokerError } from '../domain/errors.js';
import { TOKEN_ID_SHAPE } from '../domain/state.js';

export const TENANT_ID_SHAPE = /^[A-Za-z0-9_-]{1,64}$/;

/** Validates a path's tenantId. */
export function tenantIdParam(value: string | undefined): string {
  if (!value || !TENANT_ID_SHAPE.test(value)) {
    throw new BrokerError('VALIDATION_ERROR', 'tenantId must match ^[A-Za-z0-9_-]{1,64}$');
  }
  return value;
}

/** Normalizes a CUI from a path or body (RO prefix and spaces stripped) or throws INVALID_CUI. */
export function cuiParam(value: string | undefined): string {
  const cui = value === undefined ? null : normalizeCui(value);
  if (!cui) throw new BrokerError('INVALID_CUI', `not a valid Romanian CUI: ${JSON.stringify(value ?? '').slice(0, 40)}`);
  return cui;
}

/** A tokenId that cannot exist is simply not found. */
export function tokenIdParam(value: string | undefined): string {
  if (!value || !TOKEN_ID_SHAPE.test(value)) throw new BrokerError('TOKEN_NOT_FOUND', 'token not found');
  return value;
}

/** zod schema for a list of CUIs in a body: normalized; any invalid one is INVALID_CUI. */
export const cuiListSchema = z.array(z.string().check(z.maxLength(32)));

export function normalizeCuiList(values: string[]): string[] {
  return values.map((v) => cuiParam(v));
}

/** Parses with zod; any issue becomes VALIDATION_ERROR naming the fields. */
export function parseWith<T>(schema: z.ZodMiniType<T>, value: unknown): T {
  const result = z.safeParse(schema, value);
  if (result.success) return result.data;
  const problems = result.error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : 'body'}: ${issue.message}`);
  throw new BrokerError('VALIDATION_ERROR', problems.join('; '));
}
