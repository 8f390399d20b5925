import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { EventPublisher } from '../../ports.js';

export const EVENT_SOURCE = 'anaf-broker';

/** Lifecycle events on the bus: Source "anaf-broker", DetailType = event name, detail without secrets. */
export function createEventBridgePublisher(deps: { client: EventBridgeClient; busName: string }): EventPublisher {
  return {
    async publish(event) {
      const detail: Record<string, unknown> = { tenantId: event.tenantId, tokenId: event.tokenId, cuis: event.cuis, at: event.at };
      if (event.connectUrl) detail.connectUrl = event.connectUrl;
      if (event.details) Object.assign(detail, { details: event.details });
      const out = await deps.client.send(
        new PutEventsCommand({
          Entries: [{ Source: EVENT_SOURCE, DetailType: event.type, Detail: JSON.stringify(detail), EventBusName: deps.busName, Time: new Date(event.at) }],
        }),
      );
      if ((out.FailedEntryCount ?? 0) > 0) {
        throw new Error(`EventBridge refused the ${event.type} event: ${out.Entries?.[0]?.ErrorCode ?? 'unknown'}`);
      }
    },
  };
}
