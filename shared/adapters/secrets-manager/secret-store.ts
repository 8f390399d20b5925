import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { TokenPair } from '../../domain/model.js';
import type { SecretStore } from '../../ports.js';

/** Days AWS keeps a deleted token secret recoverable (a disconnect can be undone by support). */
const DELETE_RECOVERY_DAYS = 7;

const errorName = (error: unknown) => (error as { name?: string })?.name;

/**
 * Secrets under one prefix: `<prefix><tenantId>/anaf-client` holds the tenant's client secret,
 * `<prefix><tenantId>/tokens/<tokenId>` one access/refresh pair. Values are JSON; nothing here logs them.
 */
export function createSecretsManagerStore(deps: { client: SecretsManagerClient; prefix: string; kmsKeyId?: string }): SecretStore {
  const { client, prefix, kmsKeyId } = deps;
  const clientName = (tenantId: string) => `${prefix}${tenantId}/anaf-client`;
  const tokenName = (tenantId: string, tokenId: string) => `${prefix}${tenantId}/tokens/${tokenId}`;

  /** Puts a new current version, creating the secret on first use (and surviving a creation race). */
  async function upsert(name: string, value: string, description: string): Promise<void> {
    try {
      await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: value }));
      return;
    } catch (error) {
      if (errorName(error) !== 'ResourceNotFoundException') throw error;
    }
    try {
      await client.send(new CreateSecretCommand({ Name: name, SecretString: value, Description: description, KmsKeyId: kmsKeyId }));
    } catch (error) {
      if (errorName(error) !== 'ResourceExistsException') throw error;
      await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: value }));
    }
  }

  async function read(name: string): Promise<string | null> {
    try {
      const out = await client.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSCURRENT' }));
      return out.SecretString ?? null;
    } catch (error) {
      if (errorName(error) === 'ResourceNotFoundException') return null;
      // A secret scheduled for deletion (a disconnected token) reads as gone.
      if (errorName(error) === 'InvalidRequestException') return null;
      throw error;
    }
  }

  return {
    async putClientSecret(tenantId, clientSecret) {
      await upsert(clientName(tenantId), JSON.stringify({ clientSecret }), 'ANAF OAuth client secret of one tenant');
    },
    async getClientSecret(tenantId) {
      const raw = await read(clientName(tenantId));
      return raw ? (JSON.parse(raw) as { clientSecret: string }).clientSecret : null;
    },
    async putTokenPair(tenantId, tokenId, pair) {
      await upsert(tokenName(tenantId, tokenId), JSON.stringify(pair), 'ANAF e-Factura access/refresh token pair');
    },
    async getTokenPair(tenantId, tokenId) {
      const raw = await read(tokenName(tenantId, tokenId));
      return raw ? (JSON.parse(raw) as TokenPair) : null;
    },
    async deleteTokenPair(tenantId, tokenId) {
      try {
        await client.send(new DeleteSecretCommand({ SecretId: tokenName(tenantId, tokenId), RecoveryWindowInDays: DELETE_RECOVERY_DAYS }));
      } catch (error) {
        if (errorName(error) !== 'ResourceNotFoundException') throw error;
      }
    },
  };
}
