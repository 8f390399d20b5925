import { describe, expect, it } from 'vitest';
import { isStoreFault, storeFaultAsBrokerError, STORE_RETRY_AFTER_SECONDS } from '../../../shared/config/aws-calls.js';
import { BrokerError } from '../../../shared/domain/errors.js';

/** An error as the SDK throws it: it always carries `$metadata` (attempts, and the status when answered). */
const sdk = (fields: Record<string, unknown>, metadata: Record<string, unknown> = {}) =>
  Object.assign(new Error(String(fields.message ?? 'x')), { $metadata: { attempts: 2, ...metadata }, ...fields });

describe('isStoreFault', () => {
  it.each([
    ['a request timeout', sdk({ name: 'TimeoutError' })],
    ['a refused connection', sdk({ code: 'ECONNREFUSED' })],
    ['a reset connection', sdk({ code: 'ECONNRESET' })],
    ['DynamoDB throttling (400)', sdk({ name: 'ProvisionedThroughputExceededException', $fault: 'client' }, { httpStatusCode: 400 })],
    ['Secrets Manager throttling', sdk({ name: 'ThrottlingException', $fault: 'client' }, { httpStatusCode: 400 })],
    ['any 429', sdk({ name: 'TooManyRequests' }, { httpStatusCode: 429 })],
    ['a 500 of DynamoDB', sdk({ name: 'InternalServerError', $fault: 'server' }, { httpStatusCode: 500 })],
    ['a 503 of Secrets Manager', sdk({ name: 'ServiceUnavailable', $fault: 'server' }, { httpStatusCode: 503 })],
  ])('%s is one', (_, error) => {
    expect(isStoreFault(error)).toBe(true);
  });

  it.each([
    ['a refused condition', sdk({ name: 'ConditionalCheckFailedException', $fault: 'client' }, { httpStatusCode: 400 })],
    ['a validation error of the request', sdk({ name: 'ValidationException', $fault: 'client' }, { httpStatusCode: 400 })],
    ['a missing secret', sdk({ name: 'ResourceNotFoundException', $fault: 'client' }, { httpStatusCode: 400 })],
    ['a bug of ours', new TypeError('x is not a function')],
    ['a network error that did not come from the SDK (no $metadata)', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })],
    ['a BrokerError', new BrokerError('REFRESH_IN_PROGRESS', 'busy')],
    ['not an error', 'ECONNRESET'],
    ['null', null],
  ])('%s is not', (_, error) => {
    expect(isStoreFault(error)).toBe(false);
  });
});

describe('storeFaultAsBrokerError', () => {
  it('a store fault becomes STORE_UNAVAILABLE with Retry-After, keeping the SDK error as its cause', () => {
    const fault = sdk({ name: 'TimeoutError', message: 'Request timed out' });
    const mapped = storeFaultAsBrokerError(fault);
    expect(mapped).toBeInstanceOf(BrokerError);
    expect(mapped).toMatchObject({ code: 'STORE_UNAVAILABLE', retryAfterSeconds: STORE_RETRY_AFTER_SECONDS, cause: fault });
    expect((mapped as BrokerError).message).not.toMatch(/Request timed out/);
  });

  it('anything else passes through as it is', () => {
    const ours = new BrokerError('TOKEN_NOT_FOUND', 'no such token');
    const bug = new RangeError('bad');
    expect(storeFaultAsBrokerError(ours)).toBe(ours);
    expect(storeFaultAsBrokerError(bug)).toBe(bug);
  });
});
