/**
 * Channel names. A channel has a canonical string `<type>:<id>` and a wire key `<type>_<id>`; the key is the one
 * the reference server used (`notifications_<id>`, `feed_<id>`, `creator_<id>`, `post_<id>`), so reference clients
 * keep working. Event frames carry the key in their `channel` field.
 *
 * `user` channels are implicit: every socket of a user receives its own from `connected` on. A socket may subscribe
 * to its own user channel again (with `since`, to recover it, or after a `resync`); it cannot unsubscribe from it.
 */
export const ChannelTypes = ['notifications', 'feed', 'creator', 'post', 'user'] as const;
export type ChannelType = (typeof ChannelTypes)[number];
/** Channel types a client may subscribe to and unsubscribe from (`user`: only its own, and only subscribe). */
export type SubscribableChannelType = Exclude<ChannelType, 'user'>;

/** A parsed channel: its type and the id of the user, creator or post it belongs to. */
export interface Channel {
  readonly type: ChannelType;
  readonly id: string;
}

/** The object forms clients send in `subscribe` / `unsubscribe` (the reference client's shapes). */
export type ChannelObject =
  | { type: 'notifications'; userId: string }
  | { type: 'feed'; userId: string }
  | { type: 'creator'; id: string }
  | { type: 'post'; postId: string };

/** Ids are opaque: 1 to 128 characters, no whitespace, no control characters, no `:`. */
const ID_PATTERN = /^[^\s:\u0000-\u001f\u007f]{1,128}$/;
const SUBSCRIBABLE: ReadonlySet<string> = new Set(['notifications', 'feed', 'creator', 'post']);
const ALL_TYPES: ReadonlySet<string> = new Set(ChannelTypes);
const ID_FIELD: Record<SubscribableChannelType, string> = {
  notifications: 'userId',
  feed: 'userId',
  creator: 'id',
  post: 'postId',
};

/** True when `id` is a well-formed id. */
export function isValidId(id: unknown): id is string {
  return typeof id === 'string' && ID_PATTERN.test(id);
}

/** The wire key of a channel: `post_abc`. */
export function channelKey(channel: Channel): string {
  return `${channel.type}_${channel.id}`;
}

/** The canonical name of a channel: `post:abc`. */
export function channelName(channel: Channel): string {
  return `${channel.type}:${channel.id}`;
}

/** The implicit channel of one user: all of the user's sockets receive it. */
export function userChannel(userId: string): Channel {
  return { type: 'user', id: userId };
}

/**
 * Parses a channel a client sent: an object form, `<type>:<id>`, or a wire key `<type>_<id>`.
 * With `subscribableOnly` (the default) the `user` type is refused.
 * Returns null for anything that is not a well-formed channel; unknown types are never guessed.
 */
export function parseChannel(input: unknown, subscribableOnly = true): Channel | null {
  const allowed = subscribableOnly ? SUBSCRIBABLE : ALL_TYPES;
  if (typeof input === 'string') return parseChannelString(input, allowed);
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return null;
  const type = (input as { type?: unknown }).type;
  if (typeof type !== 'string' || !allowed.has(type)) return null;
  const field = type === 'user' ? 'userId' : ID_FIELD[type as SubscribableChannelType];
  const id = (input as Record<string, unknown>)[field];
  return isValidId(id) ? { type: type as ChannelType, id } : null;
}

function parseChannelString(text: string, allowed: ReadonlySet<string>): Channel | null {
  const match = /^([a-z]+)[:_](.+)$/.exec(text);
  if (!match) return null;
  const [, type, id] = match as unknown as [string, string, string];
  if (!allowed.has(type) || !isValidId(id)) return null;
  return { type: type as ChannelType, id };
}

/** The object form of a channel, as the reference client sends it. */
export function channelObject(channel: Channel): ChannelObject | { type: 'user'; userId: string } {
  switch (channel.type) {
    case 'notifications':
    case 'feed':
    case 'user':
      return { type: channel.type, userId: channel.id };
    case 'creator':
      return { type: 'creator', id: channel.id };
    case 'post':
      return { type: 'post', postId: channel.id };
  }
}
