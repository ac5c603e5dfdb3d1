-- Relays split the outbox into OUTBOX_PARTITIONS partitions (outbox/relay.ts). A row's partition is
-- `channel_hash % OUTBOX_PARTITIONS`, so every row of one channel is in one partition, which one relay at a time
-- publishes: per-channel order holds while relays on several nodes publish in parallel. The hash is stored,
-- computed by PostgreSQL (existing rows get it here, every writer's rows on insert), and does not depend on the
-- partition count. The same hash in JavaScript: channelHash() in db/outbox.ts.
ALTER TABLE "realtime"."outbox"
    ADD COLUMN "channel_hash" integer GENERATED ALWAYS AS ((('x' || substr(md5("channel"), 1, 8))::bit(32)::int & 2147483647)) STORED;
