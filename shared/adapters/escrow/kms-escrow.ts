import { DecryptCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ESCROW_CONTEXT_PURPOSE } from '../../config/env-names.js';
import type { TokenPair } from '../../domain/model.js';
import type { PairEscrow } from '../../ports.js';
import { sendConditional } from '../dynamodb/client.js';
import { key, tenantPk } from '../dynamodb/keys.js';

const escrowSk = (tokenId: string) => `ESCROW#${tokenId}`;

/**
 * The escrow of a rotated pair whose secret write failed: one table item per token holding the pair
 * encrypted with the secrets' KMS key, bound to its tenant and token by the encryption context (a
 * ciphertext copied to another token's item does not decrypt). The item holds no readable token.
 */
export function createKmsPairEscrow(deps: { doc: DynamoDBDocumentClient; kms: KMSClient; table: string; kmsKeyId: string | undefined }): PairEscrow {
  const { doc, kms, table, kmsKeyId } = deps;
  const context = (tenantId: string, tokenId: string) => ({ purpose: ESCROW_CONTEXT_PURPOSE, tenantId, tokenId });

  return {
    async put(tenantId, tokenId, pair, versionId) {
      if (!kmsKeyId) throw new Error('no KMS key configured for the pair escrow (SECRETS_KMS_KEY_ID)');
      const out = await kms.send(
        new EncryptCommand({ KeyId: kmsKeyId, Plaintext: Buffer.from(JSON.stringify(pair)), EncryptionContext: context(tenantId, tokenId) }),
      );
      await doc.send(
        new PutCommand({
          TableName: table,
          Item: {
            ...key(tenantPk(tenantId), escrowSk(tokenId)),
            ciphertext: Buffer.from(out.CiphertextBlob!).toString('base64'),
            versionId,
            version: pair.version,
          },
        }),
      );
    },

    async get(tenantId, tokenId) {
      const out = await doc.send(new GetCommand({ TableName: table, Key: key(tenantPk(tenantId), escrowSk(tokenId)), ConsistentRead: true }));
      if (!out.Item) return null;
      const plain = await kms.send(
        new DecryptCommand({ CiphertextBlob: Buffer.from(out.Item.ciphertext as string, 'base64'), EncryptionContext: context(tenantId, tokenId) }),
      );
      const pair = JSON.parse(Buffer.from(plain.Plaintext!).toString('utf8')) as TokenPair;
      return { ...pair, versionId: out.Item.versionId as string };
    },

    async delete(tenantId, tokenId, versionId) {
      await sendConditional(
        doc,
        new DeleteCommand({
          TableName: table,
          Key: key(tenantPk(tenantId), escrowSk(tokenId)),
          // A newer escrow (a later failed write) must survive the cleanup of an older one.
          ConditionExpression: 'versionId = :v',
          ExpressionAttributeValues: { ':v': versionId },
        }),
      );
    },
  };
}
