/** `@fonana-realtime/client`: the browser and Node SDK of the fonana-realtime gateway. */
export {
  createClient,
  RealtimeClient,
  type ClientEvents,
  type ClientOptions,
  type ConnectionState,
  type Disconnect,
  type TokenReason,
  type WebSocketConstructor,
  type WebSocketLike,
} from './client.ts';
export { Subscription, type Cursor, type RecoveryLost, type SubscriptionEvents, type SubscriptionState } from './subscription.ts';
export { PostWatch, CreatorWatch, type PostLock, type PostView, type WatchStatus } from './watch.ts';
export { Backoff, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.ts';
export type { EventMap, Events, TypedEvent } from './events.ts';
export { EventTypes, shouldReconnect, type EventFrame, type ServerEvents, type NotificationRow } from '@fonana-realtime/protocol';
