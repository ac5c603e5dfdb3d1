import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { openDatabase } from '../src/db/client.ts';
import { createPostgresTestDatabase } from './helpers/database.ts';

test('a session the server ends inside a transaction fails that transaction only; the process and the pool go on', async (t) => {
  const { url } = await createPostgresTestDatabase(t, { migrate: false });
  const errors: string[] = [];
  const db = await openDatabase({
    url,
    onError: (err) => errors.push(err.message),
    timeouts: { connectTimeoutMs: 3000, statementTimeoutMs: 5000, idleInTransactionTimeoutMs: 200 },
  });
  t.after(() => db.close());
  // Without a listener on checked-out clients, the 'error' the server's termination raises would crash the process.
  await assert.rejects(
    db.orm.transaction(async (tx) => {
      await tx.execute(sql`select 1`);
      await new Promise((resolve) => setTimeout(resolve, 1000)); // idle in transaction past the timeout
      await tx.execute(sql`select 1`);
    }),
  );
  assert.ok(errors.some((m) => /idle-in-transaction/.test(m)), `the termination was reported: ${JSON.stringify(errors)}`);
  const result = (await db.orm.execute(sql`select 2 as n`)) as unknown as { rows: { n: number }[] };
  assert.equal(result.rows[0]!.n, 2, 'the pool serves the next query');
});
