import { isThrottlingError, isTransientError } from '@smithy/core/retry';
import { BrokerError } from '../domain/errors.js';

/**
 * Bounds on every AWS SDK call (DynamoDB, Secrets Manager, EventBridge, KMS). Without them a stalled
 * call can outlive the refresh lease, and the stalled run would then present a refresh token another
 * run has already spent. The refresh worst case (shared/services/refresh.ts) counts them.
 */
export const AWS_CALLS = {
  connectionTimeoutMs: 1_000,
  requestTimeoutMs: 2_000,
  /** The SDK's own attempts per call (first try + retries). */
  maxAttempts: 2,
  /** Upper bound of the SDK's backoff between its attempts (standard retry strategy, throttling base). */
  backoffBoundMs: 1_000,
} as const;

/** The longest one SDK call can take with these settings. */
export const awsCallWorstCaseMs = (): number =>
  AWS_CALLS.maxAttempts * (AWS_CALLS.connectionTimeoutMs + AWS_CALLS.requestTimeoutMs) + (AWS_CALLS.maxAttempts - 1) * AWS_CALLS.backoffBoundMs;

/**
 * Sockets per client without the SDK's cap of 50: smithy starts the connection timeout when a call
 * starts, not when it gets a socket, so a call queued behind 50 busy sockets fails as a connection
 * timeout without having tried to connect. A Lambda instance runs one invocation (a few calls) at a
 * time and never reaches the cap; a local gateway hosting hundreds of invocations in one process does.
 */
const UNCAPPED_SOCKETS = { maxSockets: Infinity };

/** Constructor settings for every SDK client the runtime builds. */
export const awsClientSettings = () => ({
  maxAttempts: AWS_CALLS.maxAttempts,
  requestHandler: {
    connectionTimeout: AWS_CALLS.connectionTimeoutMs,
    requestTimeout: AWS_CALLS.requestTimeoutMs,
    // Without it smithy (node-http-handler 4.x) only logs a warning once requestTimeout has passed and
    // the call waits on: a call to a store that stalls would never end, and outlive the lease.
    throwOnRequestTimeout: true,
    httpAgent: UNCAPPED_SOCKETS,
    httpsAgent: UNCAPPED_SOCKETS,
  },
});

/** Seconds an ERP is asked to wait (`Retry-After`) after a store did not answer. */
export const STORE_RETRY_AFTER_SECONDS = 2;

/**
 * Whether `error` is a store that did not answer, after the SDK's own attempts: a call past its timeout,
 * a refused or reset connection, throttling, or a 5xx of DynamoDB, Secrets Manager, KMS, S3 or
 * EventBridge (smithy's own classification, the one its retries use). Only errors the SDK threw count
 * (it sets `$metadata` on every error it throws): a refused condition, a validation error or a bug of
 * ours is not a store fault, nor is a failed call to ANAF (its adapter answers typed errors).
 */
export function isStoreFault(error: unknown): boolean {
  if (typeof error !== 'object' || error === null || !('$metadata' in error)) return false;
  const sdkError = error as Parameters<typeof isTransientError>[0];
  return isTransientError(sdkError) || isThrottlingError(sdkError);
}

/**
 * A store that did not answer (see `isStoreFault`) as the error an ERP retries: 503 STORE_UNAVAILABLE
 * with Retry-After. Anything else is passed through.
 */
export function storeFaultAsBrokerError(error: unknown): unknown {
  if (error instanceof BrokerError || !isStoreFault(error)) return error;
  return new BrokerError('STORE_UNAVAILABLE', "the broker's storage did not answer in time; retry in a few seconds", {
    cause: error,
    retryAfterSeconds: STORE_RETRY_AFTER_SECONDS,
  });
}
