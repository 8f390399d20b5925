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
