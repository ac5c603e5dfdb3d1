-- Per-user "not before" time of tokens (POST /v1/users/:id/disconnect): a token whose `iat` is earlier is refused.
CREATE TABLE "realtime"."token_not_before" (
    "user_id" text PRIMARY KEY NOT NULL,
    "not_before" timestamp with time zone NOT NULL,
    "updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
