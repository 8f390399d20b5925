import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUNDLE_ALIASES } from '../../../infra/constructs/broker-function.js';
import * as noEventStreams from '../../../shared/runtime/no-event-streams.js';
import * as noEndpointDiscovery from '../../../shared/runtime/no-endpoint-discovery.js';
import * as native from '../../../shared/runtime/native-checksum.js';

/*
 * esbuild fails the build when a static import names something an alias target lacks; a dynamic
 * `await import(...)` it does not check. These tests hold the stand-ins to what the installed SDK takes
 * from them, so that an SDK upgrade that needs more fails here instead of in a cold start.
 */

const require = createRequire(import.meta.url);

async function jsFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.js')).map((e) => join(e.parentPath, e.name));
}

describe('the bundles’ module stand-ins', () => {
  it('no-event-streams exports every name the SDK takes from @smithy/core/event-streams', async () => {
    expect(BUNDLE_ALIASES['@smithy/core/event-streams']).toMatch(/no-event-streams\.ts$/);
    const root = join(dirname(require.resolve('@smithy/core/package.json')), 'dist-es');
    const taken = new Set<string>();
    for (const file of await jsFiles(root)) {
      const text = await readFile(file, 'utf8');
      for (const m of text.matchAll(/\{([^{}]*)\}\s*=\s*await import\("@smithy\/core\/event-streams"\)/g)) {
        for (const name of m[1]!.split(',')) if (name.trim()) taken.add(name.trim().split(':')[0]!.trim());
      }
      // A static import is checked by esbuild itself; a namespace import would hide its names from both.
      expect(text, file).not.toMatch(/import\s*\*\s*as\s+\w+\s+from\s*"@smithy\/core\/event-streams"/);
    }
    expect(taken.size).toBeGreaterThan(0);
    for (const name of taken) expect(Object.keys(noEventStreams), name).toContain(name);
    expect(() => new noEventStreams.EventStreamSerde()).toThrow(/event streams are not bundled/);
  });

  it('no-endpoint-discovery has what the DynamoDB client takes from the real module, which no operation uses', async () => {
    expect(BUNDLE_ALIASES['@aws-sdk/middleware-endpoint-discovery']).toMatch(/no-endpoint-discovery\.ts$/);
    const root = join(dirname(require.resolve('@aws-sdk/client-dynamodb/package.json')), 'dist-es');
    const taken: Record<string, string[]> = {};
    for (const file of await jsFiles(root)) {
      const text = await readFile(file, 'utf8');
      for (const m of text.matchAll(/import\s*\{([^{}]*)\}\s*from\s*"@aws-sdk\/middleware-endpoint-discovery"/g)) {
        const names = m[1]!.split(',').map((name) => name.trim()).filter(Boolean);
        (taken[file.slice(root.length)] ??= []).push(...names);
      }
      expect(text, file).not.toMatch(/import\s*\*\s*as\s+\w+\s+from\s*"@aws-sdk\/middleware-endpoint-discovery"/);
    }
    // The client's settings and the node runtime's loader options; no command adds the discovery plugin.
    expect(taken).toEqual({
      '/DynamoDBClient.js': ['resolveEndpointDiscoveryConfig'],
      '/runtimeConfig.js': ['NODE_ENDPOINT_DISCOVERY_CONFIG_OPTIONS'],
    });
    // The real resolver, typed loosely: its input type wants the whole client configuration.
    const resolveReal = (await import('@aws-sdk/middleware-endpoint-discovery')).resolveEndpointDiscoveryConfig as unknown as (input: object, options: object) => Record<string, unknown>;
    const ctor = class {};
    const provider = async () => undefined;
    for (const input of [{ endpointDiscoveryEnabledProvider: provider }, { endpointDiscoveryEnabled: false, endpointDiscoveryEnabledProvider: provider }]) {
      const ours = noEndpointDiscovery.resolveEndpointDiscoveryConfig({ ...input }, { endpointDiscoveryCommandCtor: ctor });
      const { endpointCache, ...theirs } = resolveReal({ ...input }, { endpointDiscoveryCommandCtor: ctor });
      expect(endpointCache).toBeDefined();
      expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
      expect([ours.endpointDiscoveryCommandCtor, ours.isClientEndpointDiscoveryEnabled, await ours.endpointDiscoveryEnabled?.()]).toEqual([
        theirs.endpointDiscoveryCommandCtor,
        theirs.isClientEndpointDiscoveryEnabled,
        await (theirs.endpointDiscoveryEnabled as () => Promise<unknown>)(),
      ]);
    }
  });
});

describe('the native checksums stand-in', () => {
  const inputs = ['', 'abc', 'ünïcode ✓', new Uint8Array([0, 1, 2, 255]), new Uint8Array(70_000).fill(7)];

  it('computes what the SDK’s own SHA-256, HMAC-SHA-256 and CRC-32 compute, in one piece or in parts', async () => {
    const sdk = await import('@smithy/core/checksum');
    for (const input of inputs) {
      for (const secret of [undefined, 'key', new Uint8Array([9, 8, 7])]) {
        const [ours, theirs] = [new native.Sha256(secret), new sdk.Sha256(secret)];
        ours.update(input);
        theirs.update(input as Uint8Array);
        ours.update('tail');
        theirs.update(Buffer.from('tail'));
        expect(await ours.digest(), `sha256 ${String(secret)}`).toEqual(await theirs.digest());
      }
      const [ours, theirs] = [new native.Crc32(), new sdk.Crc32()];
      ours.update(input);
      theirs.update(input as Uint8Array);
      expect(ours.digestSync()).toBe(theirs.digestSync());
      expect(await ours.digest()).toEqual(await theirs.digest());
    }
  });

  it('a plain hash goes on after a digest, an HMAC does not, and reset starts again', async () => {
    const hash = new native.Sha256();
    hash.update('a');
    await hash.digest();
    hash.update('b');
    const ab = new native.Sha256();
    ab.update('ab');
    expect(await hash.digest()).toEqual(await ab.digest());
    const hmac = new native.Sha256('k');
    await hmac.digest();
    expect(() => hmac.update('x')).toThrow(/finished/);
    hmac.reset();
    hmac.update('x');
    const fresh = new native.Sha256('k');
    fresh.update('x');
    expect(await hmac.digest()).toEqual(await fresh.digest());
  });
});
