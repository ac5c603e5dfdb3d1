/**
 * `@fonana-realtime/client/react`: React bindings (React ≥ 18 is an optional peer dependency).
 * `<RealtimeProvider client>` puts a client in context; the hooks follow it and clean up after themselves.
 */
import { createContext, createElement, useContext, useEffect, useRef, useState, useSyncExternalStore, type ReactNode } from 'react';
import type { EventFrame, NotificationRow } from '@fonana-realtime/protocol';
import type { ConnectionState, RealtimeClient } from './client.ts';
import type { Events } from './events.ts';
import type { PostView, WatchStatus } from './watch.ts';

const ClientContext = createContext<RealtimeClient<any> | null>(null);

export function RealtimeProvider(props: { client: RealtimeClient<any>; children?: ReactNode }) {
  return createElement(ClientContext.Provider, { value: props.client }, props.children);
}

/** The client of the nearest `<RealtimeProvider>`. */
export function useRealtimeClient<Custom extends object = {}>(): RealtimeClient<Custom> {
  const client = useContext(ClientContext);
  if (!client) throw new Error('useRealtimeClient: no <RealtimeProvider client={…}> above this component');
  return client as RealtimeClient<Custom>;
}

/** `connecting | connected | reconnecting | offline | closed`, re-rendering on every change. */
export function useConnectionState(): ConnectionState {
  const client = useRealtimeClient();
  return useSyncExternalStore(
    (onChange) => client.on('state', onChange),
    () => client.state,
    () => client.state,
  );
}

/** Calls `handler` for every event of `type` (each id once); the latest handler is used without resubscribing. */
export function useEvent<Custom extends object = {}, T extends keyof Events<Custom> & string = keyof Events<Custom> & string>(
  type: T,
  handler: (data: Events<Custom>[T], frame: EventFrame<T, Events<Custom>[T]>) => void,
): void {
  const client = useRealtimeClient<Custom>();
  const latest = useRef(handler);
  useEffect(() => {
    latest.current = handler;
  });
  useEffect(() => client.onEvent(type, (data, frame) => latest.current(data, frame)), [client, type]);
}

/** The post as this user may see it: locked with its `lock`, or unlocked with its content, live. */
export function usePost(postId: string): { post: PostView | null; status: WatchStatus; error: Error | null } {
  const client = useRealtimeClient();
  const [snapshot, setSnapshot] = useState<{ post: PostView | null; status: WatchStatus; error: Error | null }>({
    post: null,
    status: 'loading',
    error: null,
  });
  useEffect(() => {
    const watch = client.watchPost(postId);
    const update = () => setSnapshot({ post: watch.post, status: watch.status, error: watch.error });
    const off = watch.on('change', update);
    return () => {
      off();
      watch.close();
    };
  }, [client, postId]);
  return snapshot;
}

/**
 * The user's unread notifications (the newest first) and their count: from the gateway's `unread_notifications`
 * (sent on subscribing to one's own notifications, again after each reconnect), counted up by `notification` events.
 */
export function useUnreadNotifications(): { count: number; notifications: NotificationRow[] } {
  const client = useRealtimeClient();
  const userId = useSyncExternalStore(
    (onChange) => client.on('connected', onChange),
    () => client.userId,
    () => client.userId,
  );
  const [state, setState] = useState<{ count: number; notifications: NotificationRow[] }>(() => client.unread ?? { count: 0, notifications: [] });
  useEffect(() => {
    if (!userId) return;
    const offUnread = client.on('unread', (unread) => setState(unread));
    const offEvent = client.onEvent('notification', ({ notification }) =>
      setState((s) =>
        notification.isRead || s.notifications.some((n) => n.id === notification.id)
          ? s
          : { count: s.count + 1, notifications: [notification, ...s.notifications] },
      ),
    );
    // Kept subscribed on unmount: other components may share the channel, and it costs the server nothing.
    client.subscribe(`notifications:${userId}`);
    if (client.unread) setState(client.unread);
    return () => {
      offUnread();
      offEvent();
    };
  }, [client, userId]);
  return state;
}
