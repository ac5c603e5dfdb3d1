-- The gateway's own tables (schema.ts, `realtime` part), in the schema `realtime` so they never meet Prisma's migrations.
-- Constraint names follow drizzle-kit's defaults. Applied once by migrate.ts and recorded in realtime.migrations.

CREATE SCHEMA IF NOT EXISTS "realtime";

CREATE TABLE "realtime"."outbox" (
    "id" bigserial PRIMARY KEY NOT NULL,
    "event_id" text NOT NULL,
    "channel" text NOT NULL,
    "offset" bigint NOT NULL,
    "type" text NOT NULL,
    "payload" jsonb,
    "created_at" timestamp with time zone DEFAULT now() NOT NULL,
    "published_at" timestamp with time zone,
    CONSTRAINT "outbox_event_id_unique" UNIQUE ("event_id")
);

CREATE INDEX "outbox_channel_offset_idx" ON "realtime"."outbox" USING btree ("channel", "offset");

-- The relay's scan (`where published_at is null order by id`) touches only what is still to be published.
CREATE INDEX "outbox_unpublished_idx" ON "realtime"."outbox" USING btree ("id") WHERE "published_at" IS NULL;

CREATE TABLE "realtime"."channel_offsets" (
    "channel" text PRIMARY KEY NOT NULL,
    "last_offset" bigint NOT NULL
);

CREATE TABLE "realtime"."publish_keys" (
    "key" text PRIMARY KEY NOT NULL,
    "event_id" text NOT NULL,
    "created_at" timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE "realtime"."payment_confirmations" (
    "tx_signature" text PRIMARY KEY NOT NULL,
    "kind" text NOT NULL,
    "result" jsonb NOT NULL,
    "created_at" timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE "realtime"."subscription_notices" (
    "subscription_id" text NOT NULL,
    "valid_until" timestamp(3) NOT NULL,
    "kind" text NOT NULL,
    "created_at" timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT "subscription_notices_subscription_id_valid_until_kind_pk" PRIMARY KEY ("subscription_id", "valid_until", "kind")
);
