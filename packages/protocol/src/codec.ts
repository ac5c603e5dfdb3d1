import { parseChannel, type Channel } from './channels.ts';
import type { Code } from './codes.ts';

/** A decoded client frame, or the error to answer it with. */
export type DecodeResult =
  | { ok: true; frame: DecodedClientFrame }
  | { ok: false; code: Code; message: string };

/** Client frames after validation; channels are parsed. `channelInput` keeps what the client sent, for replies. */
export type DecodedClientFrame =
  | { type: 'auth'; token: string }
  | { type: 'subscribe' | 'unsubscribe'; channel: Channel; channelInput: unknown }
  | { type: 'ping' };

const MAX_TOKEN_LENGTH = 8192;

/**
 * Decodes and validates one client text frame. Never throws: malformed JSON, unknown types and missing
 * fields all come back as `{ ok: false }` with the code to put in an `error` frame.
 */
export function decodeClientFrame(text: string): DecodeResult {
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
      return { ok: true, frame: { type: 'auth', token: frame.token } };
    case 'subscribe':
    case 'unsubscribe': {
      if (frame.channel === undefined) {
        return { ok: false, code: 'GW_ERR_INVALID_FIELD', message: `${frame.type} needs a field "channel"` };
      }
      const channel = parseChannel(frame.channel);
      if (!channel) return { ok: false, code: 'GW_ERR_UNKNOWN_CHANNEL', message: 'unknown or malformed channel' };
      return { ok: true, frame: { type: frame.type, channel, channelInput: frame.channel } };
    }
    case 'ping':
      return { ok: true, frame: { type: 'ping' } };
    case undefined:
      return { ok: false, code: 'GW_ERR_INVALID_FIELD', message: 'frame needs a string field "type"' };
    default:
      return { ok: false, code: 'GW_ERR_UNKNOWN_TYPE', message: 'unknown frame type' };
  }
}

/** Serialises a frame once; the same string is sent to every recipient. */
export function encodeFrame(frame: object): string {
  return JSON.stringify(frame);
}
