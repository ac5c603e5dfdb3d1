import type { ChannelObject } from './channels.ts';
import type { ChannelEcho } from './codec.ts';
import type { Code } from './codes.ts';

/** Version of the wire protocol described in docs/protocol.md. */
export const PROTOCOL_VERSION = 1;

// ---------------------------------------------------------------------------------------------
// Client → server

/**
 * A position in a channel's history: the offset of the last event the client has and the channel's epoch it was
 * read under (from `subscribed`, `connected` or its last event's channel). See docs/protocol.md, "Recovery".
 */
export interface StreamPosition { offset: number; epoch: string }

/** `since` (first frame only) recovers the user's own channel as a `subscribe` with `since` would. */
export interface AuthFrame { type: 'auth'; token: string; since?: StreamPosition }
/** `since` asks for the events after that position to be replayed before live events (never a partial replay). */
export interface SubscribeFrame { type: 'subscribe'; channel: ChannelObject | UserChannelObject | string; since?: StreamPosition }
export interface UnsubscribeFrame { type: 'unsubscribe'; channel: ChannelObject | string }
export interface PingFrame { type: 'ping' }

export type ClientFrame = AuthFrame | SubscribeFrame | UnsubscribeFrame | PingFrame;
export type ClientFrameType = ClientFrame['type'];

// ---------------------------------------------------------------------------------------------
// Server → client: control frames

/**
 * `channel` is the user's own channel key (`user_<id>`), `offset`/`epoch` its position; `recovered` is present
 * when the `auth` frame carried `since` (with `true`, the missed events follow right after this frame).
 */
export interface ConnectedFrame {
  type: 'connected';
  data: {
    userId: string;
    connectionId: string;
    serverTime: number;
    channel: string;
    offset: number;
    epoch: string;
    recovered?: boolean;
  };
}
export interface AuthenticatedFrame { type: 'authenticated'; data: { userId: string; expiresAt: number } }
/**
 * Sent once per token, TOKEN_REFRESH_WINDOW_MS before its expiry (`expiresAt`, ms since the epoch): answer with a
 * fresh `auth` frame to keep the socket and its subscriptions; otherwise it closes with 4001 after the grace period.
 */
export interface TokenExpiringFrame { type: 'token-expiring'; data: { expiresAt: number } }
/** The object form of the user's own channel in `subscribe` (own only). */
export interface UserChannelObject { type: 'user'; userId: string }

/**
 * `channel` echoes the channel as the client sent it (object or string form). `offset` is the position live events
 * continue from (the channel's latest offset when the subscription started, or the client's `since` when that was
 * ahead), `epoch` the channel's epoch. `recovered` is present when the subscribe carried `since`: with `true` the
 * missed events follow right after this frame, in order, then live events.
 */
export interface SubscribedFrame {
  type: 'subscribed';
  data: {
    channel: ChannelObject | UserChannelObject | string;
    channelKey: string;
    offset: number;
    epoch: string;
    recovered?: boolean;
  };
}
export interface UnsubscribedFrame {
  type: 'unsubscribed';
  data: { channel: ChannelObject | UserChannelObject | string; channelKey: string; reason?: UnsubscribeReason };
}
export interface PongFrame { type: 'pong'; data: { serverTime: number } }
/** `channel` names the channel a refused subscribe/unsubscribe was about (a bounded echo when it was malformed). */
export interface ErrorFrame { type: 'error'; data: { code: Code; message: string; channel?: ChannelObject | UserChannelObject | ChannelEcho } }
export interface UnreadNotificationsFrame {
  type: 'unread_notifications';
  data: { notifications: NotificationRow[]; count: number };
}

/**
 * Why a subscription ended without the client asking: `access_revoked` (the policy no longer allows it) or `resync`
 * (the node missed events it could not fill from history; resubscribe with `since`).
 */
export const UnsubscribeReasons = { ACCESS_REVOKED: 'access_revoked', RESYNC: 'resync' } as const;
export type UnsubscribeReason = (typeof UnsubscribeReasons)[keyof typeof UnsubscribeReasons];

export type ControlFrame =
  | ConnectedFrame
  | AuthenticatedFrame
  | TokenExpiringFrame
  | SubscribedFrame
  | UnsubscribedFrame
  | PongFrame
  | ErrorFrame
  | UnreadNotificationsFrame;

// ---------------------------------------------------------------------------------------------
// Server → client: events

/** Wire names of the events the gateway itself produces. Other names may be published through the API. */
export const EventTypes = {
  POST_PURCHASED: 'post-purchased',
  SUBSCRIPTION_UPDATED: 'subscription-updated',
  NOTIFICATION: 'notification',
  NEW_SUBSCRIPTION: 'new_subscription',
  /** Published by the platform to `user_<id>` when a user is deleted: every node forgets the user at once. */
  USER_DELETED: 'user-deleted',
} as const;

/**
 * Every event: `id` is unique (clients dedupe by it), `channel` the wire key it was published on
 * (`user_<id>` for user-addressed events), `offset` its position in that channel (1, 2, …), `ts` the
 * commit time in milliseconds since the epoch.
 */
export interface EventFrame<T extends string = string, D = unknown> {
  type: T;
  id: string;
  channel: string;
  offset: number;
  ts: number;
  data: D;
}

/** A notification row as stored in the platform's `notifications` table. */
export interface NotificationRow {
  id: string;
  userId: string;
  type: string;
  title: string;
  message: string;
  isRead: boolean;
  metadata: unknown;
  createdAt: string;
}

/** The post content a buyer receives with `post-purchased`, so the client can unlock it in place. */
export interface UnlockedPost {
  id: string;
  creatorId: string;
  title: string;
  content: string;
  type: string;
  mediaUrl: string | null;
  thumbnail: string | null;
}

export interface PostPurchasedData {
  postId: string;
  purchaseId: string;
  price: number;
  currency: string;
  post: UnlockedPost;
}

export type SubscriptionStatus = 'active' | 'cancelled' | 'expired';

export interface SubscriptionUpdatedData {
  creatorId: string;
  /** Normalised plan: free | basic | premium | vip. */
  plan: string;
  previousPlan: string | null;
  status: SubscriptionStatus;
  /** ISO 8601. */
  validUntil: string;
  /** Ids of the creator's posts the subscriber can see now (newest first, at most 500). */
  unlockedPostIds: string[];
  /** Ids of the creator's posts the subscriber cannot see now (newest first, at most 500). */
  lockedPostIds: string[];
}

export interface NewSubscriptionData {
  creatorId: string;
  userId: string;
  plan: string;
  validUntil: string;
}

export interface NotificationData {
  notification: NotificationRow;
}

/** The typed event map both ends use as a generic. */
export interface ServerEvents {
  'post-purchased': PostPurchasedData;
  'subscription-updated': SubscriptionUpdatedData;
  notification: NotificationData;
  new_subscription: NewSubscriptionData;
}

export type ServerFrame = ControlFrame | EventFrame;
