/**
 * What the gateway does with each frame of an authenticated connection: subscribe, unsubscribe, ping and
 * in-band re-authentication. Frames of one connection are handled one at a time, in arrival order.
 */
import {
  channelKey,
  Codes,
  decodeClientFrame,
  type Channel,
  type ChannelEcho,
  type ChannelObject,
  type Code,
  type StreamPosition,
  type UserChannelObject,
} from '@fonana-realtime/protocol';
import type { Database } from '../db/client.ts';
import { unreadNotifications } from '../db/notifications.ts';
import { isGatewayError } from '../errors.ts';
import { errorSummary, type Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { authorizeChannel, type AccessLookups, type AccessResult } from './channel-access.ts';
import type { Connection } from './connection.ts';
import type { Hub } from './hub.ts';
import type { TokenLifetime } from './token-lifetime.ts';

export interface FrameHandlerDeps {
  readonly db: Database;
  readonly hub: Hub;
  readonly lookups: AccessLookups;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly maxChannelsPerSocket: number;
  /** Verifies a token for re-authentication; resolves to the user id and expiry or throws a GatewayError. */
  readonly authenticate: (token: string) => Promise<{ userId: string; expiresAt: number; issuedAt: number | null }>;
  readonly tokenLifetime: TokenLifetime;
}

export class FrameHandler {
  readonly #deps: FrameHandlerDeps;

  constructor(deps: FrameHandlerDeps) {
    this.#deps = deps;
  }

  /** Handles one raw text frame. Never throws: failures become `error` frames or a close. */
  async handle(conn: Connection, text: string): Promise<void> {
    const decoded = decodeClientFrame(text);
    if (!decoded.ok) {
      this.#deps.metrics.framesIn.inc({ type: 'invalid' });
      return this.#error(conn, decoded.code, decoded.message, decoded.channel);
    }
    const frame = decoded.frame;
    this.#deps.metrics.framesIn.inc({ type: frame.type });
    switch (frame.type) {
      case 'ping':
        return this.pong(conn);
      case 'subscribe':
        return this.#subscribe(conn, frame.channel, frame.channelInput, frame.since);
      case 'unsubscribe':
        return this.#unsubscribe(conn, frame.channel, frame.channelInput);
      case 'auth':
        return this.#reauthenticate(conn, frame.token);
    }
  }

  /** Answers a `ping`; also called ahead of the queue, so a pong never waits behind database work. */
  pong(conn: Connection): void {
    conn.sendFrame({ type: 'pong', data: { serverTime: Date.now() } });
  }

  async #subscribe(
    conn: Connection,
    channel: Channel,
    input: ChannelObject | UserChannelObject | string,
    since: StreamPosition | undefined,
  ): Promise<void> {
    const key = channelKey(channel);
    if (channel.type === 'user') {
      if (channel.id !== conn.userId) return this.#error(conn, 'GW_ERR_CHANNEL_FORBIDDEN', Codes.GW_ERR_CHANNEL_FORBIDDEN.reason, input);
      return this.#join(conn, key, channel, input, since);
    }
    // The own user channel does not count against the limit.
    const subscribed = conn.channels.size - (conn.channels.has(`user_${conn.userId}`) ? 1 : 0);
    if (!conn.channels.has(key) && subscribed >= this.#deps.maxChannelsPerSocket) {
      return this.#error(conn, 'GW_ERR_TOO_MANY_CHANNELS', Codes.GW_ERR_TOO_MANY_CHANNELS.reason, input);
    }
    let access: AccessResult = { ok: false, code: 'GW_ERR_SUBSCRIBE_FAILED' };
    try {
      // An entitlement event that arrives while the check runs may have been missed by it: check again (bounded).
      for (let attempt = 0; attempt < 3; attempt++) {
        const epoch = conn.entitlementEpoch;
        access = await authorizeChannel(this.#deps.db.orm, this.#deps.lookups, conn.userId!, channel);
        if (epoch === conn.entitlementEpoch) break;
      }
    } catch (err) {
      this.#deps.logger.error({ err, channelType: channel.type }, 'channel access check failed');
      return this.#error(conn, 'GW_ERR_SUBSCRIBE_FAILED', Codes.GW_ERR_SUBSCRIBE_FAILED.reason, input);
    }
    if (conn.state !== 'open') return;
    if (!access.ok) return this.#error(conn, access.code, Codes[access.code].reason, input);
    await this.#join(conn, key, channel, input, since);
  }

  /** Access is granted: joins the channel's stream, which sends `subscribed`, the replay, then live events. */
  async #join(
    conn: Connection,
    key: string,
    channel: Channel,
    input: ChannelObject | UserChannelObject | string,
    since: StreamPosition | undefined,
  ): Promise<void> {
    let joined: boolean;
    try {
      joined = await this.#deps.hub.join(conn, key, channel, since, (position) =>
        conn.sendFrame({ type: 'subscribed', data: { channel: input, channelKey: key, ...position } }),
      );
    } catch (err) {
      this.#deps.logger.error({ err, channelType: channel.type }, 'channel history could not be read');
      return this.#error(conn, 'GW_ERR_SUBSCRIBE_FAILED', Codes.GW_ERR_SUBSCRIBE_FAILED.reason, input);
    }
    if (joined && channel.type === 'notifications') await this.#sendUnread(conn);
  }

  #unsubscribe(conn: Connection, channel: Channel, input: ChannelObject | string): void {
    const key = channelKey(channel);
    this.#deps.hub.unsubscribe(conn, key);
    conn.sendFrame({ type: 'unsubscribed', data: { channel: input, channelKey: key } });
  }

  async #sendUnread(conn: Connection): Promise<void> {
    try {
      const unread = await unreadNotifications(this.#deps.db.orm, conn.userId!, 20);
      conn.sendFrame({ type: 'unread_notifications', data: unread });
    } catch (err) {
      this.#deps.logger.error({ err }, 'could not load unread notifications');
      this.#error(conn, 'GW_ERR_SUBSCRIBE_FAILED', 'could not load unread notifications');
    }
  }

  /** `auth` on an open connection refreshes its token (socket and subscriptions stay); it must name the same user. */
  async #reauthenticate(conn: Connection, token: string): Promise<void> {
    try {
      const verified = await this.#deps.authenticate(token);
      if (verified.userId !== conn.userId) return conn.close('GW_ERR_AUTH_USER_MISMATCH');
      if (conn.state !== 'open') return;
      conn.expiresAt = verified.expiresAt;
      conn.issuedAt = verified.issuedAt;
      this.#deps.tokenLifetime.start(conn);
      conn.sendFrame({ type: 'authenticated', data: { userId: verified.userId, expiresAt: verified.expiresAt } });
    } catch (err) {
      if (!isGatewayError(err)) {
        // Not the token's fault (the database is down): 1011, so the client keeps the token and reconnects, as on connect.
        this.#deps.logger.warn({ connectionId: conn.id, error: errorSummary(err) }, 'a re-authentication could not be checked');
        this.#deps.metrics.errors.inc({ code: 'GW_ERR_AUTH_UNAVAILABLE' });
        return conn.close('GW_ERR_AUTH_UNAVAILABLE');
      }
      // The token's fault: its own code (4001, or 4002 for a token issued before the user was disconnected).
      this.#deps.metrics.authFailures.inc({ code: err.code });
      conn.close(err.code);
    }
  }

  #error(conn: Connection, code: Code, message: string, channel?: ChannelObject | UserChannelObject | ChannelEcho): void {
    this.#deps.metrics.errors.inc({ code });
    conn.sendFrame({ type: 'error', data: { code, message, ...(channel === undefined ? {} : { channel }) } });
  }
}
