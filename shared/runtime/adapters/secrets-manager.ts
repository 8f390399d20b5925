import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createSecretsManagerStore } from '../../adapters/secrets-manager/secret-store.js';
import { awsClientSettings } from '../../config/aws-calls.js';
import type { AdapterKit } from '../runtime.js';

/** The tenants' ANAF client secrets and the token pairs (Secrets Manager). */
export const secretStore: AdapterKit = {
  name: 'secrets-manager',
  build: ({ config, client }) => ({
    secrets: createSecretsManagerStore({
      client: client('secretsManager', () => new SecretsManagerClient(awsClientSettings())),
      prefix: config.secretPrefix,
      kmsKeyId: config.secretsKmsKeyId,
    }),
  }),
};
