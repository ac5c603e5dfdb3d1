/** Typed events: the gateway's own from the protocol package, plus whatever map the platform adds for its own types. */
import type { EventFrame, ServerEvents } from '@fonana-realtime/protocol';

/** Event type → the shape of its `data`. */
export type EventMap = object;

/** The gateway's events merged with the platform's map `Custom`. */
export type Events<Custom extends EventMap = {}> = ServerEvents & Custom;

/** An event frame whose `data` is typed by its `type`. */
export type TypedEvent<E extends EventMap> = { [T in keyof E & string]: EventFrame<T, E[T]> }[keyof E & string];
