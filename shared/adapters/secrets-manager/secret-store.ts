import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { TokenPair } from '../../domain/model.js';
import type { SecretStore, TokenSecretInfo } from '../../ports.js';

/** Days AWS keeps a deleted token secret recoverable (a disconnect can be undone by support). */
const DELETE_RECOVERY_DAYS = 7;

const errorName = (error: unknown) => (error as { name?: string })?.name;

/**
 * JSON.parse's own error quotes part of its input ("Unexpected token … in 'eyJhb…'"), which the error
 * mappers would log: a secret value that is not JSON fails with a fixed message and no cause.
 */
function parseSecretJson<T>(value: string): T {
  try {
    return JSON.parse(value) as T;
  } catch {
    throw new Error('a stored secret value is not valid JSON');
  }
}

/** `<tenantId>/tokens/<tokenId>` after the prefix (tenant ids as the API accepts them). */
const TOKEN_NAME = /^([A-Za-z0-9_-]{1,64})\/tokens\/([A-Za-z0-9_]+)$/;
const LIST_PAGE_SIZE = 100;

/**
 * Secrets under one prefix: `<prefix><tenantId>/anaf-client` holds the tenant's client secret,
 * `<prefix><tenantId>/tokens/<tokenId>` one access/refresh pair. Values are JSON; nothing here logs them.
 */
export function createSecretsManagerStore(deps: { client: SecretsManagerClient; prefix: string; kmsKeyId?: string }): SecretStore {
  const { client, prefix, kmsKeyId } = deps;
  const clientName = (tenantId: string) => `${prefix}${tenantId}/anaf-client`;
  const tokenName = (tenantId: string, tokenId: string) => `${prefix}${tenantId}/tokens/${tokenId}`;

  /**
   * Puts a new current version, creating the secret on first use (and surviving a creation race).
   * `versionId` becomes the version's id (ClientRequestToken): a retried write with the same id and
   * value is a no-op in AWS, and a reader can ask for exactly this version.
   */
  async function upsert(name: string, value: string, description: string, versionId?: string): Promise<void> {
    const token = versionId ? { ClientRequestToken: versionId } : {};
    try {
      await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: value, ...token }));
      return;
    } catch (error) {
      if (errorName(error) !== 'ResourceNotFoundException') throw error;
    }
    try {
      await client.send(new CreateSecretCommand({ Name: name, SecretString: value, Description: description, KmsKeyId: kmsKeyId, ...token }));
    } catch (error) {
      if (errorName(error) !== 'ResourceExistsException') throw error;
      await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: value, ...token }));
    }
  }

  async function read(name: string, versionId?: string): Promise<{ value: string; versionId: string } | null> {
    try {
      const out = await client.send(
        new GetSecretValueCommand(versionId ? { SecretId: name, VersionId: versionId } : { SecretId: name, VersionStage: 'AWSCURRENT' }),
      );
      return out.SecretString !== undefined ? { value: out.SecretString, versionId: out.VersionId ?? '' } : null;
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
      return raw ? parseSecretJson<{ clientSecret: string }>(raw.value).clientSecret : null;
    },
    async putTokenPair(tenantId, tokenId, pair, versionId) {
      await upsert(tokenName(tenantId, tokenId), JSON.stringify(pair), 'ANAF e-Factura access/refresh token pair', versionId);
    },
    async getTokenPair(tenantId, tokenId, versionId) {
      const raw = await read(tokenName(tenantId, tokenId), versionId);
      return raw ? { ...parseSecretJson<TokenPair>(raw.value), versionId: raw.versionId } : null;
    },
    async tokenSecretCreatedAt(tenantId, tokenId) {
      try {
        const out = await client.send(new DescribeSecretCommand({ SecretId: tokenName(tenantId, tokenId) }));
        return out.DeletedDate || !out.CreatedDate ? null : out.CreatedDate.toISOString();
      } catch (error) {
        if (errorName(error) === 'ResourceNotFoundException') return null;
        throw error;
      }
    },
    async deleteTokenPair(tenantId, tokenId) {
      const name = tokenName(tenantId, tokenId);
      try {
        await client.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: DELETE_RECOVERY_DAYS }));
      } catch (error) {
        if (errorName(error) === 'ResourceNotFoundException') return;
        // A secret already scheduled for deletion refuses a second DeleteSecret with this (generic) error;
        // any other invalid request is still an error.
        if (errorName(error) === 'InvalidRequestException' && (await scheduledForDeletion(name))) return;
        throw error;
      }
    },
    async listTokenSecrets(cursor) {
      const out = await client.send(
        new ListSecretsCommand({
          // A name filter matches names that start with the value; the exact prefix is checked below.
          Filters: [{ Key: 'name', Values: [prefix] }],
          IncludePlannedDeletion: true,
          MaxResults: LIST_PAGE_SIZE,
          NextToken: cursor,
        }),
      );
      const secrets: TokenSecretInfo[] = [];
      for (const entry of out.SecretList ?? []) {
        const ids = entry.Name?.startsWith(prefix) ? TOKEN_NAME.exec(entry.Name.slice(prefix.length)) : null;
        if (!ids || !entry.CreatedDate) continue;
        secrets.push({ tenantId: ids[1]!, tokenId: ids[2]!, createdAt: entry.CreatedDate.toISOString(), deleted: Boolean(entry.DeletedDate) });
      }
      return { secrets, ...(out.NextToken ? { cursor: out.NextToken } : {}) };
    },
  };

  async function scheduledForDeletion(name: string): Promise<boolean> {
    const out = await client.send(new DescribeSecretCommand({ SecretId: name }));
    return Boolean(out.DeletedDate);
  }
}
