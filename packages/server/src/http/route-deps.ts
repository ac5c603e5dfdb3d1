import type { Config } from '../config/config.ts';
import type { Database } from '../db/client.ts';
import type { OnCommitted } from '../db/outbox.ts';

/** What the `/v1` routes that write events get from the app. */
export interface RouteDeps {
  readonly db: Database;
  readonly config: Config;
  /** Takes the events a request committed, to publish them at once; without it they wake the outbox relays. */
  readonly onCommitted?: OnCommitted;
  /** Told of a commit of published events while it is in flight (the node holds the sockets' flush for it briefly). */
  readonly onCommitting?: (commit: Promise<void>) => void;
}
