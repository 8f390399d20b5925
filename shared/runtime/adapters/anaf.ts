import { createAnafOAuthClient } from '../../adapters/anaf/oauth-client.js';
import type { AdapterKit } from '../runtime.js';

/** ANAF's OAuth endpoints over HTTP (code exchange, refresh): no SDK client. */
export const anafOAuth: AdapterKit = {
  name: 'anaf-oauth',
  build: ({ config }) => ({ anaf: createAnafOAuthClient({ oauthBaseUrl: config.anafOauthBaseUrl, timeoutMs: config.anafTimeoutMs }) }),
};
