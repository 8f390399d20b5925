/**
 * Timeout and memory per function. API Gateway answers an HTTP request after 30 s at most, but it does not
 * stop the Lambda behind it. Two cases follow:
 * - the OAuth callback makes one ANAF call (ANAF_TIMEOUT_MS ≤ 12 s, checked in stages.ts), may then wait for
 *   a refresh of the same token (the exchange and that wait share 20 s, REAUTHORIZATION_WAIT_MS), and must
 *   answer the browser: 28 s, inside API Gateway's limit;
 * - a refresh must never be killed between ANAF's rotation and the durable write of the new pair, so
 *   every function that can refresh gets more than the refresh's worst case plus the join wait
 *   (`refreshWorstCaseMs` at the largest ANAF_TIMEOUT_MS: every store call at its SDK timeouts and
 *   retries, 3 ANAF attempts, Retry-After waits, secret-write retries and the escrow ≈ 210 s) +
 *   JOIN_WAIT_MS: REFRESHING_TIMEOUT_SECONDS, checked by test/infra. A caller may then see API Gateway's
 *   503 in the rare worst case, but the rotated pair is stored. An import rotates the pasted pair once
 *   (join wait, one ANAF call, the same pair writes): it gets the same timeout.
 */
export interface FunctionProfile {
  timeoutSeconds: number;
  memoryMb: number;
  description: string;
}

const http = (description: string): FunctionProfile => ({ timeoutSeconds: 10, memoryMb: 256, description });
export const REFRESHING_TIMEOUT_SECONDS = 240;
const refreshes = (description: string): FunctionProfile => ({ timeoutSeconds: REFRESHING_TIMEOUT_SECONDS, memoryMb: 256, description });

export const FUNCTION_PROFILES: Readonly<Record<string, FunctionProfile>> = {
  'anaf-client-put': http('Stores or replaces a tenant ANAF OAuth client'),
  'anaf-client-get': http('Reads a tenant ANAF OAuth client (without its secret)'),
  'company-put': http('Registers a company and optionally links it to a token'),
  'company-get': http('Lists companies or reads one, with connection status'),
  'company-delete': http('Forgets a company and its link'),
  'connect-session-create': http('Mints a connect session for the certificate holder'),
  'connect-session-get': http('Reads a connect session: open, completed or expired, and its last failure'),
  'oauth-authorize': http('Redirects a browser to ANAF authorize with a single-use state'),
  // ANAF's code is valid 60 s: the exchange happens inside the callback, inside API Gateway's 30 s.
  'oauth-callback': { timeoutSeconds: 28, memoryMb: 256, description: 'Consumes the state, exchanges the code at ANAF and stores the pair' },
  'token-import': refreshes('Imports a token pair obtained by hand before, rotating it once at ANAF'),
  'token-get': http('Lists tokens or reads one (metadata only)'),
  'token-refresh': refreshes('Refreshes one token now'),
  'access-token-get': refreshes('Answers a fresh access token, refreshing first when it is about to expire'),
  'token-delete': http('Disconnects a token: deletes the pair and unlinks companies'),
  'events-list': http('Lists a tenant audit trail'),
  // Refreshes like the access-token route (on demand, and once after ANAF refuses the token); 512 MB for
  // invoices of up to 6 MB and ZIPs in memory. ANAF's calls keep to ANAF_EFACTURA_TIMEOUT_MS (≤ 28 s).
  efactura: { ...refreshes('e-Factura calls with the company token: upload, status, messages, download'), memoryMb: 512 },
  // Two table reads and a local signature: no network call to S3.
  'invoice-uploads': http('Answers a presigned S3 PUT URL for an invoice over the inline limit'),
  // ANAF_EFACTURA_TIMEOUT_MS (≤ 28 s) for the one ANAF call, inside API Gateway's 30 s.
  'efactura-public': { timeoutSeconds: 30, memoryMb: 512, description: 'ANAF validare and transformare (PDF) on the public host, no token' },
  // Invoked from the console or the CLI (raise the AWS CLI's --cli-read-timeout above 240 s), not behind API Gateway.
  'manual-refresh': refreshes('Manual refresh of one token (console / aws lambda invoke)'),
  // The sweep stops taking work before its deadline; 15 min is Lambda's maximum.
  'refresh-sweep': { timeoutSeconds: 900, memoryMb: 512, description: 'Scheduled sweep: refreshes every due token' },
};
