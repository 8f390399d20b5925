/**
 * The stack files share one moto per vitest worker (test/support/moto-per-worker.ts): each file's stack
 * must still start on an empty moto, as it did with a moto of its own.
 */
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { CUIS, connect, setupTenant, startTestStack } from '../support/stack.js';

async function contents(): Promise<{ items: number; secrets: string[] }> {
  const dynamo = new DynamoDBClient({});
  const sm = new SecretsManagerClient({});
  try {
    const scan = await dynamo.send(new ScanCommand({ TableName: process.env.TABLE_NAME!, ConsistentRead: true }));
    const list = await sm.send(new ListSecretsCommand({ IncludePlannedDeletion: true }));
    return { items: scan.Count ?? 0, secrets: (list.SecretList ?? []).map((s) => s.Name!) };
  } finally {
    dynamo.destroy();
    sm.destroy();
  }
}

describe("the worker's moto", () => {
  it('is empty for the next stack: what one stack stored is gone', async () => {
    // The next file's process starts with the environment this one started with, not the stack's own.
    const env = { ...process.env };
    const first = await startTestStack();
    try {
      await setupTenant(first.api, 'before', [CUIS[0]]);
      await connect(first.api, 'before', [CUIS[0]]);
      const stored = await contents();
      expect(stored.items).toBeGreaterThan(0);
      expect(stored.secrets.length).toBeGreaterThan(0);
    } finally {
      await first.stop();
    }
    for (const name of Object.keys(process.env)) if (!(name in env)) delete process.env[name];
    Object.assign(process.env, env);
    const second = await startTestStack();
    try {
      expect(second.moto.endpoint).toBe(first.moto.endpoint);
      // the table is there again (bootstrapped anew), empty, and no secret is left
      expect(await contents()).toEqual({ items: 0, secrets: [] });
    } finally {
      await second.stop();
    }
  });
});
