/**
 * A bounded per-node cache of the recent events of each channel, filled from the events this node received in
 * order, so that most recoveries and gap fills need no database round trip.
 *
 * Each channel keeps one contiguous run of offsets (first … last, no holes). An event that does not continue the
 * run starts a new one, so the cache never answers with a hole in it: a range is served only when the run covers
 * all of it. Bounds: at most `eventsPerChannel` events per channel (the oldest drop first) and `maxBytes` of
 * encoded frames in all (the channel written least recently drops first).
 */
import type { BrokerMessage } from '../broker/broker.ts';

export interface EventCacheOptions {
  /** Events kept per channel. 0 turns the cache off. */
  readonly eventsPerChannel: number;
  /** Encoded bytes kept across all channels (frames counted as UTF-16 length, close enough for a bound). */
  readonly maxBytes: number;
}

interface Run {
  events: BrokerMessage[];
  /** Index of the oldest live event in `events` (dropping from the front is amortised by compaction). */
  start: number;
  bytes: number;
}

export class EventCache {
  readonly #options: EventCacheOptions;
  /** Map order is least recently written first. */
  readonly #runs = new Map<string, Run>();
  #bytes = 0;

  constructor(options: EventCacheOptions) {
    this.#options = options;
  }

  /** Bytes held now (for tests and metrics). */
  get bytes(): number {
    return this.#bytes;
  }

  /** hot path: records an event of `channel`; an offset at or below the run's last is ignored. */
  add(message: BrokerMessage): void {
    const { eventsPerChannel, maxBytes } = this.#options;
    if (eventsPerChannel === 0 || message.encoded.length > maxBytes) return;
    let run = this.#runs.get(message.channel);
    if (run) {
      const last = run.events[run.events.length - 1]!.offset;
      if (message.offset <= last) return;
      this.#runs.delete(message.channel); // re-inserted below: most recently written
      if (message.offset !== last + 1) {
        this.#bytes -= run.bytes;
        run = undefined;
      }
    }
    run ??= { events: [], start: 0, bytes: 0 };
    this.#runs.set(message.channel, run);
    run.events.push(message);
    run.bytes += message.encoded.length;
    this.#bytes += message.encoded.length;
    if (run.events.length - run.start > eventsPerChannel) this.#dropOldest(run);
    while (this.#bytes > maxBytes) this.#evictLeastRecent();
  }

  /**
   * The events with `after < offset <= upTo` when the cached run holds every one of them, else null.
   * `after === upTo` is an empty range, always answered.
   */
  range(channel: string, after: number, upTo: number): BrokerMessage[] | null {
    if (upTo <= after) return [];
    const run = this.#runs.get(channel);
    if (!run) return null;
    const first = run.events[run.start]!.offset;
    const last = run.events[run.events.length - 1]!.offset;
    if (first > after + 1 || last < upTo) return null;
    const from = run.start + (after + 1 - first);
    return run.events.slice(from, from + (upTo - after));
  }

  #dropOldest(run: Run): void {
    const dropped = run.events[run.start]!;
    run.events[run.start] = undefined as unknown as BrokerMessage;
    run.start++;
    run.bytes -= dropped.encoded.length;
    this.#bytes -= dropped.encoded.length;
    if (run.start > 64 && run.start * 2 > run.events.length) {
      run.events = run.events.slice(run.start);
      run.start = 0;
    }
  }

  #evictLeastRecent(): void {
    const [channel, run] = this.#runs.entries().next().value as [string, Run];
    this.#runs.delete(channel);
    this.#bytes -= run.bytes;
  }
}
