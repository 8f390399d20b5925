/**
 * Timeout and memory per function. API Gateway gives an HTTP integration 30 s at most, so anything that
 * calls ANAF inside a request gets 20 s: ANAF_TIMEOUT_MS (≤ 12 s, checked in stages.ts) plus the wait
 * for a concurrent refresh (≤ 5 s) plus the Secrets Manager and DynamoDB writes that must follow.
 */
export interface FunctionProfile {
  timeoutSeconds: number;
  memoryMb: number;
  description: string;
}

const http = (description: string): FunctionProfile => ({ timeoutSeconds: 10, memoryMb: 256, description });
const callsAnaf = (description: string): FunctionProfile => ({ timeoutSeconds: 20, memoryMb: 256, description });

export const FUNCTION_PROFILES: Readonly<Record<string, FunctionProfile>> = {
  'anaf-client-put': http('Stores or replaces a tenant ANAF OAuth client'),
  'anaf-client-get': http('Reads a tenant ANAF OAuth client (without its secret)'),
  'company-put': http('Registers a company and optionally links it to a token'),
  'company-get': http('Lists companies or reads one, with connection status'),
  'company-delete': http('Forgets a company and its link'),
  'connect-session-create': http('Mints a connect session for the certificate holder'),
  'oauth-authorize': http('Redirects a browser to ANAF authorize with a single-use state'),
  // ANAF's code is valid 60 s: the exchange happens inside the callback, well inside API Gateway's 30 s.
  'oauth-callback': callsAnaf('Consumes the state, exchanges the code at ANAF and stores the pair'),
  'token-import': http('Imports a token pair obtained by hand before'),
  'token-get': http('Lists tokens or reads one (metadata only)'),
  'token-refresh': callsAnaf('Refreshes one token now'),
  'access-token-get': callsAnaf('Answers a fresh access token, refreshing first when it is about to expire'),
  'token-delete': http('Disconnects a token: deletes the pair and unlinks companies'),
  'events-list': http('Lists a tenant audit trail'),
  // Invoked from the console or the CLI, not behind API Gateway.
  'manual-refresh': { timeoutSeconds: 30, memoryMb: 256, description: 'Manual refresh of one token (console / aws lambda invoke)' },
  // The sweep stops taking work before its deadline; 15 min is Lambda's maximum.
  'refresh-sweep': { timeoutSeconds: 900, memoryMb: 512, description: 'Scheduled sweep: refreshes every due token' },
};
