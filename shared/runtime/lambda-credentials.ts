/**
 * Stands in for `@aws-sdk/credential-provider-node` in the deployed bundles (esbuild alias, see
 * BUNDLING in infra/constructs/broker-function.ts). Lambda hands a function its role's credentials in
 * the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), so the SDK's default
 * chain (SSO, profiles, STS web identity, IMDS: about 130 KB of the bundle and its load) is never used
 * there. The tests and the local stack run the sources through tsx with the real chain; the bundles
 * test runs the bundles with this one.
 */

type Credentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string; expiration?: Date; accountId?: string };

/** The SDK's `defaultProvider` signature: a provider of the environment's credentials. */
export const defaultProvider = (_init?: unknown) => async (): Promise<Credentials> => {
  const env = process.env;
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    // The SDK's own name for "no credentials here", so its error handling reads it as before.
    throw Object.assign(new Error('no AWS credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)'), { name: 'CredentialsProviderError', tryNextLink: false });
  }
  return {
    accessKeyId,
    secretAccessKey,
    ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
    ...(env.AWS_CREDENTIAL_EXPIRATION ? { expiration: new Date(env.AWS_CREDENTIAL_EXPIRATION) } : {}),
    ...(env.AWS_ACCOUNT_ID ? { accountId: env.AWS_ACCOUNT_ID } : {}),
  };
};

/** Environment credentials are fixed for the process: never refreshed, never treated as expired. */
export const credentialsWillNeedRefresh = () => false;
export const credentialsTreatedAsExpired = () => false;
