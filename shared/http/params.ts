import * as z from 'zod/mini';
import { normalizeCui } from '../domain/cui.js';
import { BrokerError } from '../domain/errors.js';
import { TOKEN_ID_SHAPE } from '../domain/state.js';
import { coercedNumber, describeIssues } from '../domain/validation.js';

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
/** The same, refusing an empty list ("at least one CUI"). */
export const nonEmptyCuiListSchema = cuiListSchema.check(z.minLength(1, { error: 'at least one CUI is required' }));

/**
 * An integer from `min` to `max`, with one message naming the range whatever is wrong (type, fraction,
 * bound). `coerce` for query parameters, which arrive as strings.
 */
export function integerInRange(min: number, max: number, options: { unit?: string; coerce?: boolean } = {}) {
  const error = `must be an integer from ${min} to ${max}${options.unit ? ` ${options.unit}` : ''}`;
  const number = options.coerce ? coercedNumber({ error }) : z.number({ error });
  return number.check(z.int({ error }), z.minimum(min, { error }), z.maximum(max, { error }));
}

export function normalizeCuiList(values: string[]): string[] {
  return values.map((v) => cuiParam(v));
}

/** Parses with zod; any issue becomes VALIDATION_ERROR naming each field and what is wrong with it. */
export function parseWith<T>(schema: z.ZodMiniType<T>, value: unknown): T {
  const result = z.safeParse(schema, value);
  if (result.success) return result.data;
  throw new BrokerError('VALIDATION_ERROR', describeIssues(result.error.issues, value).join('; '));
}
