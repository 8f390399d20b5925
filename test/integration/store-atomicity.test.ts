/**
 * The local store must be as atomic as DynamoDB: moto's own `moto_server` is threaded and let two
 * conditional UpdateItems on one item both win. The stack serves moto single-threaded
 * (local/moto_server.py); this proves, through the real token-store adapter, that the refresh lease
 * has exactly one winner however many runs race for it.
 */
import { describe, expect, it } from 'vitest';
import { CUIS, type TestStack } from '../support/stack.js';
import { useTestStack } from '../support/use-stack.js';
import { connectDueToken, freshDeps } from '../support/refresh-helpers.js';

let stack: TestStack;

useTestStack((started) => (stack = started));

describe('conditional writes on the local store', () => {
  it('50 rounds of 20 parallel lease acquisitions on one token: exactly one winner each', async () => {
    const { t, tokenId } = await connectDueToken(stack, 'atomic', [CUIS[0]]);
    // Twenty separate runtimes: twenty SDK clients with their own connections, as twenty Lambdas.
    const runs = Array.from({ length: 20 }, () => freshDeps());
    const winnersPerRound: number[] = [];
    for (let round = 0; round < 50; round++) {
      const now = new Date();
      const results = await Promise.all(runs.map((deps, i) => deps.tokens.acquireLease(t, tokenId, `r${round}-o${i}`, now, 60)));
      const winners = results.filter((r) => r !== null);
      winnersPerRound.push(winners.length);
      const holder = await runs[0]!.tokens.get(t, tokenId);
      expect(holder!.leaseOwner).toBe(winners[0]?.leaseOwner);
      await runs[0]!.tokens.releaseLease(t, tokenId, holder!.leaseOwner!);
    }
    expect(winnersPerRound).toEqual(Array(50).fill(1));
  }, 120_000);
});
