export { Codes, CLOSE_NORMAL, shouldReconnect, codeRow, type Code, type CodeRow } from './codes.ts';
export {
  ChannelTypes,
  channelKey,
  channelName,
  channelObject,
  isValidId,
  parseChannel,
  userChannel,
  type Channel,
  type ChannelObject,
  type ChannelType,
  type SubscribableChannelType,
} from './channels.ts';
export * from './messages.ts';
export {
  decodeClientFrame,
  decodeSince,
  echoChannel,
  encodeFrame,
  nestingDepthExceeds,
  MAX_FRAME_DEPTH,
  MAX_EPOCH_LENGTH,
  type ChannelEcho,
  type DecodeFailure,
  type DecodeResult,
  type DecodedClientFrame,
} from './codec.ts';
