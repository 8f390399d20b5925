import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const LOCAL = fileURLToPath(new URL('../../local/', import.meta.url));

/**
 * `_paged_secret_lists` (local/moto_server.py) pages ListSecrets before it describes the secrets. It must
 * answer every page as stock moto does: this lists the same account with stock moto and with the
 * replacement, in one Python process, page by page, with and without the name filter the reconciliation
 * uses and with and without the secrets scheduled for deletion.
 */
const CHECK = String.raw`
import json, sys
sys.path.insert(0, sys.argv[1])
from moto.secretsmanager.models import SecretsManagerBackend, secretsmanager_backends
stock = SecretsManagerBackend.list_secrets
import moto_server
backend = secretsmanager_backends["123456789012"]["eu-central-1"]
for i in range(250):
    prefix = "broker/tokens/" if i % 5 else "other/"
    backend.create_secret(name=f"{prefix}t-{i % 7}/tok-{i:04d}", secret_string=json.dumps({"v": i}), secret_binary=None,
        description="pair" if i % 3 == 0 else None, tags=[{"Key": "tenant", "Value": f"t-{i % 7}"}] if i % 2 else None,
        kms_key_id=None, client_request_token=None, replica_regions=[], force_overwrite=False)
for i in range(0, 250, 11):
    name = f"{'broker/tokens/' if i % 5 else 'other/'}t-{i % 7}/tok-{i:04d}"
    backend.delete_secret(secret_id=name, recovery_window_in_days=7, force_delete_without_recovery=False)

def pages(max_results, filters, planned):
    out, token = [], None
    while True:
        page, token = backend.list_secrets(filters=filters, max_results=max_results, next_token=token, include_planned_deletion=planned)
        out.append(json.loads(json.dumps(page, default=str)))
        if token is None:
            return out

cases = [(mr, f, p) for mr in (100, 7, None) for f in ([], [{"Key": "name", "Values": ["broker/tokens/"]}]) for p in (True, False)]
before = [pages(*c) for c in cases]
moto_server._paged_secret_lists()
after = [pages(*c) for c in cases]
SecretsManagerBackend.list_secrets = stock
print(json.dumps({"before": before, "after": after}))
`;

describe('moto secret lists (_paged_secret_lists)', () => {
  it('answers every page as stock moto does', () => {
    const { before, after } = JSON.parse(execFileSync('python3', ['-c', CHECK, LOCAL], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })) as {
      before: unknown[][][];
      after: unknown[][][];
    };
    expect(before).toHaveLength(12);
    expect(after).toEqual(before);
    // Non-trivial: 250 secrets over several pages, the filter and the deleted ones change what is listed.
    const counts = before.map((pages) => pages.flat().length);
    expect(Math.max(...counts)).toBe(250);
    expect(new Set(counts).size).toBeGreaterThan(2);
    expect(before[4]!.length).toBe(36); // 7 a page: 250 secrets in 36 pages
  });
});
