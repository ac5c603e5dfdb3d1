-- Each channel's history has an epoch beside its offset counter: a random value made when the counter row is created
-- (so the insert in outbox.ts needs no change), and a new one only if the channel's history is ever reset. A client's
-- `since` names the epoch it read its offsets under; a different epoch means those offsets mean nothing here.
-- The default is volatile, so each existing row gets its own value.
ALTER TABLE "realtime"."channel_offsets"
    ADD COLUMN "epoch" text NOT NULL DEFAULT substr(md5(random()::text || clock_timestamp()::text), 1, 16);
