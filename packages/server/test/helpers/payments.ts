/** Signed payment confirmations against a test gateway, and a snapshot of every table a confirmation writes. */
import { sql } from 'drizzle-orm';
import { queryRows, type Database } from '../../src/db/client.ts';
import { signPayload } from '../../src/http/signature.ts';

export const TEST_WEBHOOK_SECRET = 'test-webhook-secret-0123456789';

export async function confirm(
  httpUrl: string,
  body: unknown,
  options: { secret?: string; timestamp?: number; signature?: string | null } = {},
): Promise<{ status: number; body: any; replayed: boolean }> {
  const raw = JSON.stringify(body);
  const signature =
    options.signature === undefined ? signPayload(options.secret ?? TEST_WEBHOOK_SECRET, raw, options.timestamp) : options.signature;
  const res = await fetch(`${httpUrl}/v1/payments/confirmed`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signature === null ? {} : { 'x-signature': signature }) },
    body: raw,
  });
  return { status: res.status, body: await res.json(), replayed: res.headers.get('idempotent-replay') === 'true' };
}

const TABLES = [
  'public.transactions',
  'public.post_purchases',
  'public.subscriptions',
  'public.notifications',
  'realtime.outbox',
  'realtime.payment_confirmations',
];

/** Every row of the tables a confirmation may write, as JSON text: equal snapshots mean nothing was written. */
export async function snapshot(db: Database): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of TABLES) {
    const rows = await queryRows<{ j: unknown }>(db.orm, sql.raw(`select coalesce(json_agg(t order by t::text), '[]') as j from ${table} t`));
    out[table] = JSON.stringify(rows[0]?.j);
  }
  return out;
}
