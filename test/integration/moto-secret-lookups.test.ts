import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const LOCAL = fileURLToPath(new URL('../../local/', import.meta.url));

/**
 * `_named_secret_lookups` (local/moto_server.py) finds a secret asked for by name without walking the
 * account. Every lookup must answer as stock moto's walk does: this asks one store the same keys (names,
 * full and partial ARNs, missing ones, a deleted secret) through each lookup (`[]`, `in`, `get`, `pop`)
 * with stock moto and with the replacement, in one Python process; then again on a store holding an
 * entry filed under its ARN (as moto files a replica), where the replacement must walk as moto does.
 */
const CHECK = String.raw`
import json, sys
sys.path.insert(0, sys.argv[1])
from moto.secretsmanager.models import SecretsManagerBackend, SecretsStore
from moto.secretsmanager.utils import get_secret_name_from_partial_arn
import moto_server

stock = {name: getattr(SecretsStore, name) for name in ("__setitem__", "__getitem__", "__contains__", "get", "pop")}

def world(region):
    backend = SecretsManagerBackend(region, "123456789012")
    for i in range(40):
        backend.create_secret(name=f"broker/tokens/t-{i % 3}/tok-{i:03d}", secret_string=json.dumps({"v": i}), secret_binary=None,
            description=None, tags=None, kms_key_id=None, client_request_token=None, replica_regions=[], force_overwrite=False)
    backend.delete_secret(secret_id="broker/tokens/t-0/tok-003", recovery_window_in_days=7, force_delete_without_recovery=False)
    return backend

def keys(backend, extra):
    secrets = list(dict.values(backend.secrets))
    out = list(extra)
    for s in secrets[::7]:
        out += [s.name, s.arn, s.arn[: -7]]
    return out + ["broker/tokens/t-9/none", "broker/tokens/", "arn:aws:secretsmanager:eu-central-1:123456789012:secret:broker/tokens/t-9/none-abcdef", ""]

def answers(backend, extra=()):
    store = backend.secrets
    out = []
    for key in keys(backend, extra):
        try:
            got = store[key].name
        except KeyError:
            got = "KeyError"
        out.append([key, got, key in store, (store.get(key) or None) and store.get(key).name])
    # The backend's own calls through the store: a value by name, a version list, a forced delete and a re-create.
    out.append(json.loads(backend.get_secret_value("broker/tokens/t-1/tok-004", None, "AWSCURRENT")["SecretString"]))
    out.append(sorted(backend.describe_secret("broker/tokens/t-2/tok-005").to_dict()["VersionIdsToStages"].values(), key=str))
    backend.delete_secret(secret_id="broker/tokens/t-1/tok-010", recovery_window_in_days=None, force_delete_without_recovery=True)
    out.append(["after delete", "broker/tokens/t-1/tok-010" in store, len(store)])
    popped = store.pop("broker/tokens/t-2/tok-011")
    out.append(["popped", popped.name if popped else None, store.pop("broker/tokens/t-2/tok-011"), len(store)])
    return out

def run(region, filed_otherwise):
    backend = world(region)
    if filed_otherwise:
        replica = dict.__getitem__(backend.secrets, "broker/tokens/t-2/tok-020")
        dict.__delitem__(backend.secrets, replica.name)
        backend.secrets[replica.arn] = replica
        return answers(backend, [replica.name, replica.arn])
    return answers(backend)

before = [run("eu-central-1", False), run("eu-west-1", True)]
moto_server._named_secret_lookups()
after = [run("eu-central-1", False), run("eu-west-1", True)]
walked = getattr(world("eu-north-1").secrets, "_filed_otherwise", False)
for name, fn in stock.items():
    setattr(SecretsStore, name, fn)
print(json.dumps({"before": before, "after": after, "walked": walked}, default=str))
`;

describe('moto secret lookups (_named_secret_lookups)', () => {
  it('answers every lookup as stock moto does, and walks as moto does when an entry is filed under another key', () => {
    const { before, after, walked } = JSON.parse(execFileSync('python3', ['-c', CHECK, LOCAL], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })) as {
      before: unknown[][][];
      after: unknown[][][];
      walked: boolean;
    };
    // Secret ARNs carry a random suffix per world, so each world is compared by its own keys' answers.
    const shape = (run: unknown[][]) => run.map((row) => (Array.isArray(row) && typeof row[0] === 'string' && row[0].startsWith('arn:') ? row.slice(1) : row));
    expect(after.map(shape)).toEqual(before.map(shape));
    // Non-trivial: names, ARNs and partial ARNs are found; missing keys are not; the ARN-filed entry is found by its name through the walk.
    const [plain, otherwise] = before;
    expect(plain!.filter((row) => Array.isArray(row) && row[2] === true).length).toBeGreaterThan(10);
    expect(plain!.some((row) => Array.isArray(row) && row[1] === 'KeyError')).toBe(true);
    expect(otherwise![0]).toEqual(['broker/tokens/t-2/tok-020', 'broker/tokens/t-2/tok-020', true, 'broker/tokens/t-2/tok-020']);
    expect(walked).toBe(false);
  });
});
