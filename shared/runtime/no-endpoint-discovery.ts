/**
 * Stands in for `@aws-sdk/middleware-endpoint-discovery` in the deployed bundles (esbuild alias,
 * BUNDLE_ALIASES in infra/constructs/broker-function.ts). Its one user is the DynamoDB client, which
 * resolves the endpoint-discovery settings and builds an endpoint cache at construction but adds the
 * discovery middleware to no operation, so nothing ever reads them; the real module brings the cache
 * (@aws-sdk/endpoint-cache with mnemonist's LRU cache), about 1.8 KB. The settings keep their shape
 * without the cache, and discovery reads as off, which is what the client does with it. An SDK that
 * imported more from the module (say the plugin) would fail the build, not run without it.
 */

/** The settings' loader options: no environment variable or profile entry turns discovery on. */
export const NODE_ENDPOINT_DISCOVERY_CONFIG_OPTIONS = {
  environmentVariableSelector: (): undefined => undefined,
  configFileSelector: (): undefined => undefined,
  default: undefined,
};

/** The client's endpoint-discovery settings, as the real resolver sets them, without the endpoint cache. */
export function resolveEndpointDiscoveryConfig<T extends { endpointDiscoveryEnabled?: boolean; endpointDiscoveryEnabledProvider?: () => Promise<boolean | undefined> }>(
  input: T,
  { endpointDiscoveryCommandCtor }: { endpointDiscoveryCommandCtor: unknown },
) {
  const { endpointDiscoveryEnabled, endpointDiscoveryEnabledProvider } = input;
  return Object.assign(input, {
    endpointDiscoveryCommandCtor,
    endpointDiscoveryEnabled: endpointDiscoveryEnabled !== undefined ? () => Promise.resolve(endpointDiscoveryEnabled) : endpointDiscoveryEnabledProvider,
    isClientEndpointDiscoveryEnabled: endpointDiscoveryEnabled !== undefined,
  });
}
