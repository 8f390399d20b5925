/**
 * The Secrets Manager adapter against moto: a value that is not JSON fails with a fixed message (JSON's
 * own error would quote the secret into the logs); a token secret's creation time; CUIs with leading
 * zeros are one company.
 */
import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { CUIS, setupTenant, type TestStack } from '../support/stack.js';
import { useTestStack } from '../support/use-stack.js';
import { connectNew, freshDeps } from '../support/refresh-helpers.js';

let stack: TestStack;

useTestStack((started) => (stack = started));

describe('secret values that are not JSON', () => {
  it('fail with a fixed message that quotes nothing of the value', async () => {
    await setupTenant(stack.api, 'nojson', [CUIS[0]]);
    const tokenId = await connectNew(stack.api, stack.emulator!, 'nojson', [CUIS[0]]);
    const value = 'eyJ-not-json-fake-refresh-token-value';
    await new SecretsManagerClient({}).send(
      new PutSecretValueCommand({ SecretId: `${process.env.SECRET_PREFIX}nojson/tokens/${tokenId}`, SecretString: value }),
    );
    const failure = await freshDeps().secrets.getTokenPair('nojson', tokenId).catch((error: Error) => error);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toBe('a stored secret value is not valid JSON');
    expect(JSON.stringify({ message: (failure as Error).message, cause: String((failure as Error).cause) })).not.toContain(value.slice(0, 6));
  });
});

describe("a token secret's creation time (a retried import's age check)", () => {
  it('is the time the secret was created, as the listing says; null once it is scheduled for deletion, and for no secret', async () => {
    await setupTenant(stack.api, 'created-at', [CUIS[0]]);
    const tokenId = await connectNew(stack.api, stack.emulator!, 'created-at', [CUIS[0]]);
    const secrets = freshDeps().secrets;
    const createdAt = await secrets.tokenSecretCreatedAt('created-at', tokenId);
    let listed: string | undefined;
    let cursor: string | undefined;
    do {
      const page = await secrets.listTokenSecrets(cursor);
      listed ??= page.secrets.find((secret) => secret.tenantId === 'created-at' && secret.tokenId === tokenId)?.createdAt;
      cursor = page.cursor;
    } while (cursor && !listed);
    expect(createdAt).toBe(listed);
    expect(Math.abs(Date.now() - Date.parse(createdAt!))).toBeLessThan(10 * 60_000);
    await secrets.deleteTokenPair('created-at', tokenId);
    expect(await secrets.tokenSecretCreatedAt('created-at', tokenId)).toBeNull();
    expect(await secrets.tokenSecretCreatedAt('created-at', 'tok_000000000000000000000000')).toBeNull();
  });
});

describe('CUIs with leading zeros', () => {
  it('are the same company as without them; all zeros is refused', async () => {
    await setupTenant(stack.api, 'zeros', []);
    expect((await stack.api.put(`/v1/tenants/zeros/companies/0${CUIS[0]}`, { name: 'A' })).body.cui).toBe(CUIS[0]);
    expect((await stack.api.put(`/v1/tenants/zeros/companies/${CUIS[0]}`, { name: 'B' })).body.cui).toBe(CUIS[0]);
    expect((await stack.api.get('/v1/tenants/zeros/companies')).body.companies).toHaveLength(1);
    const zeros = await stack.api.put('/v1/tenants/zeros/companies/00', { name: 'Z' });
    expect(zeros.status).toBe(400);
    expect(zeros.body.error.code).toBe('INVALID_CUI');
  });
});
