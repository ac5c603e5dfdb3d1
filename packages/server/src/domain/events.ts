/**
 * Builders of the events the gateway produces: the channel each goes to and its payload (docs/protocol.md).
 * Pure: callers write the results to the outbox in the transaction of the change.
 */
import {
  channelKey,
  EventTypes,
  userChannel,
  type NewSubscriptionData,
  type NotificationRow,
  type PostPurchasedData,
  type SubscriptionUpdatedData,
} from '@fonana-realtime/protocol';

export interface DomainEvent<D = unknown> {
  readonly channel: string;
  readonly type: string;
  readonly data: D;
}

const toUser = (userId: string) => channelKey(userChannel(userId));

/** To every socket of the buyer. */
export function postPurchased(buyerId: string, data: PostPurchasedData): DomainEvent<PostPurchasedData> {
  return { channel: toUser(buyerId), type: EventTypes.POST_PURCHASED, data };
}

/** To every socket of the subscriber. */
export function subscriptionUpdated(subscriberId: string, data: SubscriptionUpdatedData): DomainEvent<SubscriptionUpdatedData> {
  return { channel: toUser(subscriberId), type: EventTypes.SUBSCRIPTION_UPDATED, data };
}

/** To the creator only: never on the public creator channel. */
export function newSubscription(data: NewSubscriptionData): DomainEvent<NewSubscriptionData> {
  return { channel: toUser(data.creatorId), type: EventTypes.NEW_SUBSCRIPTION, data };
}

/** The stored notification row, to its recipient. */
export function notificationCreated(row: NotificationRow): DomainEvent<{ notification: NotificationRow }> {
  return { channel: toUser(row.userId), type: EventTypes.NOTIFICATION, data: { notification: row } };
}

/**
 * Internal events: their type starts with `_`. They travel through the outbox and the broker like any event (so they
 * reach every node durably, in order with the user's other events) but the hub acts on them and never sends them to
 * a socket. The publish API cannot produce them (its `type` must start with a letter).
 */
export const INTERNAL_EVENT_PREFIX = '_';
/** Close every socket of the user whose token was issued before `data.notBefore` (ms since the epoch) with 4002. */
export const DISCONNECT_EVENT = '_disconnect';

export interface DisconnectData {
  readonly notBefore: number;
}

export function userDisconnected(userId: string, data: DisconnectData): DomainEvent<DisconnectData> {
  return { channel: toUser(userId), type: DISCONNECT_EVENT, data };
}
