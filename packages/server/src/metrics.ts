/**
 * Prometheus metrics, one registry per node (so tests can run several nodes in one process).
 * Served by metrics-server.ts on METRICS_HOST:METRICS_PORT, 127.0.0.1 by default: not public.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly connections = new Gauge({ name: 'realtime_connections', help: 'Open authenticated WebSocket connections', registers: [this.registry] });
  readonly subscriptions = new Gauge({
    name: 'realtime_subscriptions',
    help: 'Active channel subscriptions by channel type',
    labelNames: ['channel_type'] as const,
    registers: [this.registry],
  });
  readonly framesIn = new Counter({
    name: 'realtime_frames_in_total',
    help: 'Client frames received, by frame type ("invalid" for frames that failed to decode)',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly framesOut = new Counter({ name: 'realtime_frames_out_total', help: 'Frames sent to clients', registers: [this.registry] });
  readonly eventsDelivered = new Counter({
    name: 'realtime_events_delivered_total',
    help: 'Event frames delivered to sockets',
    registers: [this.registry],
  });
  readonly brokerMessagesReceived = new Counter({
    name: 'realtime_broker_messages_received_total',
    help: 'Event messages this node received from the broker (only channels it has local subscribers for)',
    registers: [this.registry],
  });
  readonly authFailures = new Counter({
    name: 'realtime_auth_failures_total',
    help: 'Rejected authentications by code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'realtime_errors_total',
    help: 'Errors answered or raised, by code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly addressRefusals = new Counter({
    name: 'realtime_address_refusals_total',
    help: 'Connections and upgrade requests refused by a per-address limit, by code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly upgradeRefusals = new Counter({
    name: 'realtime_upgrade_refusals_total',
    help: 'Upgrade requests refused (any reason: path, origin, draining, full, per-address), by HTTP status',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly outboxPublished = new Counter({
    name: 'realtime_outbox_published_total',
    help: 'Outbox events published to the broker by this node',
    registers: [this.registry],
  });
  readonly outboxLag = new Histogram({
    name: 'realtime_outbox_lag_seconds',
    help: 'Time from outbox commit to broker publish (first event of each batch)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly historyQueries = new Counter({
    name: 'realtime_history_queries_total',
    help: 'Database queries made for history: channel heads and event ranges (recoveries and gap fills)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly postLookupQueries = new Counter({
    name: 'realtime_post_lookup_queries_total',
    help: 'Database queries for the posts of `post` subscriptions (the lookups of one event-loop turn share one; remembered posts need none)',
    registers: [this.registry],
  });
  readonly historyReads = new Counter({
    name: 'realtime_history_reads_total',
    help: 'Event ranges read from history, by where they were found (cache or database)',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });
  readonly recoveries = new Counter({
    name: 'realtime_recoveries_total',
    help: 'Subscriptions with since, by outcome (recovered or not_recovered)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly gapFills = new Counter({
    name: 'realtime_gap_fills_total',
    help: 'Gaps in a channel this node filled from history, by outcome (filled or resync)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  /** Read at scrape time from `countPendingOutbox`, once that is set. */
  readonly outboxPending = new Gauge({
    name: 'realtime_outbox_pending',
    help: 'Committed outbox rows not yet published',
    registers: [this.registry],
    // Every worker of a machine counts the same table: their sum would count each row once per worker.
    aggregator: 'max',
    collect: async () => {
      if (this.countPendingOutbox) this.outboxPending.set(await this.countPendingOutbox());
    },
  });
  countPendingOutbox: (() => Promise<number>) | null = null;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
