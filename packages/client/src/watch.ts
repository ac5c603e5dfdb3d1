/**
 * Posts as the reader may see them, kept current: loaded from `GET /v1/posts/:id` (or a creator's list), unlocked in
 * place by `post-purchased` (which carries the content), and reloaded when `subscription-updated` lists the post among
 * those unlocked or locked now, or when the user's channel could not replay what was missed while away. A load made
 * before the first `connected` is made again then: the user's channel starts at its subscription, so an event between
 * that load and it would be lost.
 */
import type { PostPurchasedData, SubscriptionUpdatedData } from '@fonana-realtime/protocol';
import { Emitter } from './emitter.ts';
import type { RealtimeClient } from './client.ts';

/** Why a post is locked, as the gateway says it (docs/http-api.md). */
export interface PostLock {
  reason: 'tier' | 'purchase' | 'subscription';
  requiredTier: string | null;
  price: number | null;
  currency: string | null;
}

/** A post with access applied: `content`, `mediaUrl` and `thumbnail` only when `access.hasAccess`. */
export interface PostView {
  id: string;
  creatorId: string;
  title: string;
  type: string;
  category?: string | null;
  isLocked: boolean;
  isPremium: boolean;
  isSellable?: boolean;
  price: number | null;
  currency: string | null;
  minSubscriptionTier: string | null;
  likesCount?: number;
  commentsCount?: number;
  createdAt: string;
  updatedAt?: string;
  access: { hasAccess: boolean; via?: string };
  lock?: PostLock;
  content?: string;
  mediaUrl?: string | null;
  thumbnail?: string | null;
}

export type WatchStatus = 'loading' | 'ready' | 'error';

interface WatchEvents {
  change: void;
}

/** The shared machinery of a watched set of posts. */
abstract class PostsWatchBase {
  protected posts: PostView[] = [];
  #status: WatchStatus = 'loading';
  #error: Error | null = null;
  #version = 0; // bumps on every change applied from an event, so an older fetch does not overwrite it
  #loading: Promise<void> | null = null;
  #again = false;
  // A load made before the user's channel existed saw nothing of events since: the channel starts after it.
  #loadedBeforeUserChannel = false;
  readonly #emitter = new Emitter<WatchEvents>();
  readonly #off: (() => void)[] = [];
  protected readonly client: RealtimeClient<any>;

  constructor(client: RealtimeClient<any>) {
    this.client = client;
    this.#off.push(
      client.onEvent('post-purchased', (data: PostPurchasedData) => this.#onPurchased(data)),
      client.onEvent('subscription-updated', (data: SubscriptionUpdatedData) => this.#onSubscriptionUpdated(data)),
      client.on('recovery', ({ channel }) => {
        if (channel === client.user?.key) void this.refresh();
      }),
      client.on('connected', () => {
        if (this.#loadedBeforeUserChannel) void this.refresh();
      }),
    );
  }

  get status(): WatchStatus {
    return this.#status;
  }

  get error(): Error | null {
    return this.#error;
  }

  /** Called after every change of the posts, the status or the error. */
  on(event: 'change', listener: () => void): () => void {
    return this.#emitter.on(event, listener);
  }

  /** Loads again from the gateway (one request at a time; a call during a load loads once more after it). */
  refresh(): Promise<void> {
    if (this.#loading) {
      this.#again = true;
      return this.#loading;
    }
    this.#loading = (async () => {
      do {
        this.#again = false;
        const version = this.#version;
        this.#loadedBeforeUserChannel = this.client.user === null;
        try {
          const posts = await this.load();
          if (version !== this.#version) {
            this.#again = true; // an event changed things while loading: this answer may be older than it
            continue;
          }
          this.posts = posts;
          this.#status = 'ready';
          this.#error = null;
        } catch (err) {
          this.#status = 'error';
          this.#error = err as Error;
        }
        this.#emitter.emit('change', undefined);
      } while (this.#again);
      this.#loading = null;
    })();
    return this.#loading;
  }

  /** Stops following events. */
  close(): void {
    for (const off of this.#off.splice(0)) off();
    this.#emitter.clear();
  }

  protected abstract load(): Promise<PostView[]>;

  #onPurchased(data: PostPurchasedData): void {
    const i = this.posts.findIndex((p) => p.id === data.postId);
    if (i === -1) return;
    const { lock: _lock, ...post } = this.posts[i]!;
    const unlocked: PostView = { ...post, ...data.post, access: { hasAccess: true, via: 'purchase' } };
    this.posts = this.posts.map((p, j) => (j === i ? unlocked : p));
    this.#changed();
  }

  #onSubscriptionUpdated(data: SubscriptionUpdatedData): void {
    let reload = false;
    this.posts = this.posts.map((post) => {
      if (post.creatorId !== data.creatorId) return post;
      if (!post.access.hasAccess && data.unlockedPostIds.includes(post.id)) reload = true; // the content must be fetched
      if (post.access.hasAccess && data.lockedPostIds.includes(post.id)) {
        reload = true; // for the exact lock reason
        const { content: _c, mediaUrl: _m, thumbnail: _t, ...locked } = post;
        return { ...locked, access: { hasAccess: false } };
      }
      return post;
    });
    this.#changed();
    if (reload) void this.refresh();
  }

  #changed(): void {
    this.#version++;
    this.#emitter.emit('change', undefined);
  }
}

/** One post as the reader may see it. */
export class PostWatch extends PostsWatchBase {
  readonly postId: string;

  constructor(client: RealtimeClient<any>, postId: string) {
    super(client);
    this.postId = postId;
    void this.refresh();
  }

  /** The post, or null while loading or after an error. */
  get post(): PostView | null {
    return this.posts[0] ?? null;
  }

  protected async load(): Promise<PostView[]> {
    return [await this.client.getJson<PostView>(`/v1/posts/${encodeURIComponent(this.postId)}`)];
  }
}

/** A creator's newest posts as the reader may see them. */
export class CreatorWatch extends PostsWatchBase {
  readonly creatorId: string;
  readonly #limit: number;

  constructor(client: RealtimeClient<any>, creatorId: string, limit: number) {
    super(client);
    this.creatorId = creatorId;
    this.#limit = limit;
    void this.refresh();
  }

  /** The posts, newest first (empty while loading). */
  get list(): readonly PostView[] {
    return this.posts;
  }

  protected async load(): Promise<PostView[]> {
    const page = await this.client.getJson<{ posts: PostView[] }>(
      `/v1/creators/${encodeURIComponent(this.creatorId)}/posts?limit=${this.#limit}`,
    );
    return page.posts;
  }
}

export function watchPost(client: RealtimeClient<any>, postId: string): PostWatch {
  return new PostWatch(client, postId);
}

export function watchCreator(client: RealtimeClient<any>, creatorId: string, options: { limit?: number }): CreatorWatch {
  return new CreatorWatch(client, creatorId, Math.min(100, Math.max(1, options.limit ?? 50)));
}
