import { channelObject, parseChannel, type Channel, type ChannelObject } from './channels.ts';
import type { Code } from './codes.ts';
import type { StreamPosition, UserChannelObject } from './messages.ts';

/** A decoded client frame, or the error to answer it with. */
export type DecodeResult = { ok: true; frame: DecodedClientFrame } | DecodeFailure;

/**
 * Client frames after validation; channels are parsed. `channelInput` is the channel in the form the client sent it
 * (object or string), rebuilt from the parsed channel so a reply never echoes more than the channel itself.
 */
export type DecodedClientFrame =
  | { type: 'auth'; token: string; since?: StreamPosition }
  | { type: 'subscribe'; channel: Channel; channelInput: ChannelObject | UserChannelObject | string; since?: StreamPosition }
  | { type: 'unsubscribe'; channel: Channel; channelInput: ChannelObject | string }
  | { type: 'ping' };

/** A decode failure; `channel` is a bounded echo of the channel the client sent, when the frame had one. */
export type DecodeFailure = { ok: false; code: Code; message: string; channel?: ChannelEcho };

/** What an error frame may echo of a client's channel: a short string, or the primitive fields of an object, cut short. */
export type ChannelEcho = string | Record<string, string | number | boolean | null>;

const MAX_TOKEN_LENGTH = 8192;
/** Deepest nesting of arrays and objects a client frame may have; no valid frame needs more than 3. */
export const MAX_FRAME_DEPTH = 8;
const MAX_ECHO_CHARS = 160;
const MAX_ECHO_FIELDS = 8;
/** Longest epoch a client may send back; the server's epochs are 16 characters. */
export const MAX_EPOCH_LENGTH = 64;

/**
 * Decodes and validates one client text frame. Never throws: malformed JSON, unknown types and missing
 * fields all come back as `{ ok: false }` with the code to put in an `error` frame.
 */
export function decodeClientFrame(text: string): DecodeResult {
  if (nestingDepthExceeds(text, MAX_FRAME_DEPTH)) {
    return { ok: false, code: 'GW_ERR_BAD_FRAME', message: `frame is nested deeper than ${MAX_FRAME_DEPTH} levels` };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, code: 'GW_ERR_BAD_FRAME', message: 'frame is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, code: 'GW_ERR_BAD_FRAME', message: 'frame must be a JSON object' };
  }
  const frame = value as Record<string, unknown>;
  switch (frame.type) {
    case 'auth':
      if (typeof frame.token !== 'string' || frame.token.length === 0 || frame.token.length > MAX_TOKEN_LENGTH) {
        return { ok: false, code: 'GW_ERR_INVALID_FIELD', message: 'auth needs a string field "token"' };
      }
      if (frame.since === undefined) return { ok: true, frame: { type: 'auth', token: frame.token } };
      {
        const since = decodeSince(frame.since);
        if (!since) return { ok: false, code: 'GW_ERR_INVALID_FIELD', message: SINCE_MESSAGE };
        return { ok: true, frame: { type: 'auth', token: frame.token, since } };
      }
    case 'subscribe':
    case 'unsubscribe': {
      if (frame.channel === undefined) {
        return { ok: false, code: 'GW_ERR_INVALID_FIELD', message: `${frame.type} needs a field "channel"` };
      }
      // The user's own channel may be (re)subscribed, never unsubscribed; the gateway checks that it is the own one.
      const channel = parseChannel(frame.channel, frame.type === 'unsubscribe');
      if (!channel) {
        const echo = echoChannel(frame.channel);
        return {
          ok: false,
          code: 'GW_ERR_UNKNOWN_CHANNEL',
          message: 'unknown or malformed channel',
          ...(echo === undefined ? {} : { channel: echo }),
        };
      }
      if (frame.type === 'unsubscribe') {
        const channelInput = typeof frame.channel === 'string' ? frame.channel : (channelObject(channel) as ChannelObject);
        return { ok: true, frame: { type: 'unsubscribe', channel, channelInput } };
      }
      const channelInput = typeof frame.channel === 'string' ? frame.channel : channelObject(channel);
      if (frame.since === undefined) return { ok: true, frame: { type: 'subscribe', channel, channelInput } };
      const since = decodeSince(frame.since);
      if (!since) {
        return { ok: false, code: 'GW_ERR_INVALID_FIELD', message: SINCE_MESSAGE, channel: echoChannel(frame.channel)! };
      }
      return { ok: true, frame: { type: 'subscribe', channel, channelInput, since } };
    }
    case 'ping':
      return { ok: true, frame: { type: 'ping' } };
    case undefined:
      return { ok: false, code: 'GW_ERR_INVALID_FIELD', message: 'frame needs a string field "type"' };
    default:
      return { ok: false, code: 'GW_ERR_UNKNOWN_TYPE', message: 'unknown frame type' };
  }
}

const SINCE_MESSAGE = `"since" must be {"offset": <whole number >= 0>, "epoch": "<string of 1-${MAX_EPOCH_LENGTH} characters>"}`;

/** A valid `since` (offset a non-negative safe integer, epoch a short non-empty string), or null. */
export function decodeSince(input: unknown): StreamPosition | null {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return null;
  const { offset, epoch } = input as { offset?: unknown; epoch?: unknown };
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) return null;
  if (typeof epoch !== 'string' || epoch.length === 0 || epoch.length > MAX_EPOCH_LENGTH) return null;
  return { offset, epoch };
}

/**
 * True when arrays and objects in `text` nest deeper than `limit`. A linear scan that skips string contents, so a
 * hostile frame is refused before JSON.parse builds it and before anything walks it recursively.
 */
export function nestingDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

/**
 * A bounded copy of a channel the client sent, for error frames: a string cut to 160 characters, or an object's
 * first 8 fields whose values are primitives (strings cut the same way). Anything else is not echoed.
 */
export function echoChannel(input: unknown): ChannelEcho | undefined {
  if (typeof input === 'string') return input.slice(0, MAX_ECHO_CHARS);
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return undefined;
  const echo: Record<string, string | number | boolean | null> = {};
  let fields = 0;
  for (const [key, value] of Object.entries(input)) {
    if (fields >= MAX_ECHO_FIELDS) break;
    if (typeof value === 'string') echo[key.slice(0, MAX_ECHO_CHARS)] = value.slice(0, MAX_ECHO_CHARS);
    else if (typeof value === 'number' || typeof value === 'boolean' || value === null) echo[key.slice(0, MAX_ECHO_CHARS)] = value;
    else continue;
    fields++;
  }
  return echo;
}

/** Serialises a frame once; the same string is sent to every recipient. */
export function encodeFrame(frame: object): string {
  return JSON.stringify(frame);
}
