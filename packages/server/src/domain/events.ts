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
