/** `oauth-callback` → `OauthCallback`, for construct ids derived from function names. */
export const pascal = (name: string): string =>
  name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
