/**
 * What a viewer is shown of a post. Entitled viewers get the content; everyone else gets no `content`,
 * `mediaUrl` or `thumbnail` at all (the reference sent the media of locked posts to everyone), but a `lock`
 * saying what would unlock it.
 */
import type { UnlockedPost } from '@fonana-realtime/protocol';
import { decidePostAccess, type PostAccessInput, type PostLock, type ViewerFacts } from './entitlement.ts';

export interface ViewablePost extends PostAccessInput {
  id: string;
  title: string;
  content: string;
  type: string;
  category: string | null;
  mediaUrl: string | null;
  thumbnail: string | null;
  isSellable: boolean;
  likesCount: number;
  commentsCount: number;
  createdAt: Date;
  updatedAt: Date;
}

interface PostSummary {
  id: string;
  creatorId: string;
  title: string;
  type: string;
  category: string | null;
  isLocked: boolean;
  isPremium: boolean;
  isSellable: boolean;
  price: number | null;
  currency: string;
  minSubscriptionTier: string | null;
  likesCount: number;
  commentsCount: number;
  createdAt: string;
  updatedAt: string;
}

export type PostView =
  | (PostSummary & { access: { hasAccess: true; via: string }; content: string; mediaUrl: string | null; thumbnail: string | null })
  | (PostSummary & { access: { hasAccess: false }; lock: PostLock });

/** The post as `viewer` may see it at `now`. */
export function viewPost(post: ViewablePost, viewer: ViewerFacts, now: Date): PostView {
  const summary: PostSummary = {
    id: post.id,
    creatorId: post.creatorId,
    title: post.title,
    type: post.type,
    category: post.category,
    isLocked: post.isLocked,
    isPremium: post.isPremium,
    isSellable: post.isSellable,
    price: post.price,
    currency: post.currency,
    minSubscriptionTier: post.minSubscriptionTier,
    likesCount: post.likesCount,
    commentsCount: post.commentsCount,
    createdAt: post.createdAt.toISOString(),
    updatedAt: post.updatedAt.toISOString(),
  };
  const decision = decidePostAccess(post, viewer, now);
  if (!decision.allowed) return { ...summary, access: { hasAccess: false }, lock: decision.lock };
  return {
    ...summary,
    access: { hasAccess: true, via: decision.via },
    content: post.content,
    mediaUrl: post.mediaUrl,
    thumbnail: post.thumbnail,
  };
}

/** The unlocked post carried by `post-purchased`, so a client can replace it in place. */
export function unlockedPost(post: Pick<ViewablePost, 'id' | 'creatorId' | 'title' | 'content' | 'type' | 'mediaUrl' | 'thumbnail'>): UnlockedPost {
  return {
    id: post.id,
    creatorId: post.creatorId,
    title: post.title,
    content: post.content,
    type: post.type,
    mediaUrl: post.mediaUrl,
    thumbnail: post.thumbnail,
  };
}
