import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { createEventBridgePublisher } from '../../adapters/eventbridge/event-publisher.js';
import { awsClientSettings } from '../../config/aws-calls.js';
import type { AdapterKit } from '../runtime.js';

/** Lifecycle events on the bus (EventBridge). */
export const eventBus: AdapterKit = {
  name: 'eventbridge',
  build: ({ config, client }) => ({
    events: createEventBridgePublisher({ client: client('eventBridge', () => new EventBridgeClient(awsClientSettings())), busName: config.eventBusName }),
  }),
};
