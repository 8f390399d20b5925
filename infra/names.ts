/** `oauth-callback` → `OauthCallback`, for construct ids derived from function names. */
export const pascal = (name: string): string =>
  name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');

/**
 * IAM path of every function role of a stage. The secrets key's policy (data stack) names the roles by
 * this path, as the roles live in the service stack, which depends on the data stack.
 */
export const functionRolePath = (stage: string): string => `/anaf-broker/${stage}/`;

/**
 * The invoice bucket's name (globally unique by account and region). Named, not generated: the service
 * stack builds the grant's ARN from it without a cross-stack reference, so the cdk-nag finding id of the
 * object wildcard is one this code can name.
 */
export const invoiceBucketName = (stage: string, account: string, region: string): string => `anaf-broker-${stage}-invoices-${account}-${region}`;
