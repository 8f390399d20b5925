/**
 * Stands in for `@smithy/core/event-streams` in the deployed bundles (esbuild alias, BUNDLE_ALIASES in
 * infra/constructs/broker-function.ts). The SDK's protocol code imports it lazily, only for an operation
 * that streams events; none of the broker's clients (DynamoDB, Secrets Manager, KMS, EventBridge) has
 * one, yet esbuild bundles every dynamic import: about 17 KB (codec, marshallers, a JS SHA-256). An
 * operation that did stream would fail here at once, naming the cause, instead of misbehaving.
 */

const refuse = (): never => {
  throw new Error('event streams are not bundled (shared/runtime/no-event-streams.ts): remove the alias to use an event-stream operation');
};

/** The names HttpProtocol.loadEventStreamCapability takes from the module. */
export class EventStreamSerde {
  constructor() {
    refuse();
  }
}
export const eventStreamSerdeProvider = refuse;
