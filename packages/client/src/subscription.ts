/**
 * One channel the client keeps subscribed: its state, its position (`offset` within `epoch`) for recovery after a
 * reconnect, and its listeners. The client owns the wire; a Subscription only records what the wire said.
 */
import { channelKey, channelName, type Channel, type EventFrame } from '@fonana-realtime/protocol';
import { Emitter } from './emitter.ts';
import type { EventMap, TypedEvent } from './events.ts';

/** Where a channel's history stands for this client: the last offset seen, and the epoch it belongs to. */
export interface Cursor {
  offset: number;
  epoch: string;
}

export type SubscriptionState = 'subscribing' | 'subscribed' | 'unsubscribed' | 'failed';

/** Emitted when the events missed while away could not be replayed: the app should refetch what it shows. */
export interface RecoveryLost {
  channel: string;
  recovered: false;
}

export interface SubscriptionEvents<E extends EventMap> {
  event: TypedEvent<E>;
  state: SubscriptionState;
  /** Missed events could not be replayed (history gone, epoch changed, or a server without history). */
  recovery: RecoveryLost;
  /** The server ended it (`access_revoked`) or refused it (an error code): it is not resubscribed. */
  ended: { reason: string; message?: string };
}

export class Subscription<E extends EventMap = EventMap> {
  readonly channel: Channel;
  /** Wire key, e.g. `post_abc`: the `channel` field of its events. */
  readonly key: string;
  /** Canonical name sent in `subscribe`, e.g. `post:abc`. */
  readonly name: string;
  #state: SubscriptionState = 'subscribing';
  /** Position in the channel; null until the server told one. */
  cursor: Cursor | null = null;
  /** Whether a `subscribed` ever arrived: a later one without recovery means events may have been missed. */
  everSubscribed = false;
  /** Whether the pending `subscribe` carried `since`. */
  sentSince = false;
  readonly #emitter = new Emitter<SubscriptionEvents<E>>();
  readonly #release: (sub: Subscription<E>) => void;

  /** @internal made by the client */
  constructor(channel: Channel, release: (sub: Subscription<E>) => void) {
    this.channel = channel;
    this.key = channelKey(channel);
    this.name = channelName(channel);
    this.#release = release;
  }

  get state(): SubscriptionState {
    return this.#state;
  }

  on<K extends keyof SubscriptionEvents<E>>(event: K, listener: (value: SubscriptionEvents<E>[K]) => void): () => void {
    return this.#emitter.on(event, listener);
  }

  /** Listens to one event type of this channel, with its typed `data`. */
  onEvent<T extends keyof E & string>(type: T, listener: (data: E[T], frame: EventFrame<T, E[T]>) => void): () => void {
    return this.#emitter.on('event', (frame) => {
      if (frame.type === type) listener(frame.data as E[T], frame as EventFrame<T, E[T]>);
    });
  }

  /** Stops the subscription: the client sends `unsubscribe` and no longer resubscribes it. */
  unsubscribe(): void {
    this.#release(this);
  }

  /** @internal */
  setState(state: SubscriptionState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#emitter.emit('state', state);
  }

  /** @internal */
  emit<K extends keyof SubscriptionEvents<E>>(event: K, value: SubscriptionEvents<E>[K]): void {
    this.#emitter.emit(event, value);
  }

  /** @internal moves the cursor forward with a delivered event of this channel. */
  advance(offset: number): void {
    if (this.cursor && offset > this.cursor.offset) this.cursor.offset = offset;
  }
}
