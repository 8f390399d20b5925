import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { coercedNumber, describeIssue } from '../../../shared/domain/validation.js';
import { matchRoute, apiGatewayEvent, lambdaContext } from '../../../local/gateway.js';

/**
 * What a VALIDATION_ERROR says, through the real handlers (validation happens before any store call, so
 * no AWS is needed): the allowed range, "at least one CUI", the unknown field's name, the allowed limit.
 */
beforeAll(() => {
  Object.assign(process.env, { TABLE_NAME: 'unit-table', SECRET_PREFIX: 'unit/', AWS_REGION: 'eu-central-1', POWERTOOLS_LOG_LEVEL: 'ERROR' });
});

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; code: string; message: string }> {
  const url = new URL(path, 'http://unit.local');
  const route = matchRoute(method, url.pathname)!;
  const raw = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const event = apiGatewayEvent(route, { url, headers: raw ? { 'content-type': 'application/json' } : {}, body: raw });
  const { handler } = (await import(`../../../functions/${route.fn}/handler.ts`)) as {
    handler: (e: APIGatewayProxyEventV2, c: unknown) => Promise<{ statusCode: number; body: string }>;
  };
  const result = await handler(event, lambdaContext(route.fn));
  const { error } = JSON.parse(result.body) as { error: { code: string; message: string } };
  return { status: result.statusCode, ...error };
}

describe('validation messages say what is wrong', () => {
  it.each([
    ['ttlSeconds too small', { cuis: ['14399840'], ttlSeconds: 5 }, /ttlSeconds: must be an integer from 60 to \d+ seconds/],
    ['ttlSeconds too large', { cuis: ['14399840'], ttlSeconds: 1e9 }, /ttlSeconds: must be an integer from 60 to \d+ seconds/],
    ['ttlSeconds a fraction', { cuis: ['14399840'], ttlSeconds: 600.5 }, /ttlSeconds: must be an integer from 60 to \d+ seconds/],
    ['ttlSeconds a string', { cuis: ['14399840'], ttlSeconds: '600' }, /ttlSeconds: must be an integer from 60 to \d+ seconds/],
    ['no CUI', { cuis: [] }, /cuis: at least one CUI is required/],
    ['cuis missing', {}, /cuis: is required/],
    ['cuis not a list', { cuis: '14399840' }, /cuis: must be an array/],
    ['an unknown field', { cuis: ['14399840'], ttl: 600 }, /body: unknown field "ttl"/],
    ['two unknown fields', { cuis: ['14399840'], ttl: 600, return_url: 'x' }, /body: unknown fields "ttl", "return_url"/],
  ])('POST connect-sessions, %s', async (_, body, message) => {
    const answer = await call('POST', '/v1/tenants/acme/connect-sessions', body);
    expect(answer).toMatchObject({ status: 400, code: 'VALIDATION_ERROR' });
    expect(answer.message).toMatch(message);
  });

  it.each(['0', '101', 'abc', '2.5', '-1'])('GET events?limit=%s names the allowed limit', async (limit) => {
    const answer = await call('GET', `/v1/tenants/acme/events?limit=${limit}`);
    expect(answer).toMatchObject({ status: 400, code: 'VALIDATION_ERROR', message: 'limit: must be an integer from 1 to 100' });
  });

  it('an unknown query parameter is named, with the ones the route reads', async () => {
    const answer = await call('GET', '/v1/tenants/acme/events?limt=10');
    expect(answer).toMatchObject({ status: 400, code: 'VALIDATION_ERROR', message: 'unknown query parameter "limt" (this route reads limit, cursor)' });
    const none = await call('GET', '/v1/tenants/acme/tokens?x=1');
    expect(none.message).toBe('unknown query parameter "x" (this route takes none)');
  });

  it('an unknown field of another body is named too (PUT companies)', async () => {
    const answer = await call('PUT', '/v1/tenants/acme/companies/14399840', { name: 'Demo', nmae: 'typo' });
    expect(answer).toMatchObject({ status: 400, code: 'VALIDATION_ERROR', message: 'body: unknown field "nmae"' });
  });
});

describe('describeIssue', () => {
  const issueOf = (schema: z.ZodMiniType, value: unknown) => {
    const result = z.safeParse(schema, value);
    if (result.success) throw new Error('expected an issue');
    return describeIssue(result.error.issues[0]!, value);
  };
  it.each([
    [z.object({ a: z.string() }), {}, 'is required'],
    [z.object({ a: z.string() }), { a: 1 }, 'must be a string'],
    [z.object({ a: z.boolean() }), { a: 'yes' }, 'must be true or false'],
    [z.number().check(z.minimum(3)), 1, 'must be at least 3'],
    [z.number().check(z.maximum(3)), 9, 'must be at most 3'],
    [z.string().check(z.maxLength(4)), 'abcdef', 'must be at most 4 characters long'],
    [z.string().check(z.minLength(1)), '', 'must be at least 1 character long'],
    [z.array(z.string()).check(z.maxLength(2)), ['a', 'b', 'c'], 'must have at most 2 items'],
    [z.strictObject({}), { x: 1 }, 'unknown field "x"'],
    [z.enum(['test', 'prod']), 'dev', 'must be one of "test", "prod"'],
    [z.number().check(z.minimum(3, { error: 'own words' })), 1, 'own words'],
  ] as Array<[z.ZodMiniType, unknown, string]>)('%#: %j → %s', (schema, value, expected) => {
    expect(issueOf(schema, value)).toBe(expected);
  });
});

describe('coercedNumber', () => {
  it('parses and refuses exactly what z.coerce.number does, with the same issues', () => {
    const inputs = ['42', ' 7 ', '', '1e3', '0x10', '1.5', '-0', 'x', 'Infinity', null, undefined, true, [], {}, 12];
    for (const error of [undefined, 'must be a number']) {
      const ours = coercedNumber({ error }).check(z.int(), z.minimum(1));
      const zods = z.coerce.number({ error }).check(z.int(), z.minimum(1));
      for (const input of inputs) expect(z.safeParse(ours, input), `${JSON.stringify(input)} (${error})`).toEqual(z.safeParse(zods, input));
    }
  });
});
